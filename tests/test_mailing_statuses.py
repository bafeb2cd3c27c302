# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
from lxml import html

from odoo.tests import tagged, users
from odoo.tools import mute_logger

from odoo.addons.mass_mailing_sms.tests.common import MassSMSCommon


@tagged("post_install", "-at_install", "mass_mailing_sms")
class TestMailingSmsStatuses(MassSMSCommon):
    """Provider answers and delivery reports move traces forward only (SPEC G3, C3)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.numbers = [f"+3247010{idx:04d}" for idx in range(5)]
        cls.partners = (
            cls.env["res.partner"]
            .with_context(**cls._test_context)
            .create(
                [
                    {"name": f"Recipient {idx}", "mobile": number}
                    for idx, number in enumerate(cls.numbers)
                ]
            )
        )
        cls.mailing = cls._create_sms_mailing(
            mailing_domain=[("id", "in", cls.partners.ids)], sms_force_send=True
        )

    def _send(self, **gateway_options):
        mailing = self.mailing.with_env(self.env)
        with self.mockSMSGateway(**gateway_options):
            mailing.action_send_sms()
        return self._find_sms_traces(mailing, self.partners).sorted(
            lambda t: self.partners.ids.index(t.res_id)
        )

    @users("user_marketing")
    def test_provider_accepts(self):
        """Handed over and accepted: sent and pending (not yet delivered), the mailing is done."""
        traces = self._send()
        self.assertSMSTraces(
            [
                {
                    "partner": partner,
                    "number": number,
                    "content": f"Hello {partner.name}",
                    "trace_status": "pending",
                }
                for partner, number in zip(self.partners, self.numbers, strict=True)
            ],
            self.mailing,
            self.partners,
        )
        self.assertEqual(self.mailing.state, "done")
        self.assertTrue(all(traces.mapped("sent_datetime")))
        self.assertEqual(self.mailing.sent, 5, "sent = handed to the provider")
        self.assertEqual(self.mailing.pending, 5)
        self.assertEqual(self.mailing.delivered, 0, "delivered = confirmed by a delivery report")
        self.assertEqual(self.mailing.received_ratio, 0)
        self.assertTrue(self.mailing.kpi_mail_required)

    @users("user_marketing")
    @mute_logger("odoo.addons.base.models.ir_http")
    def test_provider_holds_then_reports(self):
        """Held back by the provider (processing): still sending until it reports."""
        traces = self._send(moderated=True)
        self.assertEqual(set(traces.mapped("trace_status")), {"process"})
        self.assertEqual(self.mailing.state, "sending")
        statuses = [{"sms_status": "sent", "uuids": traces.sms_tracker_ids.mapped("sms_uuid")}]
        self.assertEqual(self._make_webhook_jsonrpc_request(statuses), "OK")
        self.assertEqual(set(traces.mapped("trace_status")), {"pending"})
        self.assertEqual(self.mailing.state, "done")
        # issue 16.7: the report came through a public route; the change is OdooBot's
        self.assertEqual(self.mailing.sudo().write_uid, self.env.ref("base.user_root"))

    @users("user_marketing")
    @mute_logger("odoo.addons.sms.models.sms_sms")
    def test_provider_refusals(self):
        """Each refusal has its own failure type; a malformed number is a bounce (G3)."""
        expected = {
            "wrong_number_format": ("bounce", "sms_number_format"),
            "credit": ("error", "sms_credit"),
            "server_error": ("error", "sms_server"),
            "unregistered": ("error", "sms_acc"),
            "country_not_supported": ("error", "sms_country_not_supported"),
            "registration_needed": ("error", "sms_registration_needed"),
        }
        for sim_error, (status, failure_type) in expected.items():
            with self.subTest(sim_error=sim_error):
                traces = self._send(sim_error=sim_error)
                self.assertEqual(set(traces.mapped("trace_status")), {status})
                self.assertEqual(set(traces.mapped("failure_type")), {failure_type})
                self.assertFalse(self._sms, "nothing reached a phone")
                self.assertEqual(self.mailing.state, "done")
                self.assertEqual(
                    self.mailing.sms_has_insufficient_credit, failure_type == "sms_credit"
                )
                self.assertEqual(
                    self.mailing.sms_has_unregistered_account, failure_type == "sms_acc"
                )
                if status == "bounce":
                    self.assertEqual(self.mailing.bounced, 5)
                else:
                    self.assertEqual(self.mailing.failed, 5)
                traces.sudo().unlink()
                self.mailing.sudo().state = "draft"
                self.env["sms.sms"].sudo().search([]).unlink()

    @users("user_marketing")
    def test_buy_credits_action(self):
        self._send(sim_error="credit")
        self.assertTrue(self.mailing.sms_has_insufficient_credit)
        action = self.mailing.action_buy_sms_credits()
        self.assertEqual(action["type"], "ir.actions.act_url")
        self.assertIn("sms", action["url"])

    @users("user_marketing")
    @mute_logger("odoo.addons.base.models.ir_http")
    def test_delivery_reports(self):
        """C3 through the /sms/status route: delivered -> sent; invalid destination,
        not allowed, rejected -> bounce; expired, not delivered -> error."""
        traces = self._send()
        reports = ["delivered", "invalid_destination", "not_allowed", "rejected", "expired"]
        statuses = [
            {"sms_status": report, "uuids": [trace.sms_tracker_ids.sms_uuid]}
            for report, trace in zip(reports, traces, strict=True)
        ]
        self.assertEqual(self._make_webhook_jsonrpc_request(statuses), "OK")
        self.assertEqual(
            [(t.trace_status, t.failure_type) for t in traces],
            [
                ("sent", False),
                ("bounce", "sms_invalid_destination"),
                ("bounce", "sms_not_allowed"),
                ("bounce", "sms_rejected"),
                ("error", "sms_expired"),
            ],
        )
        self.assertEqual(self.mailing.bounced, 3)
        self.assertEqual(self.mailing.failed, 1)
        self.assertEqual(self.mailing.delivered, 1)

        # forward only: late or contradictory reports change nothing
        late = [
            {"sms_status": "success", "uuids": traces[:4].sms_tracker_ids.mapped("sms_uuid")},
            {"sms_status": "sent", "uuids": traces[:4].sms_tracker_ids.mapped("sms_uuid")},
            {"sms_status": "not_delivered", "uuids": traces[:4].sms_tracker_ids.mapped("sms_uuid")},
        ]
        self.assertEqual(self._make_webhook_jsonrpc_request(late), "OK")
        self.assertEqual(traces[:4].mapped("trace_status"), ["sent", "bounce", "bounce", "bounce"])

    @users("user_marketing")
    def test_gateway_helpers_forward_only(self):
        traces = self._send()
        self.gateway_sms_delivered(self.mailing, self.partners[:2])
        self.gateway_sms_bounce(self.mailing, self.partners[2:4])
        self.gateway_sms_bounce(self.mailing, self.partners[4], error_code="not_delivered")
        self.assertEqual(
            traces.mapped("trace_status"), ["sent", "sent", "bounce", "bounce", "error"]
        )
        self.assertEqual(traces[4].failure_type, "sms_not_delivered")
        # a late "accepted" after "delivered" or a bounce changes nothing
        traces.sms_tracker_ids._action_update_from_sms_state("pending")
        traces.sms_tracker_ids._action_update_from_sms_state("process")
        self.assertEqual(
            traces.mapped("trace_status"), ["sent", "sent", "bounce", "bounce", "error"]
        )
        self.assertEqual(self.mailing.state, "done")

    @users("user_marketing")
    @mute_logger("odoo.addons.mail.models.mail_mail")
    def test_statistics_and_kpi_mail(self):
        """G3/C3: Sent = handed to the provider, Delivered = confirmed by a delivery report or
        a click (it proves the SMS arrived); the 24h mail reports Delivered."""
        mailing = self.mailing.with_env(self.env)
        mailing.body_plaintext = "Sale on https://www.example.com/sale"
        self._send()
        self.gateway_sms_delivered(mailing, self.partners[:2])
        self.gateway_sms_click(mailing, self.partners[0])
        self.gateway_sms_click(mailing, self.partners[2])
        self.gateway_sms_bounce(mailing, self.partners[4])
        traces = self._find_sms_traces(mailing, self.partners).sorted(
            lambda t: self.partners.ids.index(t.res_id)
        )
        self.assertEqual(
            traces.mapped("trace_status"), ["open", "sent", "open", "pending", "bounce"]
        )
        # a late or contradictory report does not undo a click
        self.gateway_sms_bounce(mailing, self.partners[0])
        self.gateway_sms_delivered(mailing, self.partners[2])
        self.assertEqual(traces[0].trace_status, "open")
        self.assertEqual(traces[2].trace_status, "open")
        mailing.invalidate_recordset()
        self.assertEqual(mailing.expected, 5)
        self.assertEqual(mailing.sent, 5, "sent: handed to the provider")
        self.assertEqual(mailing.pending, 1, "still waiting for its report")
        self.assertEqual(mailing.delivered, 3, "delivered: confirmed by a report or a click")
        self.assertEqual(mailing.received_ratio, 60)
        self.assertEqual(mailing.clicked, 2)
        self.assertEqual(mailing.clicks_ratio, 50)
        self.assertEqual(mailing.bounced, 1)
        self.assertEqual(mailing.bounced_ratio, 20)

        kpi = mailing._prepare_statistics_email_values()["kpi_data"][0]
        self.assertEqual(kpi["kpi_name"], "sms")
        self.assertEqual(kpi["kpi_col1"]["value"], "60.0%")
        self.assertIn("DELIVERED (3)", kpi["kpi_col1"]["col_subtitle"])
        self.assertEqual(kpi["kpi_col2"]["value"], "50.0%")
        self.assertIn("CLICKED (2)", kpi["kpi_col2"]["col_subtitle"])
        self.assertEqual(kpi["kpi_col3"]["value"], "20.0%")
        self.assertIn("BOUNCED (1)", kpi["kpi_col3"]["col_subtitle"])

        with self.mock_mail_gateway(mail_unlink_sent=False):
            mails = mailing._action_send_statistics()
        self.assertEqual(len(mails), 1)
        self.assertIn("SMS Text Message", mails.subject)
        body = html.fromstring(mails.body_html)
        kpi_values = body.xpath('//table[@data-field="sms"]//*[hasclass("kpi_value")]/text()')
        self.assertEqual([value.strip() for value in kpi_values], ["60.0%", "50.0%", "20.0%"])
