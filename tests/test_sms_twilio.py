# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.mass_mailing_sms.tests.common import MailingQueueMixin
from odoo.addons.mass_mailing_sms.tests.twilio import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FROM_NUMBER,
    TwilioCase,
)
from odoo.addons.mass_mailing_sms.tools.sms_twilio import TwilioSmsApi, twilio_signature


@tagged("post_install", "-at_install", "mass_mailing_sms")
class TestSmsTwilio(MailingQueueMixin, TwilioCase):
    """Issue 26: a mailing sent through the company's Twilio account, one request per SMS,
    Twilio's answers as trace states, unknown outcomes reconciled before any resend."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.numbers = [f"+3247090{idx:04d}" for idx in range(6)]
        cls.partners = (
            cls.env["res.partner"]
            .with_context(**cls._test_context)
            .create([{"name": f"Twilio {idx}", "mobile": n} for idx, n in enumerate(cls.numbers)])
        )
        cls.mailing = cls._create_sms_mailing(mailing_domain=[("id", "in", cls.partners.ids)])

    def test_signature_of_twilio_documentation(self):
        """The published example of Twilio's request validation."""
        params = {
            "CallSid": "CA1234567890ABCDE",
            "Caller": "+14158675309",
            "Digits": "1234",
            "From": "+14158675309",
            "To": "+18005551212",
        }
        self.assertEqual(
            twilio_signature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", params),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8=",
        )

    def test_mailing_through_twilio(self):
        self._send()
        created = [
            params
            for method, path, params in self.fake_twilio.requests
            if method == "POST" and path.endswith("/Messages.json")
        ]
        self.assertEqual(sorted(params["To"] for params in created), self.numbers)
        base_url = self.env.company.get_base_url()
        for params in created:
            self.assertEqual(params["From"], FROM_NUMBER)
            self.assertNotIn("MessagingServiceSid", params)
            self.assertIn("spring sale!", params["Body"])
            trace = self._trace(params["To"])
            self.assertEqual(
                params["StatusCallback"],
                f"{base_url}/sms/twilio/status/{trace.sms_tracker_ids.sms_uuid}",
            )
            self.assertEqual(trace.trace_status, "pending")
            message = self.fake_twilio.sent_to(params["To"])[0]
            self.assertEqual(trace.sms_tracker_ids.sms_provider_message_id, message["sid"])
        self.assertEqual(self.mailing.state, "done")

    def test_messaging_service(self):
        self.env.company.sms_twilio_messaging_service_sid = "MG" + "2" * 32
        self._send()
        created = [params for method, _path, params in self.fake_twilio.requests]
        self.assertEqual(len(created), len(self.numbers))
        for params in created:
            self.assertEqual(params["MessagingServiceSid"], "MG" + "2" * 32)
            self.assertNotIn("From", params)

    @mute_logger("odoo.addons.mass_mailing_sms.models.sms_sms")
    def test_error_codes_end_in_their_state(self):
        """README "Providers": each code of the table ends in its trace state."""
        invalid, landline, opted_out, region, rejected, fine = self.numbers
        self.fake_twilio.faults = {
            invalid: [21211],
            landline: [21614],
            opted_out: [21610],
            region: [21408],
            rejected: [30007],
        }
        self._send()
        expected = {
            invalid: ("bounce", "sms_number_format", "Twilio 21211"),
            landline: ("bounce", "sms_number_format", "Twilio 21614"),
            opted_out: ("cancel", "sms_blacklist", "Twilio 21610"),
            region: ("error", "sms_country_not_supported", "Twilio 21408"),
            rejected: ("error", "sms_rejected", "Twilio 30007"),
            fine: ("pending", False, False),
        }
        for number, (status, failure_type, reason) in expected.items():
            trace = self._trace(number)
            self.assertEqual((trace.trace_status, trace.failure_type), (status, failure_type))
            if reason:
                self.assertIn(reason, trace.failure_reason)
            else:
                self.assertFalse(trace.failure_reason)
        blacklist = self.env["phone.blacklist"].sudo().search([("number", "=", opted_out)])
        self.assertTrue(blacklist.active, "21610: the number joins the phone blacklist")
        self.assertIn("Twilio 21610", blacklist.message_ids[0].body)
        self.assertEqual(len(self.fake_twilio.messages), 1, "only the fine number got an SMS")

    @mute_logger("odoo.addons.mass_mailing_sms.models.sms_sms")
    def test_account_refused_stops_the_run(self):
        """Wrong credentials: the refused SMS show the reason, the rest stay queued."""
        self.env.company.sms_twilio_auth_token = "wrong"
        self.env["ir.config_parameter"].sudo().set_param("sms.session.batch.size", 2)
        self.env["ir.config_parameter"].sudo().set_param(
            "mass_mailing_sms.sms_provider_connections", 1
        )
        self._send()
        traces = self.mailing.mailing_trace_ids
        refused = traces.filtered(lambda t: t.trace_status == "error")
        self.assertEqual(set(refused.mapped("failure_type")), {"sms_acc"})
        self.assertIn("Twilio 20003", refused[0].failure_reason)
        self.assertEqual(len(refused), 1, "no request after the refusal")
        self.assertEqual(
            set((traces - refused).mapped("trace_status")), {"outgoing"}, "the rest wait"
        )
        self.assertIn("Twilio 20003", self.mailing.sms_account_failure_reason)
        self.assertFalse(self.mailing.sms_has_unregistered_account, "no IAP banner")
        # the administrator mends the token, the marketer retries
        self.env.company.sms_twilio_auth_token = AUTH_TOKEN
        self.mailing.action_retry_failed()
        self._run_queue_again()
        self.assertEqual(set(traces.mapped("trace_status")), {"pending"})
        self.assertEqual(len(self.fake_twilio.messages), len(self.numbers))

    @mute_logger("odoo.addons.mass_mailing_sms.models.sms_sms")
    def test_timeout_after_twilio_accepted_is_reconciled(self):
        """The answer was lost after Twilio created the message: the retry finds it in the
        message list and sends nothing; one lost before Twilio got it is sent again."""
        accepted, lost, failing = self.numbers[:3]
        self.fake_twilio.faults = {
            accepted: ["timeout_after"],
            lost: ["reset_before"],
            failing: ["500_after"],
        }
        self._send()
        for number in (accepted, lost, failing):
            self.assertEqual(self._trace(number).trace_status, "outgoing", "outcome unknown")
        self._run_queue_again()
        for number in (accepted, lost, failing):
            trace = self._trace(number)
            messages = self.fake_twilio.sent_to(number)
            self.assertEqual(len(messages), 1, f"{number}: one Twilio message only")
            self.assertEqual(trace.trace_status, "pending")
            self.assertEqual(trace.sms_tracker_ids.sms_provider_message_id, messages[0]["sid"])
        listed = [
            params["To"] for method, _path, params in self.fake_twilio.requests if method == "GET"
        ]
        self.assertEqual(sorted(listed), sorted([accepted, lost, failing]))

    @mute_logger("odoo.addons.mass_mailing_sms.models.sms_sms")
    def test_throttled_waits_without_an_attempt(self):
        self.fake_twilio.faults = {self.numbers[0]: ["429"]}
        self.env["ir.config_parameter"].sudo().set_param(
            "mass_mailing_sms.sms_provider_connections", 1
        )
        self._send()
        sms = self.env["sms.sms"].sudo().search([("number", "=", self.numbers[0])])
        self.assertEqual((sms.state, sms.sms_attempt_count), ("outgoing", 0))
        self._run_queue_again()
        self.assertEqual(self._trace(self.numbers[0]).trace_status, "pending")
        self.assertEqual(len(self.fake_twilio.sent_to(self.numbers[0])), 1)
        self.assertFalse(
            [p for m, _path, p in self.fake_twilio.requests if m == "GET"],
            "nothing to reconcile: a 429 sends nothing",
        )

    def test_missing_sender(self):
        self.env.company.sms_twilio_number_ids.unlink()
        self._send()
        traces = self.mailing.mailing_trace_ids
        trace = traces.filtered(lambda t: t.trace_status == "error")
        self.assertEqual((len(trace), trace.failure_type), (1, "sms_acc"), "one shows why")
        self.assertEqual(set((traces - trace).mapped("trace_status")), {"outgoing"})
        self.assertIn("Messaging Service SID or a sender number", trace.failure_reason)
        self.assertFalse(self.fake_twilio.requests)

    def test_chatter_sms_through_twilio(self):
        """Odoo's other SMS leave through Twilio too."""
        sms = self.env["sms.sms"].create({"number": "+32470990011", "body": "Order ready"})
        sms.send(unlink_sent=False)
        self.assertEqual(sms.state, "pending")
        self.assertEqual(self.fake_twilio.sent_to("+32470990011")[0]["body"], "Order ready")

    # ------------------------------------------------------------
    # SETTINGS
    # ------------------------------------------------------------

    def test_test_connection(self):
        company = self.env.company
        self.assertEqual(
            company._sms_test_connection(), "Twilio answers: the account Test is active."
        )
        self.fake_twilio.account_status = "suspended"
        with self.assertRaisesRegex(UserError, "The Twilio account is suspended"):
            company._sms_test_connection()
        self.fake_twilio.account_status = "active"
        company.sms_twilio_auth_token = "bad-token"
        with self.assertRaisesRegex(UserError, "refused the Auth Token"):
            company._sms_test_connection()
        company.sms_twilio_account_sid = "AC" + "9" * 32
        with self.assertRaisesRegex(UserError, "knows no account with this Account SID"):
            company._sms_test_connection()
        company.sms_twilio_account_sid = False
        with self.assertRaisesRegex(UserError, "Fill in the Twilio Account SID"):
            company._sms_test_connection()

    def test_test_connection_from_settings(self):
        settings = self.env["res.config.settings"].create({})
        self.assertEqual(settings.sms_provider, "twilio")
        self.assertEqual(settings.sms_twilio_number_count, 1)
        action = settings.action_sms_test_connection()
        self.assertEqual(action["params"]["message"], "Twilio answers: the account Test is active.")
        numbers = settings.action_sms_twilio_numbers()
        self.assertEqual(numbers["res_model"], "sms.twilio.number")

    def test_marketer_cannot_read_the_secrets(self):
        company = self.env.company.with_user(self.user_marketing)
        for field in ("sms_twilio_auth_token", "sms_twilio_account_sid"):
            with self.assertRaises(AccessError):
                company.read([field])
            with self.assertRaises(AccessError):
                company.search_read([("id", "=", company.id)], [field])
            self.assertNotIn(field, company.fields_get())
        self.assertEqual(company.sudo().sms_twilio_auth_token, AUTH_TOKEN)
        # and through RPC, as the web client would ask
        self.authenticate(self.user_marketing.login, self.user_marketing.login)
        with self.assertRaises(Exception) as raised, mute_logger("odoo.http"):
            self.make_jsonrpc_request(
                "/web/dataset/call_kw/res.company/read",
                {
                    "model": "res.company",
                    "method": "read",
                    "args": [[company.id], ["sms_twilio_auth_token"]],
                    "kwargs": {},
                },
            )
        self.assertIn("AccessError", str(raised.exception))

    def test_sender_numbers(self):
        number = self.env["sms.twilio.number"].create({"name": "0044 20 7946 0018"})
        self.assertEqual(number.name, "+442079460018")
        self.env["sms.twilio.number"].create({"name": "OdooShop"})
        with self.assertRaisesRegex(Exception, "cannot be a sender"):
            self.env["sms.twilio.number"].create({"name": "+12"})

    def test_provider_class(self):
        self.assertIs(self.env.company._get_sms_api_class(), TwilioSmsApi)
        self.assertEqual(ACCOUNT_SID, self.env.company.sms_twilio_account_sid)


@tagged("post_install", "-at_install", "mass_mailing_sms")
class TestSmsTwilioCallbacks(TwilioCase):
    """Issue 26.6: Twilio's signed status callbacks move traces forward only; anything
    unsigned, forged or malformed gets a 4xx and changes nothing."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.numbers = [f"+3247091{idx:04d}" for idx in range(3)]
        cls.partners = cls.env["res.partner"].create(
            [{"name": f"Callback {idx}", "mobile": n} for idx, n in enumerate(cls.numbers)]
        )
        cls.mailing = cls._create_sms_mailing(mailing_domain=[("id", "in", cls.partners.ids)])

    def setUp(self):
        super().setUp()
        self.mailing.action_send_sms()
        self.env["sms.sms"].sudo()._sms_process_mailing_queue(auto_commit=False)
        self.messages = [self.fake_twilio.sent_to(number)[0] for number in self.numbers]

    def _trace(self, message):
        traces = self.mailing.sudo().mailing_trace_ids
        return traces.filtered(lambda t: t.sms_number == message["to"])

    def test_statuses_move_traces_forward(self):
        first, second, third = self.messages
        self.assertEqual(self.twilio_callback(first, "sent").status_code, 200)
        self.assertEqual(self._trace(first).trace_status, "pending")
        self.assertEqual(self.twilio_callback(first, "delivered").status_code, 200)
        self.assertEqual(self._trace(first).trace_status, "sent", "Delivered")
        # late and repeated news change nothing
        self.twilio_callback(first, "sent")
        self.twilio_callback(first, "delivered")
        self.assertEqual(self._trace(first).trace_status, "sent")

        self.twilio_callback(second, "undelivered", error_code=30005)
        trace = self._trace(second)
        self.assertEqual(
            (trace.trace_status, trace.failure_type), ("bounce", "sms_invalid_destination")
        )
        self.assertIn("30005", trace.failure_reason)
        self.twilio_callback(second, "sent")
        self.assertEqual(self._trace(second).trace_status, "bounce", "never backwards")

        self.twilio_callback(third, "failed", error_code=30008)
        trace = self._trace(third)
        self.assertEqual((trace.trace_status, trace.failure_type), ("error", "sms_not_delivered"))
        self.assertIn("error 30008", trace.failure_reason)
        self.mailing.invalidate_recordset()
        self.assertEqual(self.mailing.delivered, 1, "Delivered: confirmed by a report")

    @mute_logger("odoo.addons.mass_mailing_sms.controllers.sms_twilio")
    def test_forged_callbacks_change_nothing(self):
        message = self.messages[0]
        response = self.twilio_callback(message, "delivered", token="not-the-token")
        self.assertEqual(response.status_code, 403)
        url = message["status_callback"].split("/sms/")[0]
        path = message["status_callback"][len(url) :]
        response = self.url_open(
            path, data={"MessageSid": message["sid"], "MessageStatus": "delivered"}
        )
        self.assertEqual(response.status_code, 400, "missing fields")
        response = self.url_open(
            path,
            data={
                "MessageSid": message["sid"],
                "MessageStatus": "delivered",
                "AccountSid": ACCOUNT_SID,
            },
        )
        self.assertEqual(response.status_code, 403, "no signature")
        # a genuine signature, made for another SMS's URL
        params = {
            "MessageSid": message["sid"],
            "MessageStatus": "delivered",
            "AccountSid": ACCOUNT_SID,
        }
        signature = twilio_signature(AUTH_TOKEN, self.messages[1]["status_callback"], params)
        response = self.url_open(path, data=params, headers={"X-Twilio-Signature": signature})
        self.assertEqual(response.status_code, 403)
        self.assertEqual(self._trace(message).trace_status, "pending", "unchanged")

    @mute_logger("odoo.addons.mass_mailing_sms.controllers.sms_twilio")
    def test_bad_input_gets_a_clear_4xx(self):
        message = self.messages[0]
        path = "/sms/twilio/status/" + message["status_callback"].rsplit("/", 1)[1]
        response = self.url_open(
            path,
            data=b'{"MessageStatus": "delivered"}',
            headers={"Content-Type": "application/json"},
        )
        self.assertEqual(response.status_code, 415)
        response = self.url_open(path, data={"MessageSid": "SM1", "Body": "x" * 70000})
        self.assertEqual(response.status_code, 413)
        unknown = dict(message, status_callback=message["status_callback"][:-32] + "f" * 32)
        self.assertEqual(self.twilio_callback(unknown, "delivered").status_code, 404)
        self.assertEqual(self.twilio_callback(message, "exploded").status_code, 400)
        self.assertEqual(self._trace(message).trace_status, "pending", "unchanged")

    def test_callback_settles_an_sms_of_unknown_outcome(self):
        """Twilio reports on an SMS whose create answer was lost: it is sent, and the queue
        will not send it again."""
        sms = self.env["sms.sms"].sudo().search([("number", "=", self.numbers[0])])
        sms_uuid = self.messages[0]["status_callback"].rsplit("/", 1)[1]
        self.env.cr.execute(
            "UPDATE sms_sms SET state = 'outgoing', to_delete = false WHERE uuid = %s", [sms_uuid]
        )
        self.env["sms.sms"].invalidate_model()
        self.twilio_callback(self.messages[0], "sent")
        sms = self.env["sms.sms"].sudo().search([("uuid", "=", sms_uuid)])
        self.assertEqual(sms.state, "pending")


@tagged("post_install", "-at_install", "mass_mailing_sms")
class TestSmsTwilioTour(TwilioCase):
    """Issue 26.2 in a browser: the administrator chooses Twilio, fills the account in, adds
    a sender number for the United States (issue 29) and tests the connection."""

    def test_twilio_settings_tour(self):
        company = self.env.company
        company.sms_twilio_number_ids.unlink()
        company.write(
            {"sms_provider": "iap", "sms_twilio_account_sid": False, "sms_twilio_auth_token": False}
        )
        self.start_tour("/odoo", "mass_mailing_sms_twilio_settings", login="admin")
        self.assertEqual(company.sms_provider, "twilio")
        self.assertEqual(company.sms_twilio_account_sid, ACCOUNT_SID)
        self.assertEqual(company.sms_twilio_auth_token, AUTH_TOKEN)
        self.assertEqual(company.sms_twilio_number_ids.mapped("name"), [FROM_NUMBER])
        self.assertEqual(company.sms_twilio_number_ids.country_ids, self.env.ref("base.us"))
        self.assertTrue(
            [
                path
                for _method, path, _params in self.fake_twilio.requests
                if path.endswith(".json")
            ],
            "the test asked Twilio",
        )
