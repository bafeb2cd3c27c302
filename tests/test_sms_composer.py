# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
import re

from odoo.tests import tagged, users

from odoo.addons.mass_mailing_sms.tests.common import MassSMSCommon


@tagged("post_install", "-at_install", "mass_mailing_sms")
class TestSmsComposerMailing(MassSMSCommon):
    """Issue 16.4: the SMS composer in mass mode for a mailing (COMPAT tier B), as addons
    that send a mailing's SMS through it use it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        partner_model = cls.env["res.partner"].with_context(**cls._test_context)
        cls.partners = partner_model.create(
            [
                {"name": "Composer One", "mobile": "+32470330001"},
                {"name": "Composer Blocked", "mobile": "+32470330002"},
                {"name": "Composer Bad", "mobile": "0470 3"},
            ]
        )
        cls.env["phone.blacklist"].sudo().create({"number": "+32470330002"})
        cls.mailing = cls._create_sms_mailing(mailing_domain=[("id", "in", cls.partners.ids)])

    def _compose(self):
        return (
            self.env["sms.composer"]
            .with_context(
                default_composition_mode="mass",
                default_res_model="res.partner",
                active_ids=self.partners.ids,
            )
            .create(
                {
                    "body": "Hello {{ object.name }}, see https://www.example.com/composer",
                    "mailing_id": self.mailing.id,
                    "mass_keep_log": False,
                    "mass_use_blacklist": True,
                }
            )
        )

    @users("user_marketing")
    def test_mass_sms_of_a_mailing(self):
        composer = self._compose()
        url = "https://example.com/sms/1/abcdefghij"
        self.assertEqual(composer._get_unsubscribe_info(url), f"STOP SMS: {url}")
        with self.mockSMSGateway():
            composer._action_send_sms()
        traces = self._find_sms_traces(self.mailing, self.partners).sorted(
            lambda t: self.partners.ids.index(t.res_id)
        )
        self.assertEqual(traces.mapped("trace_status"), ["outgoing", "cancel", "bounce"])
        self.assertEqual(traces[1].failure_type, "sms_blacklist")
        self.assertEqual(traces[2].failure_type, "sms_number_format")
        sms = self.env["sms.sms"].sudo().browse(traces[0].sms_id_int)
        self.assertEqual(sms.mailing_id, self.mailing)
        base = self.mailing.get_base_url().rstrip("/")
        self.assertIn(f"\nSTOP SMS: {base}/sms/{self.mailing.id}/{traces[0].sms_code}", sms.body)
        self.assertRegex(sms.body, rf"{re.escape(base)}/r/\w+/s/{sms.id}", "short, tagged link")
        self.assertEqual(traces[0].sms_tracker_ids.sms_uuid, sms.uuid, "reports reach it")
        # composing again for the same recipients adds no second trace
        with self.mockSMSGateway():
            self._compose()._action_send_sms()
        self.assertEqual(len(self._find_sms_traces(self.mailing, self.partners)), 3)
