# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
from odoo.tests import tagged

from odoo.addons.mail.tests.common import mail_new_test_user
from odoo.addons.mass_mailing_sms.tests.common import MassSMSCase


@tagged("post_install", "-at_install", "mass_mailing_sms")
class TestUiTours(MassSMSCase):
    """What a marketer (not an administrator) does in the SMS Marketing app, in a browser."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user_marketing = mail_new_test_user(
            cls.env,
            login="tour_sms_marketing",
            name="Mara Marketing",
            groups="base.group_user,mass_mailing.group_mass_mailing_user",
            mobile="+32 456 99 88 77",
        )
        cls.mailing_list = cls.env["mailing.list"].create({"name": "Tour SMS List"})
        cls.contacts = cls.env["mailing.contact"].create(
            [
                {
                    "name": "Tour Contact One",
                    "email": "tour.one@example.com",
                    "mobile": "+32 470 11 22 33",
                    "list_ids": [(4, cls.mailing_list.id)],
                },
                {
                    "name": "Tour Contact Two",
                    "mobile": "+32 470 44 55 66",
                    "list_ids": [(4, cls.mailing_list.id)],
                },
            ]
        )

    def _create_credit_mailing(self):
        return (
            self.env["mailing.mailing"]
            .with_user(self.user_marketing)
            .create(
                {
                    "mailing_type": "sms",
                    "subject": "Tour Credits",
                    "body_plaintext": "Our spring sale starts now",
                    "mailing_model_id": self.env["ir.model"]._get_id("mailing.list"),
                    "contact_list_ids": [(6, 0, self.mailing_list.ids)],
                    "sms_force_send": True,
                }
            )
        )

    def test_create_test_send_and_see_recipients(self):
        """F1, C4, A3, A4, then A1/A2 once the queue sent the mailing."""
        with self.mockSMSGateway():
            self.start_tour(
                "/odoo", "mass_mailing_sms_create_and_send", login=self.user_marketing.login
            )
        mailing = self.env["mailing.mailing"].search([("subject", "=", "Tour Spring Sale")])
        self.assertEqual(mailing.mailing_type, "sms")
        self.assertEqual(mailing.state, "in_queue")
        self.assertEqual(mailing.contact_list_ids, self.mailing_list)
        self.assertIn("+32456001122", [sms["number"] for sms in self._sms], "the test SMS went out")
        with self.mockSMSGateway():
            mailing.sms_force_send = True  # what the queue does, without waiting for it
            mailing.action_send_sms()
        self.assertEqual(mailing.sent, 2)
        with self.mockSMSGateway():
            self.start_tour(
                "/odoo", "mass_mailing_sms_sent_recipients", login=self.user_marketing.login
            )

    def test_lists_and_contacts_from_sms_app(self):
        """G4, L2."""
        self.start_tour("/odoo", "mass_mailing_sms_lists_contacts", login=self.user_marketing.login)

    def test_blacklist_and_unblacklist(self):
        """B1: a marketing user who is not an administrator manages the phone blacklist."""
        self.assertFalse(self.user_marketing.has_group("base.group_system"))
        self.start_tour("/odoo", "mass_mailing_sms_blacklist", login=self.user_marketing.login)
        entry = (
            self.env["phone.blacklist"]
            .with_context(active_test=False)
            .search([("number", "=", "+32470556677")])
        )
        self.assertTrue(entry)
        self.assertFalse(entry.active)

    def test_insufficient_credits(self):
        """E1-E3: the provider answers that the account has no credits left."""
        mailing = self._create_credit_mailing()
        with self.mockSMSGateway(sim_error="credit"):
            self.start_tour(
                "/odoo",
                "mass_mailing_sms_insufficient_credits_test",
                login=self.user_marketing.login,
            )
            mailing.action_send_sms()
            self._sms_run_sent_directly()  # what its commit would do
            self.assertTrue(mailing.sms_has_insufficient_credit)
            self.start_tour(
                "/odoo",
                "mass_mailing_sms_insufficient_credits_mailing",
                login=self.user_marketing.login,
            )

    def test_estimate_before_sending(self):
        """Issue 9: recipients, parts per message with placeholders filled for a sample, and
        the total, on the form and in the send confirmation; cancelling sends nothing."""
        estimate_list = self.env["mailing.list"].create({"name": "Tour Estimate List"})
        self.env["mailing.contact"].create(
            [
                {
                    "name": f"Maximilian Alexander von Tourenberg-Estimatington {index}",
                    "mobile": f"+32 470 77 88 9{index}",
                    "list_ids": [(4, estimate_list.id)],
                }
                for index in range(3)
            ]
        )
        with self.mockSMSGateway():
            self.start_tour("/odoo", "mass_mailing_sms_estimate", login=self.user_marketing.login)
        mailing = self.env["mailing.mailing"].search([("subject", "=", "Tour Estimate")])
        self.assertEqual(mailing.state, "draft")
        self.assertEqual((mailing.sms_estimate_recipients, mailing.sms_estimate_parts), (3, 2))
        self.assertFalse(self._sms, "cancelling the confirmation sends nothing")

    def test_reporting_measures(self):
        """R1: in SMS Reporting, neither the graph nor the pivot offers Opened or Replied."""
        mailing = self._create_credit_mailing()
        mailing.subject = "Tour Reporting"
        with self.mockSMSGateway():
            mailing.action_send_sms()
        self.assertEqual(mailing.sent, 2)
        self.start_tour(
            "/odoo", "mass_mailing_sms_reporting_measures", login=self.user_marketing.login
        )

    def test_empty_text_counts_no_part(self):
        """Issue 25.4: the counter and the estimate agree that an empty text is 0 SMS parts,
        with or without the opt-out line; Send refuses it."""
        with self.mockSMSGateway():
            self.start_tour("/odoo", "mass_mailing_sms_empty_text", login=self.user_marketing.login)
        self.assertFalse(
            self.env["mailing.mailing"].search([("subject", "=", "Tour Empty Text")]),
            "an SMS mailing without text is not saved",
        )
        self.assertFalse(self._sms)

    def test_test_dialog_of_a_sent_mailing(self):
        """Issue 25.1: the Test dialog of a sent mailing counts the parts of the text it will
        send, not the estimate of what is left to send (0 once sent)."""
        for contact in self.contacts:  # whichever the sample is, its text takes 2 parts
            contact.name = f"{contact.name} with a name long enough to need a second part"
        mailing = self._create_credit_mailing()
        mailing.write(
            {
                "subject": "Tour Sent Sample",
                "body_plaintext": "Dear {{ object.name }}, " + "our spring sale starts now " * 3,
                "sms_allow_unsubscribe": True,
            }
        )
        with self.mockSMSGateway():
            mailing.action_send_sms()
        self.assertEqual(mailing.state, "done")
        self.assertEqual(mailing.sms_estimate_parts, 0)
        self.start_tour(
            "/odoo", "mass_mailing_sms_test_sent_mailing", login=self.user_marketing.login
        )

    def test_compliance_and_senders_on_the_form(self):
        """Issue 29: the marketer sees the brand prefix and the footer of each country
        counted, and the sender of each country, before sending."""
        company = self.env.company
        company.sms_twilio_number_ids.unlink()
        company.write(
            {
                "sms_provider": "twilio",
                "sms_brand_prefix": "Acme: ",
                "sms_stop_country_ids": [(6, 0, self.env.ref("base.us").ids)],
                "sms_twilio_number_ids": [
                    (0, 0, {"name": "+14155550100", "country_ids": self.env.ref("base.us").ids}),
                    (0, 0, {"name": "ACME BE", "country_ids": self.env.ref("base.be").ids}),
                    (0, 0, {"name": "ACME", "is_default": True}),
                ],
            }
        )
        compliance_list = self.env["mailing.list"].create({"name": "Tour Compliance List"})
        self.env["mailing.contact"].create(
            [
                {"name": "Joe", "mobile": "+12025550143", "list_ids": [(4, compliance_list.id)]},
                {"name": "Anne", "mobile": "+32470123456", "list_ids": [(4, compliance_list.id)]},
            ]
        )
        self.start_tour("/odoo", "mass_mailing_sms_compliance", login=self.user_marketing.login)
        mailing = self.env["mailing.mailing"].search([("subject", "=", "Tour Compliance")])
        self.assertEqual(
            (
                mailing.sms_estimate_recipients,
                mailing.sms_estimate_parts,
                mailing.sms_estimate_total_parts,
            ),
            (2, 2, 3),
        )
