# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
import json
import logging
import time

from werkzeug.wrappers import Response

from odoo import http
from odoo.http import request

from ..tools.sms_http import FAILED_STATUSES, read_path
from ..tools.standard_webhooks import verify

_logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
DELIVERED_STATUSES = frozenset(("delivered", "delivrd", "delivered_to_handset", "read"))


def _answer(status, payload):
    return Response(json.dumps(payload), status=status, content_type="application/json")


class SmsHttpController(http.Controller):
    """The webhooks of the generic HTTP provider (issue 29): delivery reports and inbound
    messages, JSON signed as Standard Webhooks define (``tools/standard_webhooks.py``) with
    the company's webhook secret. Refusals change nothing and are logged once: 415 not JSON,
    413 over 64 KB, 403 unsigned, wrongly signed or more than 5 minutes old, 400 not the JSON
    expected, 404 an unknown message (not recorded: delivered again, it may act); a webhook
    delivered again (same ``webhook-id``) after acting is answered 200 and acts once."""

    @http.route(
        "/sms/http/status",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def sms_http_status(self, **_post):
        checked = self._sms_check_webhook("status")
        if isinstance(checked, Response):
            return checked
        company, document = checked
        message_id = read_path(document, company.sms_http_report_id_path or "messageId")
        status = read_path(document, company.sms_http_report_status_path or "status")
        if message_id is None or status is None:
            return self._sms_refuse(400, "no message id or status at the paths of Settings")
        env = company.env
        trackers = env["sms.tracker"]
        tracker = trackers.search(
            [("sms_provider_message_id", "=", str(message_id))], limit=1
        ) or trackers.search([("sms_uuid", "=", str(message_id))], limit=1)
        if not tracker:
            # not recorded as received: the provider's retry may find it (the answer that
            # named the message may not be committed yet)
            return self._sms_refuse(404, "no such SMS")
        first_time = self._sms_first_time(company)
        if first_time:
            self._sms_apply_status(tracker, str(status))
        return _answer(200, {"status": "ok" if first_time else "already received"})

    @http.route(
        "/sms/http/inbound",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def sms_http_inbound(self, **_post):
        """An SMS to one of the company's senders: STOP, START and HELP act, any other text
        is kept as a reply; the HELP answer comes back as ``{"reply": text}``."""
        checked = self._sms_check_webhook("inbound")
        if isinstance(checked, Response):
            return checked
        company, document = checked
        number = read_path(document, company.sms_http_inbound_from_path or "from")
        text = read_path(document, company.sms_http_inbound_text_path or "text")
        if not number or not str(text or "").strip():
            return self._sms_refuse(
                400, "no sender number or text at the paths of Settings", "inbound"
            )
        if not self._sms_first_time(company):
            return _answer(200, {"status": "already received"})
        webhook_id = request.httprequest.headers.get("webhook-id", "")
        reply = (
            company.env["mailing.sms.reply"]
            .with_company(company)
            ._sms_receive(company, f"webhook:{webhook_id}", str(number), str(text).strip())
        )
        return _answer(200, {"status": "ok", "reply": reply or ""})

    def _sms_check_webhook(self, label):
        """(company, JSON document) of a signed webhook, or the refusal."""
        httprequest = request.httprequest
        if httprequest.mimetype != "application/json":
            return self._sms_refuse(415, "the body must be JSON", label)
        if (httprequest.content_length or 0) > MAX_BODY_BYTES:
            return self._sms_refuse(413, "the body is over 64 KB", label)
        body = httprequest.get_data(cache=True)
        env = request.env(su=True)
        companies = env["res.company"].search(
            [("sms_provider", "=", "http"), ("sms_http_webhook_secret", "!=", False)]
        )
        now = int(time.time())
        why = "no company sends through the HTTP provider with a webhook secret"
        company = None
        for candidate in companies:
            why = verify(candidate.sms_http_webhook_secret, httprequest.headers, body, now)
            if why is None:
                company = candidate
                break
        if company is None:
            return self._sms_refuse(403, why, label)
        try:
            document = json.loads(body)
        except ValueError:
            return self._sms_refuse(400, "the body is not JSON", label)
        return company, document

    def _sms_first_time(self, company):
        """Whether this webhook's ``webhook-id`` is new; recorded once it is about to act, so
        that a webhook refused (a message not known yet) is acted on when delivered again."""
        webhook_id = request.httprequest.headers.get("webhook-id", "")
        return company.env["mailing.sms.webhook"]._sms_first_time(company, webhook_id)

    def _sms_refuse(self, status, why, label="status"):
        _logger.warning("HTTP provider webhook (%s) refused (HTTP %s): %s", label, status, why)
        return _answer(status, {"error": why})

    def _sms_apply_status(self, tracker, status):
        env = tracker.env
        sms = env["sms.sms"].search([("uuid", "=", tracker.sms_uuid)], limit=1)
        if sms and sms.state == "outgoing":
            # the provider has it: an SMS whose answer was lost is sent, never to be sent again
            sms._sms_move_forward(sms.ids, "pending", False, to_delete=True)
        if status.lower() in DELIVERED_STATUSES:
            tracker._action_update_from_sms_state("sent")
        elif status.lower() in FAILED_STATUSES:
            reason = env._("The provider reported the SMS %(status)s.", status=status)
            tracker._sms_update_from_delivery_failure("sms_not_delivered", reason)
        else:
            tracker._action_update_from_sms_state("pending")
