# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
import itertools
from unittest.mock import patch

from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.mass_mailing_sms.models import sms_sms as sms_sms_module
from odoo.addons.mass_mailing_sms.tests.common import MailingQueueMixin
from odoo.addons.mass_mailing_sms.tests.http_provider import HttpProviderCase

SMS_CRON = "sms.ir_cron_sms_scheduler_action"


@tagged("post_install", "-at_install", "mass_mailing_sms")
class TestSmsRunBounds(MailingQueueMixin, HttpProviderCase):
    """A run of the SMS queue through a provider taking one request per SMS stays short
    whatever the provider does: it ends once it took ``sms_run_seconds`` (under the cron's
    time limit) and a chunk without any answer ends its batch (a provider that is down is not
    waited for SMS after SMS); what did not leave goes next, its attempts untouched."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.numbers = [f"+3247093{idx:04d}" for idx in range(20)]
        cls.partners = (
            cls.env["res.partner"]
            .with_context(**cls._test_context)
            .create([{"name": f"Run {idx}", "mobile": n} for idx, n in enumerate(cls.numbers)])
        )
        cls.mailing = cls._create_sms_mailing(mailing_domain=[("id", "in", cls.partners.ids)])

    def setUp(self):
        super().setUp()
        # one request at a time: chunks of 4 SMS, each checked again before it leaves
        self.env["ir.config_parameter"].sudo().set_param(
            "mass_mailing_sms.sms_provider_connections", 1
        )

    def _sms(self):
        return self.env["sms.sms"].sudo().search([("mailing_id", "=", self.mailing.id)])

    def test_a_run_ends_at_its_time_and_the_rest_goes_next(self):
        self.env["ir.config_parameter"].sudo().set_param("mass_mailing_sms.sms_run_seconds", 60)
        self.mailing.action_send_sms()
        clock = itertools.count(0, 25)  # each look at the clock: 25 s later
        cron = self.env.ref(SMS_CRON)
        cron_run, progress = cron._add_progress()
        with patch.object(sms_sms_module, "monotonic", side_effect=lambda: next(clock)):
            self.env["sms.sms"].sudo().with_context(
                **cron_run.env.context
            )._sms_process_mailing_queue(auto_commit=False)
        # started at 0: chunks at 25 and 50 s leave, the one due at 75 s does not
        self.assertEqual(len(self.fake_http.requests), 12, "three chunks of four")
        sms = self._sms()
        left = sms.filtered(lambda s: s.state == "outgoing")
        self.assertEqual(len(left), 8)
        self.assertEqual(set(left.mapped("sms_attempt_count")), {0}, "not attempted")
        self.assertFalse(any(left.mapped("sms_lease_until")), "ready for the next run")
        self.assertEqual((progress.done, progress.remaining), (12, 8), "the cron runs again")
        self.assertEqual(self.mailing.state, "sending")
        self._run_queue_again()
        self.assertEqual(len(self.fake_http.messages), 20, "each SMS once")
        self.assertEqual(set(self.mailing.mailing_trace_ids.mapped("trace_status")), {"pending"})
        self.assertEqual(self.mailing.state, "done")

    @mute_logger("odoo.addons.mass_mailing_sms.models.sms_sms")
    def test_a_chunk_without_any_answer_ends_its_batch(self):
        self.fake_http.faults = {number: [503] for number in self.numbers}
        self._send()
        # three chunks without an answer (one per batch), then the provider counts as down
        self.assertEqual(len(self.fake_http.requests), 12)
        sms = self._sms()
        tried = sms.filtered(lambda s: s.sms_attempt_count)
        self.assertEqual(len(tried), 12)
        self.assertEqual(set(sms.mapped("state")), {"outgoing"}, "unknown: still queued")
        untouched = sms - tried
        self.assertFalse(any(untouched.mapped("sms_lease_until")), "never claimed for nothing")
        self.assertFalse(self.fake_http.messages)
        self.fake_http.faults = {}
        self._run_queue_again()
        self.assertEqual(len(self.fake_http.messages), 20, "each SMS once")
        self.assertEqual(set(self.mailing.mailing_trace_ids.mapped("trace_status")), {"pending"})
