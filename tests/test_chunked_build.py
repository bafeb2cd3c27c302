# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
import threading
from contextlib import contextmanager
from unittest.mock import patch

from odoo import SUPERUSER_ID, api
from odoo.sql_db import db_connect
from odoo.tests import tagged
from odoo.tools import SQL

from odoo.addons.mass_mailing_sms.models import mailing_sms_campaign
from odoo.addons.mass_mailing_sms.models.mailing_sms_campaign import PARAM_BUILD_CHUNK
from odoo.addons.mass_mailing_sms.tests.committed import CommittedCampaignCase
from odoo.addons.mass_mailing_sms.tests.common import MassSMSCommon

WAIT_SECONDS = 60  # bound of a queue run on its own connection


@contextmanager
def patched_batches(size, send_batch):
    """Builds in batches of ``size`` recipients, each made by ``send_batch``."""
    with (
        patch.object(mailing_sms_campaign, "SMS_BATCH_SIZE", size),
        patch.object(mailing_sms_campaign.MailingSmsCampaign, "_sms_send_batch", send_batch),
    ):
        yield


@tagged("post_install", "-at_install", "mass_mailing_sms")
class TestChunkedBuild(MassSMSCommon):
    """Issue 28: the mailing queue builds a campaign chunk by chunk, each call bounded; the
    SMS queue starts on the first chunk; the mailing stays sending until every chunk is
    built and sent."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # created first, with the lowest id; joins the list during a build
        cls.late_contact = cls.env["mailing.contact"].create(
            {"name": "Late", "mobile": "+32470111222"}
        )
        cls.contacts = cls.env["mailing.contact"].create(
            [{"name": f"Chunk {idx}", "mobile": f"+32470000{idx:03d}"} for idx in range(7)]
        )
        cls.mailing_list = cls.env["mailing.list"].create(
            {"name": "Chunks", "contact_ids": [(6, 0, cls.contacts.ids)]}
        )
        cls.mailing = cls._create_sms_mailing(
            model="mailing.list", contact_list_ids=[(6, 0, cls.mailing_list.ids)]
        )
        cls.env["ir.config_parameter"].sudo().set_param(PARAM_BUILD_CHUNK[0], 3)

    def _run_mailing_queue(self):
        """One call of the mailing queue as Odoo's cron makes it; returns its progress."""
        cron = self.env.ref("mass_mailing.ir_cron_mass_mailing_queue")
        progress = self.env["ir.cron.progress"].create({"cron_id": cron.id})
        self.env["mailing.mailing"].with_context(
            ir_cron_progress_id=progress.id
        )._process_mass_mailing_queue()
        return progress

    def _triggers(self, xmlid):
        cron = self.env.ref(xmlid)
        return self.env["ir.cron.trigger"].search_count([("cron_id", "=", cron.id)])

    def test_chunks_until_every_recipient_is_built(self):
        mailing = self.mailing
        mailing.action_put_in_queue()
        traced = []
        with self.mockSMSGateway():
            for _call in range(3):
                queue_triggers = self._triggers("mass_mailing.ir_cron_mass_mailing_queue")
                sms_triggers = self._triggers("sms.ir_cron_sms_scheduler_action")
                progress = self._run_mailing_queue()
                traced.append(len(mailing.mailing_trace_ids))
                self.assertGreater(
                    self._triggers("sms.ir_cron_sms_scheduler_action"),
                    sms_triggers,
                    "the SMS queue starts on each chunk, not after the whole build",
                )
                if traced[-1] < len(self.contacts):
                    self.assertTrue(mailing.sms_build_pending)
                    self.assertEqual((progress.done, progress.remaining), (1, 1))
                    self.assertGreater(
                        self._triggers("mass_mailing.ir_cron_mass_mailing_queue"),
                        queue_triggers,
                        "the mailing queue wakes itself for the next chunk",
                    )
                # the first chunk's SMS leave while the rest waits to be built: the mailing
                # is still sending, not done
                self.env["sms.sms"].sudo()._process_queue()
                self.assertEqual(mailing.state, "sending" if traced[-1] < 7 else "done")
        self.assertEqual(traced, [3, 6, 7])
        self.assertFalse(mailing.sms_build_pending)
        self.assertEqual((progress.done, progress.remaining), (1, 0))
        self.assertEqual(len(self._sms), 7, "each recipient got one SMS")
        self.assertEqual(
            sorted(mailing.mailing_trace_ids.mapped("res_id")), sorted(self.contacts.ids)
        )

    def test_sms_queue_meanwhile_keeps_the_mailing_sending(self):
        """The other cron worker sends the first batches while the chunk is still being
        built: the mailing is not done in between."""
        mailing = self.mailing
        mailing.action_put_in_queue()
        build_batch = mailing_sms_campaign.MailingSmsCampaign._sms_send_batch
        states = []

        def batch_then_sms_queue(mailing_self, res_ids, *args, **kwargs):
            sms = build_batch(mailing_self, res_ids, *args, **kwargs)
            self.env["sms.sms"].sudo()._process_queue()
            states.append(mailing.state)
            return sms

        with patched_batches(2, batch_then_sms_queue), self.mockSMSGateway():
            self._run_mailing_queue()
        self.assertEqual(states, ["sending", "sending"], "a chunk of 3: batches of 2 and 1")
        self.assertEqual(len(self._sms), 3, "the first chunk's SMS left during the build")
        self.assertEqual(mailing.state, "sending", "4 recipients still to build")

    def test_idle_sms_queue_closes_a_mailing_left_sending(self):
        """The build's last step (recipients all built, SMS still queued: sending) and the SMS
        queue's last run (SMS all sent, but the build not over: sending) may cross; the SMS
        queue the build's last step woke, with nothing left to send, ends the mailing."""
        self.env["ir.config_parameter"].sudo().set_param(PARAM_BUILD_CHUNK[0], 50)
        mailing = self.mailing
        with self.mockSMSGateway():
            mailing.action_send_sms()
            mailing.sms_build_pending = True  # as the SMS queue sees the build, uncommitted
            self.env["sms.sms"].sudo()._process_queue()
            self.assertEqual(mailing.state, "sending")
            mailing.sms_build_pending = False  # the build's last step committed
            self.env["sms.sms"].sudo()._process_queue()
        self.assertEqual(len(self._sms), 7)
        self.assertEqual(mailing.state, "done")

    def test_recipients_exactly_one_chunk(self):
        """A last chunk that happens to be full: the next call finds none left and the
        mailing ends as usual."""
        self.env["ir.config_parameter"].sudo().set_param(PARAM_BUILD_CHUNK[0], 7)
        mailing = self.mailing
        mailing.action_put_in_queue()
        with self.mockSMSGateway():
            self._run_mailing_queue()
            self.assertTrue(mailing.sms_build_pending)
            progress = self._run_mailing_queue()
            self.assertFalse(mailing.sms_build_pending)
            self.assertEqual(progress.remaining, 0)
            self.assertEqual(mailing.state, "sending", "its SMS are still queued")
            self.env["sms.sms"].sudo()._process_queue()
        self.assertEqual(mailing.state, "done")
        self.assertEqual(len(self._sms), 7)

    def test_recipient_added_below_the_last_traced_one_gets_its_sms(self):
        """Chunks read the recipients after the highest one traced; a contact older than it
        who joins the list during the build is taken once those run out."""
        older = self.late_contact
        self.assertLess(older.id, min(self.contacts.ids))
        mailing = self.mailing
        mailing.action_put_in_queue()
        with self.mockSMSGateway():
            self._run_mailing_queue()
            self.assertEqual(len(mailing.mailing_trace_ids), 3)
            self.mailing_list.contact_ids += older
            for _call in range(3):
                self._run_mailing_queue()
            self.env["sms.sms"].sudo()._process_queue()
        self.assertEqual(
            sorted(mailing.mailing_trace_ids.mapped("res_id")),
            sorted((self.contacts | older).ids),
        )
        self.assertEqual(len(self._sms), 8, "each recipient got one SMS, the late one too")
        self.assertEqual(mailing.state, "done")

    def test_send_now_builds_one_chunk_and_queues_the_rest(self):
        """The button builds the first chunk in the request; the queue builds the rest."""
        mailing = self.mailing
        with self.mockSMSGateway():
            mailing.action_send_sms()
            self.assertEqual(len(mailing.mailing_trace_ids), 3)
            self.assertEqual(mailing.state, "sending")
            self._run_mailing_queue()
            self._run_mailing_queue()
        self.assertEqual(len(mailing.mailing_trace_ids), 7)

    def test_opt_out_during_the_build_reaches_the_next_batches(self):
        """Opt-outs of a mailing list are read per batch (issue 28): a contact who leaves the
        list while the build runs gets no SMS from a batch built after."""
        self.env["ir.config_parameter"].sudo().set_param(PARAM_BUILD_CHUNK[0], 100)
        send_batch = mailing_sms_campaign.MailingSmsCampaign._sms_send_batch
        leaving = self.contacts[-1]

        def send_then_opt_out(mailing, res_ids, *args, **kwargs):
            sms = send_batch(mailing, res_ids, *args, **kwargs)
            leaving.subscription_ids.opt_out = True  # once the first batch is built
            return sms

        self.mailing.action_put_in_queue()
        with self.mockSMSGateway(), patched_batches(2, send_then_opt_out):
            self._run_mailing_queue()
        traces = self.mailing.mailing_trace_ids
        self.assertEqual(len(traces), 7)
        left = traces.filtered(lambda trace: trace.res_id == leaving.id)
        self.assertEqual((left.trace_status, left.failure_type), ("cancel", "sms_optout"))
        queued = self.env["sms.sms"].sudo().search([("mailing_id", "=", self.mailing.id)])
        self.assertEqual(len(queued), 6)
        self.assertNotIn(leaving.mobile, queued.mapped("number"))


class QueueRun(threading.Thread):
    """One call of the mailing queue on its own connection, committing as the cron does."""

    def __init__(self, registry):
        super().__init__(daemon=True)
        self.registry, self.error = registry, None

    def run(self):
        try:
            with db_connect(self.registry.db_name).cursor() as cr:
                cr.transaction = api.Transaction(self.registry)
                env = api.Environment(cr, SUPERUSER_ID, {})
                env["mailing.mailing"]._process_mass_mailing_queue()
                cr.commit()  # pylint: disable=invalid-commit
        except Exception as error:  # noqa: BLE001 - reported by the test
            self.error = error


@tagged("post_install", "-at_install", "mass_mailing_sms")
class TestChunkedBuildInterrupted(CommittedCampaignCase):
    """A build that fails (or whose worker dies) after its first chunk, run again: every
    recipient exactly one trace and one SMS, and nothing for the marketer to fix."""

    def _queue_run(self):
        run = QueueRun(self.registry)
        run.start()
        run.join(WAIT_SECONDS)
        self.assertFalse(run.is_alive(), "a queue run ends")
        return run.error

    def test_build_interrupted_then_run_again(self):
        mailing_id, other_id = self.mailing_ids
        with self._cursor() as cr:
            env = self._env(cr)
            env["mailing.mailing"].browse(other_id).state = "draft"
            env["ir.config_parameter"].set_param(PARAM_BUILD_CHUNK[0], 2)
            cr.commit()  # pylint: disable=invalid-commit
        self.addCleanup(self._remove_chunk_setting)
        build_batch = mailing_sms_campaign.MailingSmsCampaign._sms_send_batch
        batches = []

        def failing_second_chunk(mailing, res_ids, *args, **kwargs):
            batches.append(list(res_ids))
            if len(batches) == 4:  # the second chunk's second batch
                raise RuntimeError("worker lost")
            return build_batch(mailing, res_ids, *args, **kwargs)

        # one recipient per batch, each batch committed on its own
        with patched_batches(1, failing_second_chunk):
            self.assertIsNone(self._queue_run())
            self.assertEqual(self._traces(mailing_id), [(2, 2, 2)])
            messages = self._messages(mailing_id)
            self.assertIsInstance(self._queue_run(), RuntimeError)
            # the first batch of the second chunk was committed before the failure
            self.assertEqual(self._traces(mailing_id), [(3, 3, 3)])
            self.assertEqual(
                self._committed(
                    SQL(
                        "SELECT state, sms_build_pending FROM mailing_mailing WHERE id = %s",
                        mailing_id,
                    )
                ),
                [("sending", True)],
                "the mailing waits for its next chunk",
            )
            self.assertIsNone(self._queue_run())
        traces, contacts, sms = self._traces(mailing_id)[0]
        self.assertEqual((traces, contacts, sms), (4, 4, 4), "each recipient exactly once")
        self.assertEqual(
            self._committed(
                SQL(
                    """SELECT mailing.state, mailing.sms_build_pending,
                              (SELECT COUNT(*) FROM mailing_trace
                                WHERE mass_mailing_id = mailing.id AND trace_status != 'outgoing')
                         FROM mailing_mailing AS mailing WHERE mailing.id = %s""",
                    mailing_id,
                )
            ),
            [("sending", False, 0)],
            "no error for the marketer: every SMS waits in the queue",
        )
        self.assertEqual(self._messages(mailing_id), messages, "no note on the mailing")

    def _messages(self, mailing_id):
        return self._committed(
            SQL(
                "SELECT COUNT(*) FROM mail_message WHERE model = 'mailing.mailing' AND res_id = %s",
                mailing_id,
            )
        )

    def _traces(self, mailing_id):
        """[(traces, distinct recipients, SMS)] of the mailing, as committed."""
        return self._committed(
            SQL(
                """SELECT COUNT(*), COUNT(DISTINCT trace.res_id), COUNT(sms.id)
                     FROM mailing_trace AS trace
                     LEFT JOIN sms_sms AS sms ON sms.id = trace.sms_id_int
                    WHERE trace.mass_mailing_id = %s""",
                mailing_id,
            )
        )

    def _remove_chunk_setting(self):
        with self._cursor() as cr:
            self._env(cr)["ir.config_parameter"].search(
                [("key", "=", PARAM_BUILD_CHUNK[0])]
            ).unlink()
            cr.commit()  # pylint: disable=invalid-commit
