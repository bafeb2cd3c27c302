# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
from psycopg2 import IntegrityError

from odoo.exceptions import UserError
from odoo.tests import tagged, users
from odoo.tools import mute_logger

from odoo.addons.mass_mailing_sms.tests.common import MassSMSCommon


@tagged("post_install", "-at_install", "mass_mailing_sms")
class TestMailingSmsSending(MassSMSCommon):
    """From recipients to one trace each: who gets an SMS, who is skipped and why."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        partner_model = cls.env["res.partner"].with_context(**cls._test_context)
        # names sort in this order, which is the order recipients are processed in
        cls.p_valid = partner_model.create({"name": "A Valid", "mobile": "0470 00 00 01"})
        cls.p_dup_1, cls.p_dup_2, cls.p_dup_3 = partner_model.create(
            [
                {"name": "B Dup Local", "mobile": "0470 11 22 33"},
                {"name": "C Dup International", "mobile": "+32 470 11 22 33"},
                {"name": "D Dup Zeros", "phone": "0032470112233"},
            ]
        )
        cls.p_missing = partner_model.create({"name": "E Missing"})
        cls.p_bad_1, cls.p_bad_2, cls.p_bad_3 = partner_model.create(
            [
                {"name": "F Bad Letters", "mobile": "abcd"},
                {"name": "G Bad Short", "mobile": "0470"},
                {"name": "H Bad Long", "mobile": "0470 11 22 33 44 55 66 77"},
            ]
        )
        cls.p_blacklisted = partner_model.create({"name": "I Blacklisted", "mobile": "0470998877"})
        cls.env["phone.blacklist"].sudo().create({"number": "+32470998877"})
        cls.p_french = partner_model.create(
            {"name": "J French", "mobile": "06 12 34 56 78", "country_id": cls.country_fr.id}
        )
        cls.partners = (
            cls.p_valid
            | cls.p_dup_1
            | cls.p_dup_2
            | cls.p_dup_3
            | cls.p_missing
            | cls.p_bad_1
            | cls.p_bad_2
            | cls.p_bad_3
            | cls.p_blacklisted
            | cls.p_french
        )
        cls.mailing = cls._create_sms_mailing(mailing_domain=[("id", "in", cls.partners.ids)])

    @users("user_marketing")
    def test_send_every_status(self):
        """RELIABILITY rows 1, 3, 4, 10, 13, 20: one trace each, with the right status."""
        mailing = self.mailing.with_env(self.env)
        self.assertEqual(set(mailing._get_remaining_recipients()), set(self.partners.ids))
        with self.mockSMSGateway():
            self.assertTrue(mailing.action_send_sms())

        self.assertSMSTraces(
            [
                {"partner": self.p_valid, "number": "+32470000001", "trace_status": "outgoing"},
                {"partner": self.p_dup_1, "number": "+32470112233", "trace_status": "outgoing"},
                {
                    "number": "+32470112233",
                    "trace_status": "cancel",
                    "failure_type": "sms_duplicate",
                },
                {
                    "number": "+32470112233",
                    "trace_status": "cancel",
                    "failure_type": "sms_duplicate",
                },
                {"number": False, "trace_status": "cancel", "failure_type": "sms_number_missing"},
                {"number": "abcd", "trace_status": "bounce", "failure_type": "sms_number_format"},
                {"number": "0470", "trace_status": "bounce", "failure_type": "sms_number_format"},
                {
                    "number": "0470 11 22 33 44 55 66 77",
                    "trace_status": "bounce",
                    "failure_type": "sms_number_format",
                },
                {
                    "number": "+32470998877",
                    "trace_status": "cancel",
                    "failure_type": "sms_blacklist",
                },
                {
                    "partner": self.p_french,
                    "number": "+33612345678",
                    "trace_status": "outgoing",
                    "content": "Hello J French, spring sale!",
                },
            ],
            mailing,
            self.partners,
        )
        self.assertEqual(len(self._new_sms), 3, "SMS only for the three who can get one")
        self.assertEqual(len(self._sms), 0, "queued, nothing sent yet")
        duplicates = self._find_sms_traces(mailing, self.p_dup_2 | self.p_dup_3)
        for trace in duplicates:
            self.assertIn("B Dup Local", trace.failure_reason, "names the kept recipient")
        self.assertEqual(mailing.state, "sending")
        self.assertEqual(mailing.expected, 10)
        self.assertEqual(mailing.scheduled, 3)
        self.assertEqual(mailing.canceled, 4)
        self.assertEqual(mailing.bounced, 3)

    @users("user_marketing")
    def test_first_valid_number_is_taken(self):
        """Issue 16.3: as Odoo does, a recipient's first valid number is taken; a bad mobile
        beside a good phone does not bounce. Only when none is valid the first one written
        is kept, and bounces."""
        owner, both_bad = (
            self.env["res.partner"]
            .with_context(**self._test_context)
            .create(
                [
                    {"name": "Two Numbers", "mobile": "0470 12", "phone": "0470 55 66 77"},
                    {"name": "Two Bad Numbers", "mobile": "0470 13", "phone": "abc"},
                ]
            )
        )
        mailing = self.mailing.with_env(self.env)
        # a model without a stored sanitized number: its own fields, in their order
        numbers = mailing._sms_read_own_numbers(owner | both_bad, False, ["mobile", "phone"])
        self.assertEqual(
            (numbers[owner.id]["number"], numbers[owner.id]["sanitized"]),
            ("0470 55 66 77", "+32470556677"),
        )
        self.assertEqual(
            (numbers[both_bad.id]["number"], numbers[both_bad.id]["sanitized"]), ("0470 13", False)
        )
        # through the contact of a record: the contact's valid phone, not its bad mobile
        accounts = self.env["res.partner.bank"].create(
            [
                {"acc_number": "BE71 0961 2345 6769", "partner_id": owner.id},
                {"acc_number": "BE68 5390 0754 7034", "partner_id": both_bad.id},
            ]
        )
        bank_mailing = self._create_sms_mailing(
            model="res.partner.bank", mailing_domain=[("id", "in", accounts.ids)]
        ).with_env(self.env)
        numbers = bank_mailing._sms_get_recipients_numbers(accounts)
        self.assertEqual(numbers[accounts[0].id]["number"], "0470 55 66 77")
        self.assertEqual(numbers[accounts[0].id]["sanitized"], "+32470556677")
        self.assertEqual(
            (numbers[accounts[1].id]["number"], numbers[accounts[1].id]["sanitized"]),
            ("0470 13", False),
        )

    def test_send_record_and_partner_countries(self):
        """RELIABILITY row 3: a number without country code is read with the record's
        country, else its contact's, else the company's."""
        partner_fr = self.env["res.partner"].create(
            {"name": "Bank Owner", "mobile": "06 11 11 11 11", "country_id": self.country_fr.id}
        )
        bank_accounts = self.env["res.partner.bank"].create(
            [{"acc_number": "BE71 0961 2345 6769", "partner_id": partner_fr.id}]
        )
        mailing = self._create_sms_mailing(
            model="res.partner.bank",
            body_plaintext="Your account is ready",
            mailing_domain=[("id", "in", bank_accounts.ids)],
        ).with_env(self.env)
        contacts = self.env["mailing.contact"].create(
            [
                {
                    "name": "Contact FR",
                    "mobile": "06 22 22 22 22",
                    "country_id": self.country_fr.id,
                },
                {"name": "Contact BE", "mobile": "0470 22 22 22"},
            ]
        )
        mailing_contacts = self._create_sms_mailing(
            model="mailing.contact",
            body_plaintext="Hi",
            mailing_domain=[("id", "in", contacts.ids)],
        ).with_env(self.env)
        with self.mockSMSGateway():
            mailing.action_send_sms()
            mailing_contacts.action_send_sms()
        self.assertSMSTraces(
            [{"partner": partner_fr, "number": "+33611111111", "trace_status": "outgoing"}],
            mailing,
            bank_accounts,
        )
        self.assertSMSTraces(
            [
                {"number": "+33622222222", "trace_status": "outgoing"},
                {"number": "+32470222222", "trace_status": "outgoing"},
            ],
            mailing_contacts,
            contacts,
        )
        # the marketer sees how many numbers were read with a guessed country
        self.assertEqual(mailing.sms_country_guessed_count, 1)
        self.assertEqual(mailing_contacts.sms_country_guessed_count, 2)
        international = self.env["mailing.contact"].create(
            {"name": "Contact Intl", "mobile": "+32 470 33 33 33"}
        )
        mailing_contacts.action_send_sms(res_ids=international.ids)
        self.assertEqual(mailing_contacts.sms_country_guessed_count, 2, "had its country code")

    @users("user_marketing")
    def test_model_without_phone(self):
        """RELIABILITY row 12: recipients that cannot have a number are refused."""
        mailing = self._create_sms_mailing(model="utm.campaign").with_env(self.env)
        with self.assertRaises(UserError), self.mockSMSGateway():
            mailing.action_send_sms()
        with self.assertRaises(UserError):
            mailing.action_put_in_queue()
        with self.assertRaises(UserError):
            mailing.action_schedule()
        self.assertEqual(mailing.state, "draft")
        self.assertFalse(mailing.mailing_trace_ids)
        warning = mailing._onchange_sms_mailing_model_id()
        self.assertIn("no phone number", warning["warning"]["message"])
        self.assertFalse(self._find_sms_traces(mailing, self.partners))

    @users("user_marketing")
    def test_empty_body_refused(self):
        """RELIABILITY row 6: an empty text is refused when sending or scheduling."""
        mailing = self.mailing.with_env(self.env)
        for body in (False, "   \n "):
            mailing.body_plaintext = body
            with self.assertRaises(UserError), self.mockSMSGateway():
                mailing.action_send_sms()
            with self.assertRaises(UserError):
                mailing.action_put_in_queue()
            with self.assertRaises(UserError):
                mailing.action_launch()
            with self.assertRaises(UserError):
                mailing.action_schedule()
        self.assertEqual(mailing.state, "draft")
        self.assertFalse(mailing.mailing_trace_ids)
        self.assertFalse(self._new_sms)

    @users("user_marketing")
    def test_too_many_parts_refused(self):
        """RELIABILITY rows 7, 8: parts counted in GSM-7, or Unicode as soon as one character
        is outside it; a text over the cap is refused before anything is sent."""
        mailing = self.mailing.with_env(self.env)
        mailing.body_plaintext = "a" * 160
        self.assertEqual(mailing._sms_estimate_parts(), 1)
        mailing.body_plaintext = "a" * 161
        self.assertEqual(mailing._sms_estimate_parts(), 2)
        mailing.body_plaintext = "a" * 69 + "ł"
        self.assertEqual(mailing._sms_estimate_parts(), 1, "70 Unicode characters")
        mailing.body_plaintext = "a" * 70 + "😀"
        self.assertEqual(mailing._sms_estimate_parts(), 2, "an emoji takes two Unicode units")
        mailing.body_plaintext = "a" * 153 * 10
        mailing.action_launch()  # 10 parts: allowed
        mailing.action_cancel()
        mailing.body_plaintext = "a" * (153 * 10 + 1)
        with self.assertRaises(UserError), self.mockSMSGateway():
            mailing.action_send_sms()
        with self.assertRaises(UserError):
            mailing.action_launch()
        self.assertFalse(mailing.mailing_trace_ids)
        self.assertFalse(self._new_sms)

    @users("user_marketing")
    @mute_logger("odoo.addons.mass_mailing_sms.models.mailing_mailing")
    def test_empty_body_in_cron_does_not_block_the_queue(self):
        """A mailing queued then emptied goes back to draft with a note; others still go."""
        broken = self.mailing.with_env(self.env)
        other = self._create_sms_mailing(
            body_plaintext="Other", mailing_domain=[("id", "=", self.p_valid.id)]
        ).with_env(self.env)
        (broken | other).action_put_in_queue()
        broken.body_plaintext = ""
        with self.mockSMSGateway():
            self.env["mailing.mailing"].sudo()._process_mass_mailing_queue()
        self.assertEqual(broken.state, "draft")
        self.assertIn("no text", broken.message_ids[0].body)
        self.assertEqual(len(other.mailing_trace_ids), 1)

    @users("user_marketing")
    @mute_logger("odoo.addons.mail.models.mail_render_mixin")
    def test_placeholder_failing_on_one_record(self):
        """RELIABILITY row 9: that recipient gets an error trace with the reason."""
        self.p_dup_1.sudo().color = 0
        (self.p_valid | self.p_french).sudo().color = 4
        recipients = self.p_valid | self.p_dup_1 | self.p_french
        mailing = self._create_sms_mailing(
            body_plaintext="Quarter: {{ 100 // object.color }}",
            mailing_domain=[("id", "in", recipients.ids)],
            sms_force_send=True,
        ).with_env(self.env)
        with self.mockSMSGateway():
            mailing.action_send_sms()
        self.assertSMSTraces(
            [
                {"number": "+32470000001", "content": "Quarter: 25", "trace_status": "pending"},
                {"number": "+32470112233", "trace_status": "error", "failure_type": "unknown"},
                {"number": "+33612345678", "content": "Quarter: 25", "trace_status": "pending"},
            ],
            mailing,
            recipients,
        )
        failed = self._find_sms_traces(mailing, self.p_dup_1)
        self.assertIn("could not be written", failed.failure_reason)
        self.assertEqual(len(self._sms), 2)

    @users("user_marketing")
    def test_deleted_recipient_skipped(self):
        ghost = self.env["res.partner"].create({"name": "Ghost", "mobile": "0470 55 55 55"})
        ghost_id = ghost.id
        ghost.unlink()
        mailing = self.mailing.with_env(self.env)
        with self.mockSMSGateway():
            mailing.action_send_sms(res_ids=[self.p_valid.id, ghost_id])
        self.assertEqual(mailing.mailing_trace_ids.mapped("res_id"), [self.p_valid.id])
        self.assertEqual(len(self._new_sms), 1)

    @users("user_marketing")
    def test_send_twice_and_cron_twice(self):
        """Exactly once in effect: nothing is traced or sent twice."""
        mailing = self.mailing.with_env(self.env)
        with self.mockSMSGateway():
            mailing.action_send_sms(res_ids=(self.p_valid | self.p_french).ids)
            mailing.action_send_sms(res_ids=(self.p_valid | self.p_french).ids)
        self.assertEqual(len(mailing.mailing_trace_ids), 2)
        self.assertEqual(len(self._new_sms), 2)

        mailing.action_put_in_queue()
        self.assertEqual(mailing.state, "in_queue")
        mailing_sudo = self.env["mailing.mailing"].sudo()
        with self.mockSMSGateway():
            mailing_sudo._process_mass_mailing_queue()
            mailing_sudo._process_mass_mailing_queue()
        self.assertEqual(len(mailing.mailing_trace_ids), 10, "one trace per recipient")
        self.assertEqual(len(self._new_sms), 1, "only the one new valid recipient")
        self.assertEqual(mailing.state, "sending", "SMS still wait in the queue")

        with self.mockSMSGateway():
            self.env["sms.sms"].sudo()._process_queue()
            self.env["sms.sms"].sudo()._process_queue()
            mailing_sudo._process_mass_mailing_queue()
        self.assertEqual(len(self._sms), 3, "each SMS handed over once")
        self.assertEqual(mailing.state, "done")
        self.assertEqual(
            set(mailing.mailing_trace_ids.mapped("trace_status")), {"pending", "cancel", "bounce"}
        )
        with self.mockSMSGateway():
            mailing.action_send_sms()
        self.assertEqual(len(mailing.mailing_trace_ids), 10)
        self.assertFalse(self._new_sms)

    def test_one_trace_per_recipient_in_database(self):
        """The unique index refuses a second SMS trace for a recipient of a mailing."""
        mailing = self.mailing
        values = {
            "trace_type": "sms",
            "mass_mailing_id": mailing.id,
            "model": "res.partner",
            "res_id": self.p_valid.id,
        }
        self.env["mailing.trace"].create(values)
        with self.assertRaises(IntegrityError), mute_logger("odoo.sql_db"), self.env.cr.savepoint():
            self.env["mailing.trace"].create(values)

    @users("user_marketing")
    def test_template_and_medium(self):
        """F1/F2: a template fills the text; SMS mailings use the SMS medium."""
        template = (
            self.env["sms.template"]
            .sudo()
            .create(
                {
                    "name": "Spring",
                    "model_id": self.env["ir.model"]._get("res.partner").id,
                    "body": "Spring is here, {{ object.name }}",
                }
            )
        )
        mailing = (
            self.env["mailing.mailing"]
            .with_context(default_mailing_type="sms")
            .create({"subject": "Template test", "sms_template_id": template.id})
        )
        self.assertEqual(mailing.body_plaintext, template.body)
        self.assertEqual(mailing.mailing_type, "sms")
        self.assertEqual(mailing.medium_id, self.env.ref("mass_mailing_sms.utm_medium_sms"))
        self.assertEqual(mailing.sms_subject, "Template test")

    @users("user_marketing")
    def test_checked_again_when_claimed(self):
        """RELIABILITY rows 10, 14: blacklisted, opted out or deleted after queueing:
        the queued SMS is cancelled when the SMS queue claims it."""
        recipients = self.p_valid | self.p_dup_1 | self.p_french
        mailing = self.mailing.with_env(self.env)
        with self.mockSMSGateway():
            mailing.action_send_sms(res_ids=recipients.ids)
        self.env["phone.blacklist"].sudo().create({"number": "+32470000001"})
        self.p_dup_1.sudo().unlink()
        with self.mockSMSGateway():
            self.env["sms.sms"].sudo()._process_queue()
        self.assertEqual([sms["number"] for sms in self._sms], ["+33612345678"])
        traces = mailing.mailing_trace_ids
        self.assertEqual(
            sorted((t.sms_number, t.trace_status, t.failure_type) for t in traces),
            [
                ("+32470000001", "cancel", "sms_blacklist"),
                ("+32470112233", "cancel", "unknown"),
                ("+33612345678", "pending", False),
            ],
        )
        self.assertEqual(mailing.state, "done")
