# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
import logging
import re

from markupsafe import Markup
from werkzeug.wrappers import Response

from odoo import http
from odoo.http import request

from ..tools.sms_twilio import twilio_signature_valid

_logger = logging.getLogger(__name__)

SMS_UUID_PATTERN = re.compile(r"^[0-9a-f]{32}$")
MAX_BODY_BYTES = 64 * 1024
# Twilio's MessageStatus -> the SMS state it proves (forward only)
TWILIO_STATUS_TO_SMS_STATE = {
    "queued": "pending",
    "accepted": "pending",
    "scheduled": "pending",
    "sending": "pending",
    "sent": "pending",
    "delivered": "sent",
    "read": "sent",
}
TWILIO_FAILED_STATUSES = ("undelivered", "failed")
# ErrorCode of an undelivered or failed message -> Odoo's failure type (bounces: see
# sms.sms BOUNCE_DELIVERY_ERRORS); the others are "not delivered"
TWILIO_DELIVERY_ERRORS = {
    30004: "sms_not_allowed",  # blocked by the recipient or the carrier
    30005: "sms_invalid_destination",  # unknown or inactive number
    30006: "sms_invalid_destination",  # landline or unreachable carrier
    30007: "sms_rejected",  # filtered as spam by the carrier
    21211: "sms_invalid_destination",
    21614: "sms_invalid_destination",
}


def _answer(status, text):
    return Response(text, status=status, content_type="text/plain")


def _twiml(message=""):
    """Twilio's answer to an inbound message: nothing, or one SMS back to the sender."""
    body = Markup("<Message>%s</Message>") % message if message else Markup("")
    return Response(
        Markup('<?xml version="1.0" encoding="UTF-8"?><Response>%s</Response>') % body,
        status=200,
        content_type="text/xml",
    )


class SmsTwilioController(http.Controller):
    """Twilio's status callbacks (issue 26): the delivery reports of the SMS sent through the
    company's Twilio account, signed with its Auth Token."""

    @http.route(
        "/sms/twilio/status/<string:sms_uuid>",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def sms_twilio_status(self, sms_uuid, **_post):
        """Checks the request, then moves the SMS's trace forward. Any refusal changes
        nothing and is logged once: 415 not a form, 413 over 64 KB, 400 missing or unknown
        fields, 404 unknown SMS, 403 missing or wrong signature."""
        httprequest = request.httprequest
        refused = self._sms_refuse_body(httprequest, sms_uuid)
        if refused:
            return refused
        form = httprequest.form
        status = form.get("MessageStatus", "")
        message_sid = form.get("MessageSid", "")
        account_sid = form.get("AccountSid", "")
        known = status in TWILIO_STATUS_TO_SMS_STATE or status in TWILIO_FAILED_STATUSES
        if not (message_sid and account_sid and known) and status != "canceled":
            return self._sms_refuse(400, "MessageSid, AccountSid or MessageStatus", sms_uuid)
        if not SMS_UUID_PATTERN.match(sms_uuid):
            return self._sms_refuse(404, "no such SMS", sms_uuid)
        env = request.env(su=True)
        company = env["res.company"].search(
            [("sms_provider", "=", "twilio"), ("sms_twilio_account_sid", "=", account_sid)],
            limit=1,
        )
        url = f"{company.get_base_url()}{httprequest.full_path.rstrip('?')}" if company else ""
        signature = httprequest.headers.get("X-Twilio-Signature", "")
        if not company or not twilio_signature_valid(
            company.sms_twilio_auth_token, url, form.items(multi=True), signature
        ):
            return self._sms_refuse(403, "missing or wrong signature", sms_uuid)
        tracker = env["sms.tracker"].search([("sms_uuid", "=", sms_uuid)], limit=1)
        if not tracker:
            return self._sms_refuse(404, "no such SMS", sms_uuid)
        self._sms_apply_status(tracker, form, status, message_sid)
        return _answer(200, "OK")

    @http.route(
        "/sms/twilio/inbound",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def sms_twilio_inbound(self, **_post):
        """Twilio's incoming-message webhook (issue 27), set on the number or the Messaging
        Service: STOP, START and HELP act, any other text is kept as a reply. Refusals change
        nothing and are logged once: 415 not a form, 413 over 64 KB, 400 missing fields or an
        empty message, 404 a number of no company, 403 missing or wrong signature."""
        httprequest = request.httprequest
        refused = self._sms_refuse_body(httprequest, "inbound")
        if refused:
            return refused
        form = httprequest.form
        message_sid, number_from = form.get("MessageSid", ""), form.get("From", "")
        number_to, account_sid = form.get("To", ""), form.get("AccountSid", "")
        body = form.get("Body", "").strip()
        if not (message_sid and number_from and number_to and account_sid):
            return self._sms_refuse(400, "MessageSid, From, To or AccountSid", "inbound")
        if not body:
            return self._sms_refuse(400, "an empty message", "inbound")
        env = request.env(su=True)
        company = self._sms_inbound_company(env, account_sid, number_to, form)
        if not company:
            return self._sms_refuse(404, "no company sends from this number", "inbound")
        url = f"{company.get_base_url()}{httprequest.full_path.rstrip('?')}"
        signature = httprequest.headers.get("X-Twilio-Signature", "")
        if not twilio_signature_valid(
            company.sms_twilio_auth_token, url, form.items(multi=True), signature
        ):
            return self._sms_refuse(403, "missing or wrong signature", "inbound")
        answer = (
            env["mailing.sms.reply"]
            .with_company(company)
            ._sms_receive(company, message_sid, number_from, body)
        )
        return _twiml(answer)

    def _sms_inbound_company(self, env, account_sid, number_to, form):
        """The company whose Twilio account and sender (number or Messaging Service) the
        message was sent to."""
        companies = env["res.company"].search(
            [("sms_provider", "=", "twilio"), ("sms_twilio_account_sid", "=", account_sid)]
        )
        number = env["sms.twilio.number"].search(
            [("name", "=", number_to), ("company_id", "in", companies.ids)], limit=1
        )
        if number:
            return number.company_id
        service = form.get("MessagingServiceSid")
        return (
            service
            and companies.filtered(
                lambda company: company.sms_twilio_messaging_service_sid == service
            )[:1]
        )

    def _sms_refuse_body(self, httprequest, label):
        """415 for a body that is not a form, 413 over 64 KB; None for a body to read."""
        if httprequest.mimetype != "application/x-www-form-urlencoded":
            return self._sms_refuse(415, "the body must be form-encoded", label)
        if (httprequest.content_length or 0) > MAX_BODY_BYTES:
            return self._sms_refuse(413, "the body is over 64 KB", label)
        return None

    def _sms_refuse(self, status, why, sms_uuid):
        _logger.warning(
            "Twilio status callback for SMS %s refused (HTTP %s): %s", sms_uuid[:40], status, why
        )
        return _answer(status, why)

    def _sms_apply_status(self, tracker, form, status, message_sid):
        env = tracker.env
        if not tracker.sms_provider_message_id:
            tracker.sms_provider_message_id = message_sid
        sms = env["sms.sms"].search([("uuid", "=", tracker.sms_uuid)], limit=1)
        if status == "canceled":
            return
        state = TWILIO_STATUS_TO_SMS_STATE.get(status)
        if sms and sms.state == "outgoing":
            # Twilio has it: an SMS whose answer was lost is sent, never to be sent again
            sms._sms_move_forward(sms.ids, "pending", False, to_delete=True)
        if state:
            tracker._action_update_from_sms_state(state)
            return
        code = form.get("ErrorCode", "")
        failure_type = TWILIO_DELIVERY_ERRORS.get(int(code) if code.isdigit() else 0)
        reason = env._(
            "Twilio reported the SMS %(status)s (error %(code)s).",
            status=status,
            code=code or "-",
        )
        tracker._sms_update_from_delivery_failure(failure_type or "sms_not_delivered", reason)
