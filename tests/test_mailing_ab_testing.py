# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
from datetime import timedelta

from odoo import fields
from odoo.tests import tagged, users

from odoo.addons.mass_mailing_sms.tests.common import MassSMSCommon


@tagged("post_install", "-at_install", "mass_mailing_sms")
class TestMailingSmsABTesting(MassSMSCommon):
    """C1: SMS versions compared by clicks; the A/B cron sends the winner to the rest."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.partners = (
            cls.env["res.partner"]
            .with_context(**cls._test_context)
            .create(
                [{"name": f"AB {idx:02d}", "mobile": f"+3247050{idx:04d}"} for idx in range(20)]
            )
        )
        cls.version_a = cls._create_sms_mailing(
            name="Version A",
            body_plaintext="A: https://www.example.com/a",
            mailing_domain=[("id", "in", cls.partners.ids)],
            ab_testing_enabled=True,
            ab_testing_pc=10,
            sms_force_send=True,
        )
        cls.campaign = cls.version_a.campaign_id
        cls.version_b = cls._create_sms_mailing(
            name="Version B",
            body_plaintext="B: https://www.example.com/b",
            mailing_domain=[("id", "in", cls.partners.ids)],
            ab_testing_enabled=True,
            ab_testing_pc=10,
            campaign_id=cls.campaign.id,
            sms_force_send=True,
        )

    def test_winner_selection_field(self):
        """COMPAT: a plain selection on campaigns, clicks ratio by default."""
        field = self.env["utm.campaign"]._fields["ab_testing_sms_winner_selection"]
        self.assertEqual(field.type, "selection")
        self.assertIn("manual", dict(field.selection))
        self.assertIn("clicks_ratio", dict(field.selection))
        self.assertEqual(
            self.env["utm.campaign"].create({"name": "C"}).ab_testing_sms_winner_selection,
            "clicks_ratio",
        )
        self.assertTrue(self.campaign)
        self.assertEqual(self.campaign.mailing_sms_ids, self.version_a | self.version_b)
        self.assertEqual(self.campaign.ab_testing_sms_winner_selection, "clicks_ratio")
        self.assertEqual(self.version_b.ab_testing_sms_winner_selection, "clicks_ratio")
        self.assertEqual(self.campaign.ab_testing_mailings_sms_count, 2)

    @users("user_marketing")
    def test_winner_by_clicks_sent_by_cron(self):
        version_a = self.version_a.with_env(self.env)
        version_b = self.version_b.with_env(self.env)
        with self.mockSMSGateway():
            version_a.action_send_sms()
            version_b.action_send_sms()
        self.assertEqual(len(version_a.mailing_trace_ids), 2)
        self.assertEqual(len(version_b.mailing_trace_ids), 2)
        tested = self.env["res.partner"].browse(
            (version_a.mailing_trace_ids | version_b.mailing_trace_ids).mapped("res_id")
        )
        self.assertEqual(len(tested), 4, "versions go to different recipients")
        for partner in self.env["res.partner"].browse(version_b.mailing_trace_ids.mapped("res_id")):
            self.gateway_sms_click(version_b, partner)
        (version_a | version_b).invalidate_recordset()
        self.assertGreater(version_b.clicks_ratio, version_a.clicks_ratio)

        self.campaign.sudo().ab_testing_schedule_datetime = fields.Datetime.now() - timedelta(
            minutes=1
        )
        self.env["utm.campaign"].sudo()._cron_process_mass_mailing_ab_testing()
        winner = self.campaign.sudo().ab_testing_winner_mailing_id
        self.assertTrue(winner)
        self.assertEqual(winner.body_plaintext, version_b.body_plaintext)
        self.assertEqual(winner.mailing_type, "sms")
        self.assertEqual(winner.state, "in_queue")

        with self.mockSMSGateway():
            self.env["mailing.mailing"].sudo()._process_mass_mailing_queue()
        self.assertEqual(len(winner.mailing_trace_ids), 16, "the recipients not tested yet")
        winner_recipients = set(winner.mailing_trace_ids.mapped("res_id"))
        self.assertFalse(winner_recipients & set(tested.ids))
        self.assertEqual(len(self._sms), 16)
        self.assertTrue(all(sms["body"].startswith("B: ") for sms in self._sms))

    @users("user_marketing")
    def test_manual_selection_waits(self):
        self.campaign.sudo().write(
            {
                "ab_testing_sms_winner_selection": "manual",
                "ab_testing_schedule_datetime": fields.Datetime.now() - timedelta(minutes=1),
            }
        )
        with self.mockSMSGateway():
            self.version_a.with_env(self.env).action_send_sms()
        self.env["utm.campaign"].sudo()._cron_process_mass_mailing_ab_testing()
        self.assertFalse(self.campaign.sudo().ab_testing_winner_mailing_id)
