# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.mass_mailing_sms.tests.twilio import ACCOUNT_SID, FROM_NUMBER, TwilioCase
from odoo.addons.mass_mailing_sms.tools.sms_keywords import normalize_keyword
from odoo.addons.mass_mailing_sms.tools.sms_twilio import twilio_signature

INBOUND = "/sms/twilio/inbound"


@tagged("post_install", "-at_install", "mass_mailing_sms")
class TestSmsReplies(TwilioCase):
    """Issue 27: recipients text back; STOP, START and HELP act, any other text is a reply of
    the mailing whose SMS last reached the number; each message acts once."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.number, cls.french_number, cls.other = "+32470920001", "+33612345678", "+32470920003"
        cls.partners = cls.env["res.partner"].create(
            [
                {"name": "Replying Rita", "mobile": cls.number},
                {"name": "Réponse Rémi", "mobile": cls.french_number},
                {"name": "Quiet Quinn", "mobile": cls.other},
            ]
        )
        cls.mailing = cls._create_sms_mailing(mailing_domain=[("id", "in", cls.partners.ids)])

    def setUp(self):
        super().setUp()
        self.mailing.action_send_sms()
        self.env["sms.sms"].sudo()._sms_process_mailing_queue(auto_commit=False)
        self.sids = iter(f"SMin{index:030d}" for index in range(1, 1000))

    def text_back(self, number, body, message_sid=None, token=None, **extra):
        """``number`` texts ``body`` to the company's Twilio number."""
        params = {
            "MessageSid": message_sid or next(self.sids),
            "AccountSid": ACCOUNT_SID,
            "From": number,
            "To": FROM_NUMBER,
            "Body": body,
            "NumSegments": "1",
            **extra,
        }
        url = f"{self.env.company.get_base_url()}{INBOUND}"
        signature = twilio_signature(token or self.env.company.sms_twilio_auth_token, url, params)
        return self.url_open(INBOUND, data=params, headers={"X-Twilio-Signature": signature})

    def _blacklist(self, number):
        return (
            self.env["phone.blacklist"]
            .sudo()
            .with_context(active_test=False)
            .search([("number", "=", number)])
        )

    def _trace(self, number):
        return self.mailing.sudo().mailing_trace_ids.filtered(lambda t: t.sms_number == number)

    def test_keywords_are_whole_messages(self):
        self.assertEqual(normalize_keyword(" Stop. "), "STOP")
        self.assertEqual(normalize_keyword("Arrêt !"), "ARRET")
        keywords = self.env["mailing.sms.keyword"]
        for text, action in (
            ("stop", "opt_out"),
            ("Stop.", "opt_out"),
            ("STOP!!", "opt_out"),
            ("Arrêt", "opt_out"),
            ("unsubscribe", "opt_out"),
            ("Start", "opt_in"),
            ("help?", "help"),
            ("don't stop", False),
            ("stop sending me this", False),
            ("", False),
        ):
            self.assertEqual(keywords._sms_action_of(text), action, text)

    def test_stop_blacklists_and_start_undoes(self):
        response = self.text_back(self.number, "stop.")
        self.assertEqual(response.status_code, 200)
        self.assertIn("<Response></Response>", response.text)
        entry = self._blacklist(self.number)
        self.assertTrue(entry.active and entry.sms_recipient_opt_out)
        self.assertIn("STOP reply", entry.message_ids[0].body)
        trace = self._trace(self.number)
        self.assertTrue(trace.sms_opt_out_datetime, "the last SMS's trace shows the opt-out")
        reply = self.env["mailing.sms.reply"].search([("number", "=", self.number)])
        self.assertEqual((reply.kind, reply.mailing_id), ("opt_out", self.mailing))

        # the next mailing skips the number
        next_mailing = self._create_sms_mailing(mailing_domain=[("id", "in", self.partners.ids)])
        next_mailing.action_send_sms()
        next_trace = next_mailing.sudo().mailing_trace_ids.filtered(
            lambda t: t.sms_number == self.number
        )
        self.assertEqual(
            (next_trace.trace_status, next_trace.failure_type), ("cancel", "sms_blacklist")
        )

        self.text_back(self.number, "START")
        self.assertFalse(self._blacklist(self.number).active, "START takes it off")

    def test_french_stop(self):
        self.text_back(self.french_number, "Arrêt")
        self.assertTrue(self._blacklist(self.french_number).active)

    def test_start_never_undoes_a_marketer_blacklist(self):
        self.env["phone.blacklist"].sudo().add(self.number)
        self.text_back(self.number, "STOP")
        self.text_back(self.number, "start")
        entry = self._blacklist(self.number)
        self.assertTrue(entry.active, "a user blacklisted it: it stays")
        self.assertFalse(entry.sms_recipient_opt_out)
        self.assertIn("it stays blacklisted", entry.message_ids[0].body)

    def test_help_gets_the_configured_answer(self):
        response = self.text_back(self.number, "HELP")
        self.assertIn("Reply STOP to stop receiving them", response.text)
        self.assertIn(self.env.company.name, response.text)
        self.env.company.sms_help_message = "Shop & Co: call 0800 123 or reply STOP."
        response = self.text_back(self.number, "info")
        self.assertIn(
            "<Message>Shop &amp; Co: call 0800 123 or reply STOP.</Message>", response.text
        )
        self.assertFalse(self._blacklist(self.number))

    def test_free_text_is_a_reply(self):
        self.text_back(self.number, "What time do you open on Sunday?")
        reply = self.env["mailing.sms.reply"].search([("number", "=", self.number)])
        self.assertEqual(reply.kind, "reply")
        self.assertEqual(reply.mailing_id, self.mailing)
        self.assertEqual((reply.model, reply.res_id), ("res.partner", self.partners[0].id))
        self.assertEqual(reply.recipient_name, "Replying Rita")
        self.assertEqual(self.mailing.sms_reply_count, 1)
        action = self.mailing.action_view_sms_replies()
        self.assertEqual(self.env["mailing.sms.reply"].search(action["domain"]), reply)
        note = self.partners[0].message_ids[0]
        self.assertIn("What time do you open on Sunday?", note.body)
        self.assertEqual(note.message_type, "sms")
        self.assertFalse(self._blacklist(self.number))
        self.assertEqual(self.mailing.sms_reply_count, 1, "no metric: its own list")

    def test_replayed_message_acts_once(self):
        self.text_back(self.number, "Is the sale on today?", message_sid="SM" + "7" * 32)
        self.text_back(self.number, "Is the sale on today?", message_sid="SM" + "7" * 32)
        self.assertEqual(
            self.env["mailing.sms.reply"].search_count([("number", "=", self.number)]), 1
        )
        self.assertEqual(
            len(self.partners[0].message_ids.filtered(lambda m: m.message_type == "sms")), 1
        )

    @mute_logger("odoo.addons.mass_mailing_sms.controllers.sms_twilio")
    def test_bad_inbound_requests_change_nothing(self):
        self.assertEqual(self.text_back(self.number, "STOP", token="forged").status_code, 403)
        self.assertEqual(self.text_back(self.number, "   ").status_code, 400)
        self.assertEqual(self.text_back(self.number, "STOP", To="+15005550000").status_code, 404)
        response = self.url_open(INBOUND, data={"From": self.number, "Body": "STOP"})
        self.assertEqual(response.status_code, 400)
        response = self.url_open(INBOUND, data=b"{}", headers={"Content-Type": "application/json"})
        self.assertEqual(response.status_code, 415)
        response = self.url_open(INBOUND, data={"Body": "x" * 70000})
        self.assertEqual(response.status_code, 413)
        self.assertFalse(self._blacklist(self.number))
        self.assertFalse(self.env["mailing.sms.reply"].search([]))

    def test_stop_mid_campaign_is_honoured_at_claim(self):
        """A STOP processed while SMS to the number wait in the queue: none leaves."""
        second = self._create_sms_mailing(mailing_domain=[("id", "in", self.partners.ids)])
        second.action_send_sms()  # built, queued, not sent yet
        self.text_back(self.other, "STOP")
        self.env["sms.sms"].sudo()._sms_process_mailing_queue(auto_commit=False)
        trace = second.sudo().mailing_trace_ids.filtered(lambda t: t.sms_number == self.other)
        self.assertEqual((trace.trace_status, trace.failure_type), ("cancel", "sms_blacklist"))
        self.assertEqual(len(self.fake_twilio.sent_to(self.other)), 1, "the first mailing only")


@tagged("post_install", "-at_install", "mass_mailing_sms")
class TestSmsRepliesTour(TwilioCase):
    """Issue 27 in a browser: the marketer opens a mailing's Replies and reads one."""

    def test_marketer_reads_a_reply(self):
        partner = self.env["res.partner"].create({"name": "Tour Replier", "mobile": "+32470930001"})
        mailing = self._create_sms_mailing(
            name="Tour Replies Sale",
            subject="Tour Replies Sale",
            mailing_domain=[("id", "=", partner.id)],
        )
        mailing.action_send_sms()
        self.env["sms.sms"].sudo()._sms_process_mailing_queue(auto_commit=False)
        self.env["mailing.sms.reply"].sudo()._sms_receive(
            self.env.company, "SM" + "8" * 32, "+32470930001", "Is the sale on Sunday too?"
        )
        self.start_tour("/odoo", "mass_mailing_sms_replies", login=self.user_marketing.login)


@tagged("post_install", "-at_install", "mass_mailing_sms")
class TestSmsStopBetweenChunks(TwilioCase):
    """Issue 27.4: Twilio takes SMS one by one, so a claimed batch leaves in chunks, each
    checked again just before it goes: a STOP processed meanwhile stops the SMS not handed
    over yet."""

    def test_stop_while_the_batch_is_sending(self):
        numbers = [f"+3247094{idx:04d}" for idx in range(8)]
        partners = self.env["res.partner"].create(
            [{"name": f"Chunk {idx}", "mobile": n} for idx, n in enumerate(numbers)]
        )
        mailing = self._create_sms_mailing(mailing_domain=[("id", "in", partners.ids)])
        mailing.action_send_sms()
        # one request at a time: chunks of 4, sent from this thread
        self.env["ir.config_parameter"].sudo().set_param(
            "mass_mailing_sms.sms_provider_connections", 1
        )
        last = numbers[-1]

        def texts_stop_on_first_request(params):
            if not self.fake_twilio.messages:
                self.env["mailing.sms.reply"].sudo()._sms_receive(
                    self.env.company, "SM" + "6" * 32, last, "STOP"
                )

        self.fake_twilio.on_create = texts_stop_on_first_request
        self.env["sms.sms"].sudo()._sms_process_mailing_queue(auto_commit=False)
        self.assertEqual(self.fake_twilio.sent_to(last), [], "its SMS was not handed over")
        trace = mailing.sudo().mailing_trace_ids.filtered(lambda t: t.sms_number == last)
        self.assertEqual((trace.trace_status, trace.failure_type), ("cancel", "sms_blacklist"))
        self.assertEqual(len(self.fake_twilio.messages), len(numbers) - 1)
