# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
from odoo.tests import tagged, users
from odoo.tools import mute_logger

from odoo.addons.mass_mailing_sms.tests.common import MassSMSCommon


@tagged("post_install", "-at_install", "mass_mailing_sms")
class TestMailingSmsRetry(MassSMSCommon):
    """C2: retry sends again what the provider refused, under the same id, and never
    what it accepted."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.numbers = [f"+3247030{idx:04d}" for idx in range(4)]
        cls.partners = (
            cls.env["res.partner"]
            .with_context(**cls._test_context)
            .create(
                [
                    {"name": f"Retry {idx}", "mobile": number}
                    for idx, number in enumerate(cls.numbers)
                ]
            )
        )
        cls.mailing = cls._create_sms_mailing(
            mailing_domain=[("id", "in", cls.partners.ids)], sms_force_send=True
        )

    @users("user_marketing")
    @mute_logger("odoo.addons.sms.models.sms_sms", "odoo.addons.base.models.ir_http")
    def test_retry_refused_only(self):
        mailing = self.mailing.with_env(self.env)
        refusals = {self.numbers[0]: "credit", self.numbers[1]: "server_error"}
        with self.mockSMSGateway(nbr_t_error=refusals):
            mailing.action_send_sms()
        traces = self._find_sms_traces(mailing, self.partners).sorted(
            lambda t: self.partners.ids.index(t.res_id)
        )
        uuids = traces.sms_tracker_ids.mapped("sms_uuid")
        # the provider accepted 2 and 3, then reports 3 as expired
        self.gateway_sms_bounce(mailing, self.partners[3], error_code="expired")
        self.assertEqual(
            [(t.trace_status, t.failure_type) for t in traces],
            [
                ("error", "sms_credit"),
                ("error", "sms_server"),
                ("pending", False),
                ("error", "sms_expired"),
            ],
        )
        self.assertTrue(mailing.sms_has_insufficient_credit)
        self.assertEqual(mailing.state, "done")

        mailing.action_retry_failed()
        self.assertEqual(
            traces.mapped("trace_status"), ["outgoing", "outgoing", "pending", "error"]
        )
        self.assertEqual(mailing.state, "sending")
        mailing.invalidate_recordset(["sms_has_insufficient_credit"])
        self.assertFalse(mailing.sms_has_insufficient_credit)

        with self.mockSMSGateway():
            self.env["sms.sms"].sudo()._process_queue()
        self.assertFalse(self._new_sms, "no new SMS: the refused ones go again")
        self.assertEqual(
            sorted(sms["uuid"] for sms in self._sms), sorted(uuids[:2]), "same ids, only those"
        )
        self.assertEqual(traces.mapped("trace_status"), ["pending", "pending", "pending", "error"])
        self.assertEqual(traces.sms_tracker_ids.mapped("sms_uuid"), uuids)
        self.assertEqual(mailing.state, "done")

        # nothing left to retry: nothing is sent again
        mailing.action_retry_failed()
        with self.mockSMSGateway():
            self.env["sms.sms"].sudo()._process_queue()
            self.env["mailing.mailing"].sudo()._process_mass_mailing_queue()
        self.assertFalse(self._sms)
        self.assertEqual(len(mailing.mailing_trace_ids), 4)

    @users("user_marketing")
    @mute_logger("odoo.addons.mail.models.mail_render_mixin")
    def test_retry_rebuilds_unwritten_sms(self):
        """A recipient whose text could not be written is rebuilt by the next run."""
        mailing = self.mailing.with_env(self.env)
        self.partners.sudo().color = 2
        self.partners[0].sudo().color = 0
        mailing.body_plaintext = "Half: {{ 10 // object.color }}"
        with self.mockSMSGateway():
            mailing.action_send_sms()
        failed = self._find_sms_traces(mailing, self.partners[0])
        self.assertEqual(failed.trace_status, "error")
        self.partners[0].sudo().color = 5
        mailing.action_retry_failed()
        self.assertFalse(failed.exists())
        self.assertEqual(mailing.state, "in_queue")
        with self.mockSMSGateway():
            self.env["mailing.mailing"].sudo()._process_mass_mailing_queue()
        self.assertSMSTraces(
            [
                {"number": number, "content": "Half: ", "trace_status": "pending"}
                for number in self.numbers
            ],
            mailing,
            self.partners,
            check_sms=False,
        )
        self.assertEqual(len(self._sms), 1)
        self.assertEqual(self._sms[0]["body"], "Half: 2")
