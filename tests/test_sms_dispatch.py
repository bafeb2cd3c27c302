# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
from collections import Counter
from contextlib import contextmanager
from datetime import timedelta
from unittest.mock import patch

import requests

from odoo import api, fields
from odoo.exceptions import AccessError
from odoo.sql_db import db_connect
from odoo.tests import RecordCapturer, tagged
from odoo.tools import SQL, mute_logger

from odoo.addons.mass_mailing_sms.tests.common import MassSMSCommon
from odoo.addons.sms.tools.sms_api import SmsApi

SMS_CRON = "sms.ir_cron_sms_scheduler_action"


@tagged("post_install", "-at_install", "mass_mailing_sms")
class TestSmsDispatch(MassSMSCommon):
    """Issue 8: SMS of mailings are claimed before the provider is called, sent under one
    stable id, their answers written forward-only; unknown outcomes are retried under the
    same id, an account-level refusal stops the run, the queue wakes itself."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.numbers = [f"+3247080{idx:04d}" for idx in range(6)]
        cls.partners = (
            cls.env["res.partner"]
            .with_context(**cls._test_context)
            .create(
                [
                    {"name": f"Dispatch {idx}", "mobile": number}
                    for idx, number in enumerate(cls.numbers)
                ]
            )
        )
        cls.mailing = cls._create_sms_mailing(mailing_domain=[("id", "in", cls.partners.ids)])
        cls.env["ir.config_parameter"].sudo().set_param("sms.session.batch.size", 2)

    def setUp(self):
        super().setUp()
        self.calls = []  # uuids of each call to the provider

    # ------------------------------------------------------------
    # HELPERS
    # ------------------------------------------------------------

    @contextmanager
    def mock_gateway(self, **options):
        """Odoo's gateway mock, also counting the calls and the uuids of each one."""
        send_batch = SmsApi._send_sms_batch

        def counting_send_batch(api_self, messages, delivery_reports_url=False):
            self.calls.append([n["uuid"] for message in messages for n in message["numbers"]])
            return send_batch(api_self, messages, delivery_reports_url=delivery_reports_url)

        with (
            patch.object(SmsApi, "_send_sms_batch", autospec=True, side_effect=counting_send_batch),
            self.mockSMSGateway(**options),
        ):
            yield

    def _queue_mailing(self):
        """Build the campaign: traces and SMS, all queued."""
        with self.mock_gateway():
            self.mailing.action_send_sms()
        sms = self._mailing_sms()
        self.assertEqual(len(sms), len(self.partners))
        self.assertEqual(set(sms.mapped("state")), {"outgoing"})
        self.assertFalse(self.calls, "building the campaign calls no provider")
        return sms

    def _mailing_sms(self):
        return self.env["sms.sms"].sudo().search([("mailing_id", "=", self.mailing.id)], order="id")

    def _traces(self):
        return self._find_sms_traces(self.mailing, self.partners).sorted("res_id")

    def _expire_leases(self, sms):
        sms.write({"sms_lease_until": self._db_now() - timedelta(seconds=1)})

    def _give_up(self, sms, attempts):
        """The provider never answers for ``sms``: the queue gives up after ``attempts``."""
        self.env["ir.config_parameter"].sudo().set_param(
            "mass_mailing_sms.sms_max_attempts", attempts
        )
        for _attempt in range(attempts):
            self._expire_leases(sms)
            with self.mock_gateway(sim_error="jsonrpc_exception"):
                self.env["sms.sms"]._process_queue(ids=sms.ids)

    def _db_now(self):
        """The database's now(): leases are set and compared with it (a test runs in one
        transaction, whose now() stays at its start)."""
        self.env.cr.execute(SQL("SELECT now() AT TIME ZONE 'UTC'"))
        return self.env.cr.fetchone()[0]

    @staticmethod
    def _http_error(status, retry_after=None):
        """What iap_jsonrpc raises for an HTTP error: an AccessError over requests' error."""

        def contact_iap(*_args, **_kwargs):
            response = requests.Response()
            response.status_code = status
            if retry_after:
                response.headers["Retry-After"] = str(retry_after)
            try:
                raise requests.HTTPError(f"{status} error", response=response)
            except requests.HTTPError:
                raise AccessError("HTTP error") from None  # pylint: disable=translation-required

        return contact_iap

    # ------------------------------------------------------------
    # CLAIMS
    # ------------------------------------------------------------

    def test_claim_oldest_first_with_lease(self):
        sms = self._queue_mailing()
        model = self.env["sms.sms"].sudo()
        first = model._sms_claim_batch(2, auto_commit=False).sms
        self.assertEqual(first, sms[:2], "oldest first")
        self.assertEqual(first.mapped("sms_attempt_count"), [1, 1])
        self.assertTrue(all(lease > self._db_now() for lease in first.mapped("sms_lease_until")))
        second = model._sms_claim_batch(2, auto_commit=False).sms
        self.assertEqual(second, sms[2:4], "a claimed SMS is not claimed again")
        self._expire_leases(first)  # the worker holding them died
        third = model._sms_claim_batch(10, auto_commit=False).sms
        self.assertEqual(third, first | sms[4:], "expired claims come back, same records")
        self.assertEqual(first.mapped("sms_attempt_count"), [2, 2])
        self.assertEqual(first.mapped("uuid"), sms[:2].mapped("uuid"))

    def test_claim_skips_rows_locked_by_another_transaction(self):
        """Two real connections: what one worker claimed, the other cannot take, neither
        while the claim is uncommitted (row locks, SKIP LOCKED) nor after (lease)."""
        dbname = self.env.cr.dbname
        mailing_id = source_id = sms_ids = None
        with db_connect(dbname).cursor() as setup_cr:
            setup_cr.execute("SET LOCAL lock_timeout = '10s'")
            env = api.Environment(
                setup_cr,
                self.env.uid,
                {
                    "tracking_disable": True,
                    "mail_create_nolog": True,
                    "mail_create_nosubscribe": True,
                },
            )
            mailing = env["mailing.mailing"].create(
                {
                    "name": "Claim test",
                    "subject": "Claim test",
                    "mailing_type": "sms",
                    "mailing_model_id": env["ir.model"]._get_id("res.partner"),
                    "body_plaintext": "Hello",
                }
            )
            mailing_id, source_id = mailing.id, mailing.source_id.id
            sms_ids = (
                env["sms.sms"]
                .create(
                    [
                        {"number": f"+3247090{idx:04d}", "body": "Hello", "mailing_id": mailing_id}
                        for idx in range(4)
                    ]
                )
                .ids
            )
            setup_cr.commit()  # pylint: disable=invalid-commit
        try:
            with db_connect(dbname).cursor() as cr_a, db_connect(dbname).cursor() as cr_b:
                for cr in (cr_a, cr_b):
                    cr.execute("SET lock_timeout = '10s'")
                    cr.commit()  # pylint: disable=invalid-commit
                sms_a = api.Environment(cr_a, self.env.uid, {})["sms.sms"]
                sms_b = api.Environment(cr_b, self.env.uid, {})["sms.sms"]
                claimed_a = sms_a._sms_claim_rows(3, ids=sms_ids)
                self.assertEqual(claimed_a.ids, sms_ids[:3])
                # A has not committed: B skips the locked rows instead of waiting for them
                claimed_b = sms_b._sms_claim_rows(3, ids=sms_ids)
                self.assertEqual(claimed_b.ids, sms_ids[3:])
                cr_a.commit()  # pylint: disable=invalid-commit
                cr_b.commit()  # pylint: disable=invalid-commit
                # committed claims hold: nothing left to take
                self.assertFalse(sms_b._sms_claim_rows(3, ids=sms_ids))
                self.assertFalse(sms_a._sms_claim_rows(3, ids=sms_ids))
                cr_a.rollback()
                cr_b.rollback()
        finally:
            with db_connect(dbname).cursor() as cleanup_cr:
                cleanup_cr.execute(SQL("DELETE FROM sms_sms WHERE id = ANY(%s)", sms_ids))
                cleanup_cr.execute(SQL("DELETE FROM mailing_mailing WHERE id = %s", mailing_id))
                cleanup_cr.execute(SQL("DELETE FROM utm_source WHERE id = %s", source_id))
                cleanup_cr.commit()  # pylint: disable=invalid-commit

    # ------------------------------------------------------------
    # SENDING THROUGH THE QUEUE
    # ------------------------------------------------------------

    def test_queue_sends_each_sms_once_and_retriggers(self):
        sms = self._queue_mailing()
        self.env["ir.config_parameter"].sudo().set_param("mass_mailing_sms.sms_batches_per_run", 2)
        cron = self.env.ref(SMS_CRON)
        with RecordCapturer(
            self.env["ir.cron.trigger"].sudo(), [("cron_id", "=", cron.id)]
        ) as capture:
            cron_run, progress = cron._add_progress()
            with self.mock_gateway():
                self.env["sms.sms"].with_context(**cron_run.env.context)._process_queue()
        self.assertEqual(len(self.calls), 2, "two batches per run")
        self.assertEqual((progress.done, progress.remaining), (4, 2))
        self.assertTrue(capture.records, "the queue wakes itself while work remains")
        self.assertEqual(self.mailing.state, "sending")
        with self.mock_gateway():
            self.env["sms.sms"]._process_queue()
        sent = Counter(uuid for call in self.calls for uuid in call)
        self.assertEqual(set(sent), set(sms.mapped("uuid")))
        self.assertEqual(set(sent.values()), {1}, "each SMS handed over once")
        self.assertEqual(set(self._traces().mapped("trace_status")), {"pending"})
        self.assertEqual(self.mailing.state, "done")
        self.assertFalse(any(sms.mapped("sms_lease_until")))

    @mute_logger("odoo.addons.mass_mailing_sms.models.sms_sms")
    def test_unknown_outcome_retried_under_same_uuid(self):
        sms = self._queue_mailing()
        uuids = sms.mapped("uuid")
        with (
            self.mock_gateway(sim_error="jsonrpc_exception"),
            RecordCapturer(
                self.env["ir.cron.trigger"].sudo(), [("cron_id", "=", self.env.ref(SMS_CRON).id)]
            ) as capture,
        ):
            self.env["sms.sms"]._process_queue()
        self.assertEqual(len(self.calls), 3, "three batches, then the provider counts as down")
        self.assertEqual(set(sms.mapped("state")), {"outgoing"}, "unknown: still queued")
        self.assertEqual(set(sms.mapped("sms_attempt_count")), {1})
        now = self._db_now()
        self.assertTrue(all(lease > now for lease in sms.mapped("sms_lease_until")), "back-off")
        self.assertEqual(set(self._traces().mapped("trace_status")), {"outgoing"})
        self.assertEqual(self.mailing.state, "sending")
        self.assertTrue(
            any(trigger.call_at > now for trigger in capture.records),
            "the queue wakes when the back-off ends",
        )
        # during the back-off nothing goes
        self.calls.clear()
        with self.mock_gateway():
            self.env["sms.sms"]._process_queue()
        self.assertFalse(self.calls)
        # after it: the same SMS, the same ids, no new SMS
        self._expire_leases(sms)
        with self.mock_gateway():
            self.env["sms.sms"]._process_queue()
        self.assertFalse(self._new_sms)
        self.assertEqual(sorted(u for call in self.calls for u in call), sorted(uuids))
        self.assertEqual(set(sms.mapped("state")), {"pending"})
        self.assertEqual(set(self._traces().mapped("trace_status")), {"pending"})
        self.assertEqual(self._traces().sms_tracker_ids.mapped("sms_uuid"), uuids)

    @mute_logger("odoo.addons.mass_mailing_sms.models.sms_sms")
    def test_unknown_outcome_ends_in_error_after_max_attempts(self):
        sms = self._queue_mailing()[:2]
        self._give_up(sms, attempts=2)
        self.assertEqual(set(sms.mapped("state")), {"error"})
        self.assertEqual(set(sms.mapped("failure_type")), {"sms_server"})
        traces = self._traces().filtered(lambda t: t.sms_id_int in sms.ids)
        self.assertEqual(set(traces.mapped("trace_status")), {"error"})
        self.assertIn("Gave up after 2 attempts", traces[0].failure_reason)
        # the marketer's retry: the same ids again, with a fresh count
        self.mailing.action_retry_failed()
        self.assertEqual(set(sms.mapped("state")), {"outgoing"})
        self.assertEqual(set(sms.mapped("sms_attempt_count")), {0})
        self.calls.clear()
        with self.mock_gateway():
            self.env["sms.sms"]._process_queue(ids=sms.ids)
        self.assertEqual(sorted(self.calls[0]), sorted(sms.mapped("uuid")))
        self.assertEqual(set(sms.mapped("state")), {"pending"})

    @mute_logger("odoo.addons.mass_mailing_sms.models.sms_sms")
    def test_given_up_then_confirmed_by_the_provider(self):
        """Issue 17.3: an SMS given up after unknown outcomes that the provider did send is
        shown delivered once a delivery report says so, and the marketer's Retry does not
        send it again; the other one goes again under its id and is answered."""
        sms = self._queue_mailing()[:2]
        self._give_up(sms, attempts=2)
        traces = self._traces().filtered(lambda t: t.sms_id_int in sms.ids).sorted("sms_id_int")
        self.assertEqual(traces.mapped("trace_status"), ["error", "error"])
        # what Odoo's /sms/status route does with a delivery report of the first SMS
        traces[0].sms_tracker_ids._action_update_from_sms_state("sent")
        self.assertEqual(traces.mapped("trace_status"), ["sent", "error"])
        self.assertFalse(traces[0].failure_type)
        self.assertFalse(traces[0].failure_reason, "no leftover 'gave up' reason")
        self.mailing.invalidate_recordset()
        self.assertEqual((self.mailing.delivered, self.mailing.failed), (1, 1))
        self.mailing.action_retry_failed()
        self.calls.clear()
        with self.mock_gateway():
            self.env["sms.sms"]._process_queue(ids=sms.ids)
        self.assertEqual(self.calls, [[sms[1].uuid]], "only the unconfirmed one goes again")
        self.assertEqual(traces.mapped("trace_status"), ["sent", "pending"])
        self.mailing.invalidate_recordset()
        self.assertEqual(
            (self.mailing.delivered, self.mailing.pending, self.mailing.failed), (1, 1, 0)
        )

    @mute_logger("odoo.addons.mass_mailing_sms.models.sms_sms")
    def test_throttled_backs_off_without_counting_attempts(self):
        sms = self._queue_mailing()
        with (
            self.mock_gateway(),
            patch.object(SmsApi, "_contact_iap", side_effect=self._http_error(429, 120)),
        ):
            self.env["sms.sms"]._process_queue()
        self.assertEqual(len(self.calls), 1, "a 429 stops the run")
        claimed = sms[:2]
        self.assertEqual(set(claimed.mapped("sms_attempt_count")), {0})
        later = self._db_now() + timedelta(seconds=100)
        self.assertTrue(all(lease > later for lease in claimed.mapped("sms_lease_until")))
        self.assertEqual(set(sms.mapped("state")), {"outgoing"})

    # ------------------------------------------------------------
    # ACCOUNT-LEVEL REFUSALS
    # ------------------------------------------------------------

    @mute_logger("odoo.addons.mass_mailing_sms.models.sms_sms")
    def test_credit_exhaustion_stops_and_resumes_without_duplicates(self):
        """Credit runs out in the second batch: the run stops there, the refused SMS show
        the credit error (E1), the rest stay queued; after buying credits, the retry sends
        the refused and the queued SMS under their ids, nothing twice."""
        sms = self._queue_mailing()
        with self.mock_gateway(nbr_t_error={self.numbers[2]: "credit"}):
            self.env["sms.sms"]._process_queue()
        delivered = Counter(item["number"] for item in self._sms)
        self.assertEqual(len(self.calls), 2, "stopped at the first refusal")
        self.assertEqual(
            sms.mapped("state"), ["pending", "pending", "error", "pending", "outgoing", "outgoing"]
        )
        self.assertEqual(sms[2].failure_type, "sms_credit")
        self.assertEqual(set(sms[4:].mapped("sms_attempt_count")), {0}, "never claimed")
        mailing = self.mailing
        mailing.invalidate_recordset()
        self.assertTrue(mailing.sms_has_insufficient_credit, "E1: the marketer sees it")
        self.assertEqual(mailing.state, "sending")

        # credits bought: the marketer retries
        mailing.action_retry_failed()
        self.calls.clear()
        with self.mock_gateway():
            self.env["sms.sms"]._process_queue()
        delivered.update(item["number"] for item in self._sms)
        self.assertFalse(self._new_sms, "the same SMS, no new ones")
        self.assertEqual(
            sorted(u for call in self.calls for u in call),
            sorted(sms[2:3].mapped("uuid") + sms[4:].mapped("uuid")),
        )
        self.assertEqual(delivered, Counter(self.numbers), "each number exactly once")
        self.assertEqual(set(sms.mapped("state")), {"pending"})
        self.assertEqual(set(self._traces().mapped("trace_status")), {"pending"})
        self.assertEqual(mailing.state, "done")

    # ------------------------------------------------------------
    # RESULTS
    # ------------------------------------------------------------

    def test_results_written_forward_only(self):
        """A delivery report faster than the answer, or an answer another worker already
        wrote, is never rolled back by a late result."""
        sms = self._queue_mailing()[:2]
        claimed = self.env["sms.sms"].sudo()._sms_claim_batch(2, ids=sms.ids, auto_commit=False).sms
        traces = self._traces().filtered(lambda t: t.sms_id_int in sms.ids).sorted("sms_id_int")
        # the provider reports the first delivered before its answer arrives
        self._make_webhook_jsonrpc_request([{"sms_status": "delivered", "uuids": [sms[0].uuid]}])
        # another worker already wrote the second as accepted
        sms[1]._sms_move_forward(sms[1].ids, "pending", False, to_delete=True)
        traces[1]._sms_update_status("pending")
        outcome = claimed._sms_write_results(
            [
                {"uuid": sms[0].uuid, "state": "success"},
                {"uuid": sms[1].uuid, "state": "server_error"},
            ],
            auto_commit=False,
        )
        self.assertEqual(outcome, "sent")
        self.assertEqual(traces.mapped("trace_status"), ["sent", "pending"])
        self.assertEqual(sms.mapped("state"), ["pending", "pending"])
        self.assertFalse(sms[1].failure_type, "a late error does not undo an acceptance")

    # ------------------------------------------------------------
    # SEND DIRECTLY, TEST SMS
    # ------------------------------------------------------------

    def test_send_directly_after_commit_and_wakes_the_queue(self):
        """ "Send Directly" calls no provider from the transaction building the campaign: the
        SMS leave once it commits (the mock plays the commit on leaving its block), and the
        SMS queue is woken at once should that not happen."""
        self.mailing.sms_force_send = True
        cron = self.env.ref(SMS_CRON)
        with (
            RecordCapturer(
                self.env["ir.cron.trigger"].sudo(), [("cron_id", "=", cron.id)]
            ) as capture,
            self.mock_gateway(),
        ):
            self.mailing.action_send_sms()
            self.assertFalse(self.calls, "no provider call while building the campaign")
            self.assertEqual(set(self._mailing_sms().mapped("state")), {"outgoing"})
        self.assertTrue(capture.records)
        self.assertTrue(all(t.call_at <= fields.Datetime.now() for t in capture.records))
        self.assertEqual(len(self.calls), 3, "sent after the commit, by the dispatcher")
        self.assertEqual(set(self._traces().mapped("trace_status")), {"pending"})
        self.assertEqual(self.mailing.state, "done")

    def test_test_sms_sent_once(self):
        wizard = (
            self.env["mailing.sms.test"]
            .with_user(self.user_marketing)
            .create({"mailing_id": self.mailing.id, "numbers": "+32470414141"})
        )
        with self.mock_gateway():
            wizard.action_send_sms()
            self.env["sms.sms"]._process_queue()
            self.env["mailing.mailing"].sudo()._process_mass_mailing_queue()
        self.assertEqual(len(self.calls), 1, "one call to the provider")
        self.assertEqual([item["number"] for item in self._sms], ["+32470414141"])
        self.assertFalse(self._new_sms, "no queued SMS to send it again")
