# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
from odoo.tests import Form, tagged

from odoo.addons.mass_mailing_sms.tests.common import MassSMSCommon
from odoo.addons.mass_mailing_sms.tools.sms_text import sms_parts_count

US_NUMBER = "+12025550143"
BE_NUMBER = "+32470123456"
FR_NUMBER = "+33612345678"
# 125 characters: with "Acme: " and "Reply STOP to opt out" one SMS part (153), with the
# opt-out link two
LONG_TEXT = "Spring sale in every shop this weekend: " + "x" * 85


@tagged("post_install", "-at_install", "mass_mailing_sms")
class TestSmsCompliance(MassSMSCommon):
    """Issue 29: the brand prefix and the opt-out footer of each recipient's country; the
    part counter, the estimate and the SMS sent count the footer the recipient gets."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.write(
            {
                "sms_brand_prefix": "Acme: ",
                "sms_stop_country_ids": [
                    (6, 0, (cls.env.ref("base.us") | cls.env.ref("base.ca")).ids)
                ],
            }
        )
        cls.partners = cls.env["res.partner"].create(
            [
                {"name": "Joe", "mobile": US_NUMBER},
                {"name": "Anne", "mobile": BE_NUMBER},
                {"name": "Marie", "mobile": FR_NUMBER},
            ]
        )
        cls.mailing = cls._create_sms_mailing(
            body_plaintext=LONG_TEXT,
            mailing_domain=[("id", "in", cls.partners.ids)],
            sms_allow_unsubscribe=True,
        )

    def _sent_bodies(self):
        return {sms["number"]: sms["body"] for sms in self._sms}

    def test_each_recipient_gets_the_footer_of_its_country(self):
        with self.mockSMSGateway():
            self.mailing.action_send_sms()
            self.env["sms.sms"].sudo()._process_queue()
        bodies = self._sent_bodies()
        self.assertEqual(bodies[US_NUMBER], f"Acme: {LONG_TEXT}\nReply STOP to opt out")
        for number in (BE_NUMBER, FR_NUMBER):
            trace = self.mailing.mailing_trace_ids.filtered(lambda t, n=number: t.sms_number == n)
            self.assertEqual(
                bodies[number],
                f"Acme: {LONG_TEXT}\nSTOP SMS: {self.mailing._sms_get_unsubscribe_url(trace.sms_code)}",
            )

    def test_estimate_and_counter_count_what_is_sent(self):
        mailing = self.mailing
        self.assertEqual(mailing.sms_estimate_recipients, 3)
        self.assertEqual(mailing.sms_estimate_parts, 2, "the longest text: the link's")
        self.assertEqual(mailing.sms_estimate_total_parts, 5, "1 for the US, 2 for BE and FR")
        # the counter of the form: the prefix and the longest footer, as long as the sent one
        self.assertEqual(mailing.sms_counter_prefix, "Acme: ")
        with self.mockSMSGateway():
            mailing.action_send_sms()
            self.env["sms.sms"].sudo()._process_queue()
        bodies = self._sent_bodies()
        self.assertEqual(sum(sms_parts_count(body) for body in bodies.values()), 5)
        link_footer = bodies[BE_NUMBER][len(f"Acme: {LONG_TEXT}") :]
        self.assertEqual(len(mailing.sms_counter_footer), len(link_footer))

    def test_test_dialog_writes_each_number_its_footer(self):
        wizard = Form(self.env["mailing.sms.test"].with_context(default_mailing_id=self.mailing.id))
        wizard.numbers = US_NUMBER
        self.assertEqual(wizard.sms_parts, 1, "Reply STOP keeps it in one part")
        wizard.numbers = f"{US_NUMBER}\n{BE_NUMBER}"
        self.assertEqual(wizard.sms_parts, 2, "the Belgian number gets the link")
        with self.mockSMSGateway():
            wizard.save().action_send_sms()
        bodies = self._sent_bodies()
        self.assertTrue(bodies[US_NUMBER].endswith("\nReply STOP to opt out"))
        self.assertIn("\nSTOP SMS: ", bodies[BE_NUMBER])
        self.assertTrue(all(body.startswith("Acme: ") for body in bodies.values()))

    def test_prefix_alone_without_opt_out(self):
        self.mailing.sms_allow_unsubscribe = False
        self.assertEqual(self.mailing.sms_estimate_total_parts, 3)
        with self.mockSMSGateway():
            self.mailing.action_send_sms()
            self.env["sms.sms"].sudo()._process_queue()
        self.assertEqual(set(self._sent_bodies().values()), {f"Acme: {LONG_TEXT}"})

    def test_text_starting_with_the_prefix_keeps_one(self):
        self.mailing.body_plaintext = "Acme: hello"
        with self.mockSMSGateway():
            self.mailing.action_send_sms()
            self.env["sms.sms"].sudo()._process_queue()
        self.assertEqual(self._sent_bodies()[US_NUMBER], "Acme: hello\nReply STOP to opt out")

    def test_reply_stop_countries_by_default(self):
        company = self.env["res.company"].create({"name": "New Company"})
        self.assertEqual(sorted(company.sms_stop_country_ids.mapped("code")), ["CA", "US"])
        company.sms_stop_country_ids = False
        self.env["res.company"]._sms_init_stop_countries()
        self.assertEqual(len(company.sms_stop_country_ids), 2, "set again where none is")
