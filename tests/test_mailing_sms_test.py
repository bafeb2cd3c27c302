# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
from unittest.mock import patch

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import tagged, users
from odoo.tools import mute_logger

from odoo.addons.mass_mailing_sms.tests.common import MassSMSCommon
from odoo.addons.mass_mailing_sms.tools.sms_text import sms_parts_count
from odoo.addons.sms.tools.sms_api import SmsApi


@tagged("post_install", "-at_install", "mass_mailing_sms")
class TestMailingSmsTestWizard(MassSMSCommon):
    """A3: the test dialog sends a sample through the real path and reports per number."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user_marketing.sudo().mobile = "0470 40 40 40"
        cls.partner = cls.env["res.partner"].create({"name": "Sample Customer"})
        cls.mailing = cls._create_sms_mailing(
            body_plaintext="Hello {{ object.name }}, see https://www.example.com/new",
            mailing_domain=[("id", "=", cls.partner.id)],
            sms_allow_unsubscribe=True,
        )

    def _new_wizard(self, **values):
        return (
            self.env["mailing.sms.test"]
            .with_context(default_mailing_id=self.mailing.id)
            .create(values)
        )

    @users("user_marketing")
    def test_action_opens_wizard_with_defaults(self):
        action = self.mailing.with_env(self.env).action_test()
        self.assertEqual(action["res_model"], "mailing.sms.test")
        self.assertEqual(action["context"]["default_mailing_id"], self.mailing.id)
        wizard = self._new_wizard()
        self.assertIn("Martial Marketing", wizard.numbers)
        self.assertIn("0470 40 40 40", wizard.numbers)

    @users("user_marketing")
    def test_send_sample(self):
        wizard = self._new_wizard(numbers="+32470414141\nJohn, 0470 42 42 42\nnot a number")
        send_batch = SmsApi._send_sms_batch
        with (
            self.mockSMSGateway(),
            patch.object(
                SmsApi, "_send_sms_batch", autospec=True, side_effect=send_batch
            ) as batch_mock,
        ):
            action = wizard.action_send_sms()
        self.assertEqual(batch_mock.call_count, 1, "one call to the provider")
        self.assertEqual(
            sorted(sms["number"] for sms in self._sms), ["+32470414141", "+32470424242"]
        )
        body = self._sms[0]["body"]
        self.assertTrue(body.startswith("Hello Sample Customer, see "), "rendered on a record")
        self.assertIn("/r/", body, "links are shortened as in the real SMS")
        self.assertIn("\nSTOP SMS: ", body)
        self.assertFalse(self._new_sms, "a test SMS leaves no sms.sms nor trace")
        self.assertFalse(self.mailing.mailing_trace_ids)
        self.assertEqual(action["params"]["type"], "danger", "one line was not a number")
        log = self.mailing.message_ids[0].body
        self.assertIn("successfully sent to +32470414141", log)
        self.assertIn("successfully sent to +32470424242", log)
        self.assertIn("not a number", log)

    @users("user_marketing")
    def test_parts_of_the_sample_whatever_the_state(self):
        """Issue 25.1: the dialog counts the text it sends (placeholders filled for the
        sample recipient, links short, opt-out line), also once the mailing is sent."""
        self.partner.name = "Sample Customer with a rather long name " * 2
        mailing = self.mailing.with_env(self.env)
        mailing.body_plaintext = (
            "Hello {{ object.name }}, " + "x" * 40 + " https://www.example.com/new"
        )
        wizard = self._new_wizard(numbers="+32470414141")
        self.assertEqual((wizard.sms_parts, wizard.sms_encoding), (2, "gsm7"))
        with self.mockSMSGateway():
            wizard.action_send_sms()
        self.assertEqual(sms_parts_count(self._sms[0]["body"]), 2, "what was sent")
        mailing.write({"state": "done", "sent_date": fields.Datetime.now()})
        self.assertEqual(mailing.sms_estimate_parts, 0, "nothing left to send")
        wizard = self._new_wizard(numbers="+32470414141")
        self.assertEqual(wizard.sms_parts, 2)
        mailing.body_plaintext = "Hello \U0001f338"
        wizard = self._new_wizard(numbers="+32470414141")
        self.assertEqual((wizard.sms_parts, wizard.sms_encoding), (1, "unicode"))

    @users("user_marketing")
    def test_send_sample_refused(self):
        wizard = self._new_wizard(numbers="+32470434343")
        with self.mockSMSGateway(sim_error="credit"):
            action = wizard.action_send_sms()
        self.assertEqual(
            action["tag"], "mass_mailing_sms_insufficient_credits", "offers to buy credits (E1)"
        )
        log = self.mailing.message_ids[0].body
        self.assertIn("could not be sent to +32470434343", log)
        self.assertIn("<a href=", log, "the buy-credits link stays a link")

        with self.mockSMSGateway(sim_error="server_error"):
            action = self._new_wizard(numbers="+32470434343").action_send_sms()
        self.assertEqual(action["params"]["type"], "danger")

    @users("user_marketing")
    @mute_logger("odoo.addons.mail.models.mail_render_mixin")
    def test_broken_template(self):
        self.mailing.with_env(self.env).body_plaintext = "Hello {{ object.name_id.id }}"
        wizard = self._new_wizard(numbers="+32470444444")
        with self.assertRaises(UserError), self.mockSMSGateway():
            wizard.action_send_sms()
        self.assertFalse(self._sms)

        self.mailing.with_env(self.env).body_plaintext = " "
        with self.assertRaises(UserError), self.mockSMSGateway():
            wizard.action_send_sms()
