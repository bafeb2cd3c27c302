# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
import base64
import json
import time

from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.mass_mailing_sms.tests.common import MailingQueueMixin
from odoo.addons.mass_mailing_sms.tests.http_provider import AUTHORIZATION, HttpProviderCase
from odoo.addons.mass_mailing_sms.tools import standard_webhooks
from odoo.addons.mass_mailing_sms.tools.sms_http import HttpSmsApi, read_path, render_body

WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"webhook secret of the tests").decode()


@tagged("post_install", "-at_install", "mass_mailing_sms")
class TestSmsHttpTemplate(HttpProviderCase):
    """The JSON body written from the template of Settings, the answer read at its paths."""

    def test_body_from_the_template(self):
        template = '{"to": "{to}", "text": "{text}", "meta": {"ref": "sms-{sms_id}", "n": 1}}'
        body = render_body(template, {"to": "+32470", "text": 'Say "hi" {to}', "sms_id": "u1"})
        self.assertEqual(
            body, {"to": "+32470", "text": 'Say "hi" {to}', "meta": {"ref": "sms-u1", "n": 1}}
        )

    def test_read_paths(self):
        answer = {"messages": [{"id": 42, "status": {"name": "PENDING"}}], "ok": True}
        self.assertEqual(read_path(answer, "messages.0.id"), 42)
        self.assertEqual(read_path(answer, "messages.0.status.name"), "PENDING")
        for path in ("messages.1.id", "messages.x", "ok", "", "messages"):
            self.assertIsNone(read_path(answer, path), path)

    def test_unusable_template_refused_on_save(self):
        for template, words in (
            ('{"to": "{to}"', "not JSON"),
            ('{"to": "{to}"}', "{text} missing"),
        ):
            with self.subTest(template=template), self.assertRaises(ValidationError) as raised:
                self.env.company.sms_http_body_template = template
            self.assertIn(words, str(raised.exception))

    def test_provider_class(self):
        self.assertIs(self.env.company._get_sms_api_class(), HttpSmsApi)


@tagged("post_install", "-at_install", "mass_mailing_sms")
class TestSmsHttp(MailingQueueMixin, HttpProviderCase):
    """Issue 29.3: a mailing through the HTTP provider, the idempotency header on every
    request and the same on a retry, the provider's refusals in the traces."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.numbers = [f"+3247091{idx:04d}" for idx in range(4)]
        cls.partners = (
            cls.env["res.partner"]
            .with_context(**cls._test_context)
            .create([{"name": f"Http {idx}", "mobile": n} for idx, n in enumerate(cls.numbers)])
        )
        cls.mailing = cls._create_sms_mailing(mailing_domain=[("id", "in", cls.partners.ids)])

    def test_mailing_through_the_http_provider(self):
        self._send()
        self.assertEqual(len(self.fake_http.requests), len(self.numbers))
        for headers, body in self.fake_http.requests:
            message = body["messages"][0]
            trace = self._trace(message["destination"])
            sms_uuid = trace.sms_tracker_ids.sms_uuid
            self.assertEqual(headers["Authorization"], AUTHORIZATION)
            self.assertEqual(headers["Idempotency-Key"], sms_uuid, "our SMS id, every request")
            self.assertEqual(body["reference"], sms_uuid)
            self.assertEqual(message["sender"], "ACME")
            self.assertIn("spring sale!", message["text"])
            self.assertEqual(trace.trace_status, "pending", "handed to the provider: Sent")
            created = self.fake_http.sent_to(message["destination"])
            self.assertEqual(trace.sms_tracker_ids.sms_provider_message_id, created[0]["id"])
        self.assertEqual(self.mailing.state, "done")

    @mute_logger("odoo.addons.mass_mailing_sms.models.sms_sms")
    def test_lost_answers_retried_under_the_same_key_send_once(self):
        lost, failed_after, fine, _other = self.numbers
        self.fake_http.faults = {lost: ["timeout_after"], failed_after: ["500_after"]}
        self._send()
        for number in (lost, failed_after):
            self.assertEqual(self._trace(number).trace_status, "outgoing", "unknown: queued")
        self._run_queue_again()
        for number in (lost, failed_after, fine):
            self.assertEqual(self._trace(number).trace_status, "pending")
            self.assertEqual(len(self.fake_http.sent_to(number)), 1, "one message, not two")
        keys = [
            headers["Idempotency-Key"]
            for headers, body in self.fake_http.requests
            if body["messages"][0]["destination"] == lost
        ]
        self.assertEqual(len(keys), 2, "sent, then sent again")
        self.assertEqual(keys[0], keys[1], "the retry carries the same key")
        self.assertEqual(
            self._trace(lost).sms_tracker_ids.sms_provider_message_id,
            self.fake_http.sent_to(lost)[0]["id"],
        )

    @mute_logger("odoo.addons.mass_mailing_sms.models.sms_sms")
    def test_refusals_end_in_their_state(self):
        refused, rejected, throttled, fine = self.numbers
        self.fake_http.faults = {refused: [400], rejected: ["rejected"], throttled: [429]}
        self._send()
        self.assertEqual(
            (self._trace(refused).trace_status, self._trace(refused).failure_type),
            ("error", "sms_rejected"),
        )
        self.assertIn("HTTP 400", self._trace(refused).failure_reason)
        self.assertEqual(self._trace(rejected).failure_type, "sms_rejected")
        self.assertIn("REJECTED", self._trace(rejected).failure_reason)
        self.assertEqual(self._trace(throttled).trace_status, "outgoing", "429: waits")
        self._run_queue_again()
        self.assertEqual(self._trace(throttled).trace_status, "pending")
        self.assertEqual(self._trace(fine).trace_status, "pending")

    @mute_logger("odoo.addons.mass_mailing_sms.models.sms_sms")
    def test_refused_credentials_stop_the_run(self):
        """Refused credentials: the refused SMS shows why, the rest stay queued; mended,
        the marketer retries and every SMS leaves once."""
        self.env.company.sms_http_authorization = "Bearer wrong"
        self.env["ir.config_parameter"].sudo().set_param(
            "mass_mailing_sms.sms_provider_connections", 1
        )
        self._send()
        traces = self.mailing.mailing_trace_ids
        refused = traces.filtered(lambda t: t.trace_status == "error")
        self.assertEqual(len(refused), 1, "no request after the refusal")
        self.assertEqual(refused.failure_type, "sms_acc")
        self.assertIn("HTTP 401", refused.failure_reason)
        self.assertEqual(set((traces - refused).mapped("trace_status")), {"outgoing"})
        self.assertEqual(len(self.fake_http.messages), 0)
        self.env.company.sms_http_authorization = AUTHORIZATION
        self.mailing.action_retry_failed()
        self._run_queue_again()
        self.assertEqual(set(traces.mapped("trace_status")), {"pending"})
        self.assertEqual(len(self.fake_http.messages), len(self.numbers))

    def test_test_connection(self):
        self.env.company.sms_http_url = False
        with self.assertRaisesRegex(UserError, "send URL"):
            self.env.company._sms_test_connection()


@tagged("post_install", "-at_install", "mass_mailing_sms")
class TestSmsHttpWebhooks(HttpProviderCase):
    """Issue 29.3: delivery reports and inbound messages signed as Standard Webhooks define:
    accepted signed and fresh, refused forged, unsigned or stale, acted on once."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.numbers = [f"+3247092{idx:04d}" for idx in range(2)]
        cls.partners = cls.env["res.partner"].create(
            [{"name": f"Report {idx}", "mobile": n} for idx, n in enumerate(cls.numbers)]
        )
        cls.mailing = cls._create_sms_mailing(mailing_domain=[("id", "in", cls.partners.ids)])

    def setUp(self):
        super().setUp()
        self.env.company.sms_http_webhook_secret = WEBHOOK_SECRET
        self.mailing.action_send_sms()
        self.env["sms.sms"].sudo()._sms_process_mailing_queue(auto_commit=False)
        self.messages = [self.fake_http.sent_to(number)[0] for number in self.numbers]
        self.webhook_ids = iter(f"msg_{idx}" for idx in range(100))

    def _trace(self, message):
        traces = self.mailing.sudo().mailing_trace_ids
        return traces.filtered(lambda t: t.sms_number == message["to"])

    def webhook(self, path, payload, secret=WEBHOOK_SECRET, age=0, webhook_id=None, sign=True):
        body = json.dumps(payload).encode()
        webhook_id = webhook_id or next(self.webhook_ids)
        timestamp = str(int(time.time()) - age)
        headers = {"Content-Type": "application/json"}
        if sign:
            headers.update(
                {
                    "webhook-id": webhook_id,
                    "webhook-timestamp": timestamp,
                    "webhook-signature": standard_webhooks.sign(
                        secret, webhook_id, timestamp, body
                    ),
                }
            )
        return self.url_open(path, data=body, headers=headers)

    def test_signature_of_the_specification(self):
        """The example of the Standard Webhooks libraries' tests."""
        self.assertEqual(
            standard_webhooks.sign(
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                "1614265330",
                b'{"test": 2432232314}',
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        )

    def test_signed_reports_move_traces_forward(self):
        first, second = self.messages
        response = self.webhook(
            "/sms/http/status", {"messageId": first["id"], "status": "DELIVERED"}
        )
        self.assertEqual(response.status_code, 200)
        self.assertEqual(self._trace(first).trace_status, "sent", "Delivered")
        self.webhook("/sms/http/status", {"messageId": second["id"], "status": "UNDELIVERABLE"})
        trace = self._trace(second)
        self.assertEqual((trace.trace_status, trace.failure_type), ("error", "sms_not_delivered"))
        self.assertIn("UNDELIVERABLE", trace.failure_reason)
        self.webhook("/sms/http/status", {"messageId": first["id"], "status": "PENDING"})
        self.assertEqual(self._trace(first).trace_status, "sent", "never backwards")
        self.mailing.invalidate_recordset()
        self.assertEqual(self.mailing.delivered, 1, "Delivered: confirmed by a report")

    @mute_logger("odoo.addons.mass_mailing_sms.controllers.sms_http")
    def test_report_before_its_message_is_known_acts_when_delivered_again(self):
        """A report may overtake the answer naming its message (not committed yet): refused
        404, and the provider's retry under the same webhook-id is then acted on."""
        message = self.messages[0]
        tracker = (
            self.env["sms.tracker"].sudo().search([("sms_provider_message_id", "=", message["id"])])
        )
        self.assertEqual(len(tracker), 1)
        tracker.sms_provider_message_id = False
        payload = {"messageId": message["id"], "status": "DELIVERED"}
        early = self.webhook("/sms/http/status", payload, webhook_id="msg_early")
        self.assertEqual(early.status_code, 404)
        self.assertEqual(self._trace(message).trace_status, "pending")
        tracker.sms_provider_message_id = message["id"]
        again = self.webhook("/sms/http/status", payload, webhook_id="msg_early")
        self.assertEqual((again.status_code, again.json()["status"]), (200, "ok"))
        self.assertEqual(self._trace(message).trace_status, "sent", "Delivered")
        third = self.webhook("/sms/http/status", payload, webhook_id="msg_early")
        self.assertEqual(third.json()["status"], "already received")

    @mute_logger("odoo.addons.mass_mailing_sms.controllers.sms_http")
    def test_forged_stale_or_unsigned_reports_change_nothing(self):
        message = self.messages[0]
        payload = {"messageId": message["id"], "status": "DELIVERED"}
        other_secret = "whsec_" + base64.b64encode(b"another secret, 24 bytes").decode()
        for response, why in (
            (self.webhook("/sms/http/status", payload, secret=other_secret), "wrong signature"),
            (self.webhook("/sms/http/status", payload, age=301), "5 minutes"),
            (self.webhook("/sms/http/status", payload, age=-301), "5 minutes"),
            (self.webhook("/sms/http/status", payload, sign=False), "missing webhook-id"),
        ):
            self.assertEqual(response.status_code, 403)
            self.assertIn(why, response.json()["error"])
        self.assertEqual(self._trace(message).trace_status, "pending", "still Sent only")
        response = self.webhook("/sms/http/status", {"messageId": "nope", "status": "DELIVERED"})
        self.assertEqual(response.status_code, 404)
        response = self.webhook("/sms/http/status", {"id": message["id"]})
        self.assertEqual(response.status_code, 400)

    def test_inbound_acts_once(self):
        number = self.numbers[0]
        payload = {"from": number, "to": "ACME", "text": "STOP"}
        first = self.webhook("/sms/http/inbound", payload, webhook_id="msg_stop")
        again = self.webhook("/sms/http/inbound", payload, webhook_id="msg_stop")
        self.assertEqual((first.status_code, again.status_code), (200, 200))
        self.assertEqual(again.json()["status"], "already received")
        replies = self.env["mailing.sms.reply"].sudo().search([("number", "=", number)])
        self.assertEqual(len(replies), 1, "the same webhook acts once")
        blacklist = self.env["phone.blacklist"].sudo().search([("number", "=", number)])
        self.assertTrue(blacklist.active, "STOP: the number is blacklisted")
        help_answer = self.webhook("/sms/http/inbound", {"from": number, "text": "HELP"})
        self.assertIn("STOP", help_answer.json()["reply"])

    def test_unusable_secret_refused_on_save(self):
        with self.assertRaisesRegex(ValidationError, "whsec_"):
            self.env.company.sms_http_webhook_secret = "not base64 !"
