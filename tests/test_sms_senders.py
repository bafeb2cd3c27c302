# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
from unittest.mock import patch

from odoo.exceptions import ValidationError
from odoo.tests import Form, tagged

from odoo.addons.mass_mailing_sms.tests.common import MassSMSCommon
from odoo.addons.mass_mailing_sms.tests.twilio import TwilioCase
from odoo.addons.mass_mailing_sms.tools import sms_countries
from odoo.addons.mass_mailing_sms.tools.sms_compliance import Compliance
from odoo.addons.mass_mailing_sms.tools.sms_countries import NumberCountries, calling_codes_of
from odoo.addons.phone_validation.tools.phone_validation import (
    phone_get_region_data_for_number as phone_region,
)

US_NUMBER = "+12025550143"  # Washington, D.C.
CA_NUMBER = "+14165550143"  # Toronto: +1 as well
BE_NUMBER = "+32470123456"
FR_NUMBER = "+33612345678"
US_SENDER = "+14155550100"


@tagged("post_install", "-at_install", "mass_mailing_sms")
class TestSmsSenders(MassSMSCommon):
    """Issue 29: senders of the provider account, each with its countries and one default."""

    def _country(self, code):
        return self.env.ref(f"base.{code.lower()}")

    def test_invalid_sender_refused_with_a_clear_message(self):
        senders = self.env["sms.twilio.number"]
        for name in ("12345", "ACME MARKETING", "ACME!", "Ünïcode", "+12"):
            with self.subTest(name=name), self.assertRaises(ValidationError) as raised:
                senders.create({"name": name})
            self.assertIn(f"“{name}” cannot be a sender", str(raised.exception))
            self.assertIn("1 to 11 letters, digits and spaces", str(raised.exception))
        saved = senders.create([{"name": "ACME"}, {"name": "Shop 24"}, {"name": "0032 470 12"}])
        self.assertEqual(saved.mapped("name"), ["ACME", "Shop 24", "+3247012"])
        with self.assertRaises(ValidationError):
            saved[0].name = "1234567"

    def test_one_default_per_company(self):
        first, second = self.env["sms.twilio.number"].create(
            [{"name": "ACME", "is_default": True}, {"name": "SHOP"}]
        )
        second.is_default = True
        self.assertEqual((first.is_default, second.is_default), (False, True))
        third = self.env["sms.twilio.number"].create({"name": "OTHER", "is_default": True})
        self.assertEqual((second.is_default, third.is_default), (False, True))

    def test_main_country_follows_the_countries(self):
        """Odoo 19's single ``country_id`` and our ``country_ids`` name the same countries."""
        be, fr = self._country("BE"), self._country("FR")
        sender = self.env["sms.twilio.number"].create({"name": "ACME", "country_id": fr.id})
        self.assertEqual(sender.country_ids, fr)
        sender.country_ids = be
        self.assertEqual(sender.country_id, be)
        sender.country_ids = False
        self.assertFalse(sender.country_id)

    def test_country_of_numbers(self):
        countries = NumberCountries()
        self.assertEqual(
            [
                countries.code(number)
                for number in (US_NUMBER, CA_NUMBER, BE_NUMBER, FR_NUMBER, "+447400123456")
            ],
            ["US", "CA", "BE", "FR", "GB"],
        )
        self.assertEqual(countries.code("+447781123456"), "GG", "+44 7781: Guernsey")
        self.assertEqual(countries.code("+18765550143"), "JM", "+1 876: Jamaica, not the US")
        self.assertEqual([countries.code(n) for n in ("", False, "0470", "+999123")], [""] * 4)

    def test_country_read_only_for_the_calling_codes_wanted(self):
        """A +44 number is read (parsed) per number: not when no wanted country uses +44."""
        countries = NumberCountries()
        us_and_canada = calling_codes_of({"US", "CA"})
        self.assertEqual(us_and_canada, {1})
        with patch.object(
            sms_countries, "phone_get_region_data_for_number", wraps=phone_region
        ) as read:
            self.assertEqual(countries.code("+447400123456", us_and_canada), "")
            self.assertEqual(countries.code(BE_NUMBER, us_and_canada), "", "+32: not read")
            read.assert_not_called()
            self.assertEqual(countries.code(CA_NUMBER, us_and_canada), "CA")
            self.assertEqual(countries.code("+447400123456", calling_codes_of({"GB"})), "GB")
            self.assertEqual(read.call_count, 2)
        compliance = Compliance("", {"US", "CA"}, "Reply STOP to opt out", True, countries)
        self.assertEqual(
            [compliance.replies_stop(n) for n in (US_NUMBER, CA_NUMBER, "+447400123456")],
            [True, True, False],
        )

    def test_sender_per_country_else_the_default(self):
        company = self.env.company
        company.sms_twilio_number_ids.unlink()
        self.env["sms.twilio.number"].create(
            [
                {"name": US_SENDER, "country_ids": [(6, 0, self._country("US").ids)]},
                {"name": "ACME BE", "country_ids": [(6, 0, self._country("BE").ids)]},
                {"name": "ACME", "is_default": True},
            ]
        )
        choice = company._sms_sender_choice()
        self.assertEqual(
            [choice.sender_for(n) for n in (US_NUMBER, BE_NUMBER, FR_NUMBER, CA_NUMBER)],
            [US_SENDER, "ACME BE", "ACME", "ACME"],
        )
        # without a default, the first of the list
        company.sms_twilio_number_ids.is_default = False
        self.assertEqual(company._sms_sender_choice().sender_for(FR_NUMBER), US_SENDER)

    def test_no_sender_summary_for_iap(self):
        self.env.company.sms_provider = "iap"
        mailing = self._create_sms_mailing()
        self.assertFalse(mailing.sms_estimate_senders, "Odoo IAP picks its own sender")


@tagged("post_install", "-at_install", "mass_mailing_sms")
class TestSmsSendersTwilio(TwilioCase):
    """A mailing to US, Belgian and French numbers through Twilio: each SMS from the sender
    of its country; the estimate and the test dialog say which."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.numbers = [US_NUMBER, BE_NUMBER, FR_NUMBER]
        cls.partners = (
            cls.env["res.partner"]
            .with_context(**cls._test_context)
            .create([{"name": f"Sender {idx}", "mobile": n} for idx, n in enumerate(cls.numbers)])
        )
        cls.mailing = cls._create_sms_mailing(mailing_domain=[("id", "in", cls.partners.ids)])

    def setUp(self):
        super().setUp()
        self.env.company.sms_twilio_number_ids.unlink()
        self.env["sms.twilio.number"].create(
            [
                {"name": US_SENDER, "country_ids": [(6, 0, self.env.ref("base.us").ids)]},
                {"name": "ACME BE", "country_ids": [(6, 0, self.env.ref("base.be").ids)]},
                {"name": "ACME", "is_default": True},
            ]
        )

    def test_each_sms_leaves_from_the_sender_of_its_country(self):
        self.mailing.action_send_sms()
        self.env["sms.sms"].sudo()._sms_process_mailing_queue(auto_commit=False)
        created = {
            params["To"]: params["From"]
            for method, path, params in self.fake_twilio.requests
            if method == "POST" and path.endswith("/Messages.json")
        }
        self.assertEqual(created, {US_NUMBER: US_SENDER, BE_NUMBER: "ACME BE", FR_NUMBER: "ACME"})
        self.assertEqual(self.mailing.state, "done")

    def test_estimate_and_test_dialog_name_the_senders(self):
        self.assertEqual(
            self.mailing.sms_estimate_senders,
            f"{US_SENDER} (United States); ACME BE (Belgium); ACME for the other countries",
        )
        wizard = Form(self.env["mailing.sms.test"].with_context(default_mailing_id=self.mailing.id))
        wizard.numbers = f"Joe, {US_NUMBER}\nAnne, {BE_NUMBER}\n{FR_NUMBER}\nnot a number"
        self.assertEqual(
            wizard.sms_senders,
            f"{US_NUMBER}: from {US_SENDER}\n{BE_NUMBER}: from ACME BE\n{FR_NUMBER}: from ACME",
        )
        wizard.save().action_send_sms()
        self.assertEqual(
            {message["to"]: message["from"] for message in self.fake_twilio.messages},
            {US_NUMBER: US_SENDER, BE_NUMBER: "ACME BE", FR_NUMBER: "ACME"},
        )

    def test_messaging_service_picks_the_sender(self):
        self.env.company.sms_twilio_messaging_service_sid = "MG" + "2" * 32
        self.mailing.invalidate_recordset(["sms_estimate_senders"])
        self.assertEqual(
            self.mailing.sms_estimate_senders, "Twilio's Messaging Service picks the sender"
        )
