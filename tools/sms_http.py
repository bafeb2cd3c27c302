# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
"""A generic HTTP provider of the interface of ``tools/sms_providers.py`` (issue 29): JSON
over HTTPS to the send URL the administrator sets, one request per SMS, several in flight.

What the provider must do (README "The HTTP provider"): take a JSON body written from the
template of Settings (named fields ``{to}``, ``{from}``, ``{text}``, ``{sms_id}``), answer
2xx with the message's id (and optionally a status) where Settings say, and answer a repeat
of a request carrying the same idempotency key (our SMS's uuid, on every attempt) with the
first answer instead of sending a second message, as Infobip and Telnyx do with
``Idempotency-Key``. An SMS whose answer was lost is therefore sent again as it was: no
message list to reconcile against.
"""

import json
import logging
import threading

import requests

from odoo.exceptions import UserError

from .sms_requests import (
    CONNECT_TIMEOUT,
    PARAM_CONNECTIONS,
    PARAM_TIMEOUT,
    map_in_threads,
    refused_for_setting,
    session_for,
)

_logger = logging.getLogger(__name__)

TEMPLATE_FIELDS = ("to", "from", "text", "sms_id")
DEFAULT_IDEMPOTENCY_HEADER = "Idempotency-Key"
# a status in the provider's answer that means the SMS was refused (any other: accepted)
FAILED_STATUSES = frozenset(
    ("failed", "rejected", "error", "undeliverable", "undelivered", "expired", "invalid")
)
REASON_LENGTH = 200  # characters of the provider's answer kept as the failure reason


def render_body(template, values):
    """The JSON body of one SMS: ``template`` (a JSON text) with each ``{field}`` of its
    strings replaced by its value; the values are never parsed as JSON, so a text with
    quotes or braces stays a string."""

    def fill(node):
        if isinstance(node, dict):
            return {key: fill(value) for key, value in node.items()}
        if isinstance(node, list):
            return [fill(value) for value in node]
        if isinstance(node, str):
            for name in TEMPLATE_FIELDS:
                node = node.replace("{%s}" % name, values.get(name) or "")
            return node
        return node

    return fill(json.loads(template))


def check_template(template):
    """None when ``template`` is a JSON body naming ``{to}`` and ``{text}``, else what is
    wrong, in words."""
    try:
        json.loads(template or "")
    except ValueError as error:
        return f"not JSON ({error})"
    missing = [f"{{{name}}}" for name in ("to", "text") if f"{{{name}}}" not in template]
    return f"{', '.join(missing)} missing" if missing else None


def read_path(document, path):
    """The value at ``path`` (dotted keys, list indexes: ``messages.0.id``) in a JSON
    document; None when it is not there."""
    node = document
    for key in (path or "").split("."):
        if not key:
            return None
        if isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        elif isinstance(node, dict) and key in node:
            node = node[key]
        else:
            return None
    return node if isinstance(node, (str, int, float)) and not isinstance(node, bool) else None


class HttpSmsApi:
    """The company's HTTP provider: its settings and senders are read once, here; the requests
    then run in threads that never touch ``env``."""

    def __init__(self, env):
        self.env = env
        company = env.company.sudo()
        self.url = (company.sms_http_url or "").strip()
        self.authorization = (company.sms_http_authorization or "").strip()
        self.template = company.sms_http_body_template or ""
        self.message_id_path = (company.sms_http_message_id_path or "").strip()
        self.status_path = (company.sms_http_status_path or "").strip()
        self.idempotency_header = (
            company.sms_http_idempotency_header or ""
        ).strip() or DEFAULT_IDEMPOTENCY_HEADER
        self.senders = company._sms_sender_choice()
        self.connections = env["sms.sms"]._sms_get_param(PARAM_CONNECTIONS)
        self.timeout = (CONNECT_TIMEOUT, env["sms.sms"]._sms_get_param(PARAM_TIMEOUT))

    # ------------------------------------------------------------
    # THE INTERFACE
    # ------------------------------------------------------------

    @property
    def _sms_chunk_size(self):
        """SMS per call of ``_send_sms_batch`` (each chunk checked again before it leaves)."""
        return self.connections * 4

    def _send_sms_batch(self, messages, delivery_reports_url=False):
        """One request per SMS, up to ``connections`` at once, each with our SMS's uuid as
        its idempotency key: a retry after an unknown outcome is the same request."""
        jobs = [
            (message["content"], number) for message in messages for number in message["numbers"]
        ]
        missing = self._sms_missing_setting()
        if missing:
            return refused_for_setting(jobs, missing)
        stop = threading.Event()  # the account is refused or throttled: send no more
        return map_in_threads(
            lambda job: self._sms_send_one(*job, stop=stop), jobs, self.connections, "sms_http"
        )

    def _get_sms_api_error_messages(self):
        return {
            "unregistered": self.env._(
                "The SMS provider refused the credentials: check the HTTP provider in Settings."
            ),
            "insufficient_credit": self.env._("The SMS provider account has no balance left."),
        }

    def _sms_test_connection(self):
        """The settings are complete and the send URL answers (a GET, which sends nothing)."""
        env = self.env
        missing = self._sms_missing_setting()
        if missing:
            raise UserError(missing)
        try:
            response = session_for(self.connections).get(
                self.url, headers=self._sms_headers(), timeout=self.timeout
            )
        except requests.RequestException as error:
            raise UserError(
                env._(
                    "The send URL could not be reached (%(error)s): check it, and that this "
                    "server can reach the internet.",
                    error=type(error).__name__,
                )
            ) from error
        if response.status_code in (401, 403):
            raise UserError(
                env._(
                    "The provider refused the authorization header (HTTP %(status)s).",
                    status=response.status_code,
                )
            )
        return env._(
            "The send URL answers (HTTP %(status)s to a test request, which sends nothing); "
            "senders: %(senders)s.",
            status=response.status_code,
            senders=self.senders.default or env._("none"),
        )

    # ------------------------------------------------------------
    # REQUESTS (in threads: no env from here on)
    # ------------------------------------------------------------

    def _sms_missing_setting(self):
        if not self.url.startswith(("https://", "http://")):
            return self.env._("Fill in the send URL of the HTTP provider in Settings.")
        problem = check_template(self.template)
        if problem:
            return self.env._(
                "The JSON body template of the HTTP provider is not usable: %(problem)s.",
                problem=problem,
            )
        if "{from}" in self.template and not self.senders:
            return self.env._("Add a sender of the HTTP provider in Settings.")
        return ""

    def _sms_headers(self, sms_uuid=None):
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.authorization:
            headers["Authorization"] = self.authorization
        if sms_uuid:
            headers[self.idempotency_header] = sms_uuid
        return headers

    def _sms_send_one(self, content, number, stop):
        sms_uuid = number["uuid"]
        if stop.is_set():
            return {"uuid": sms_uuid, "state": "throttled"}
        body = render_body(
            self.template,
            {
                "to": number["number"],
                "from": self.senders.sender_for(number["number"]),
                "text": content,
                "sms_id": sms_uuid,
            },
        )
        try:
            response = session_for(self.connections).post(
                self.url, json=body, headers=self._sms_headers(sms_uuid), timeout=self.timeout
            )
        except requests.RequestException as error:
            # the request may have reached the provider: sent again under the same key
            return {"uuid": sms_uuid, "state": "unknown", "failure_reason": type(error).__name__}
        answer = self._sms_answer(sms_uuid, response)
        if answer["state"] in ("unregistered", "insufficient_credit", "throttled"):
            stop.set()
        return answer

    def _sms_answer(self, sms_uuid, response):
        """The provider's answer to one request, as a result of the interface."""
        status = response.status_code
        try:
            document = response.json()
        except ValueError:
            document = None
        reason = f"HTTP {status}: {(response.text or '').strip()[:REASON_LENGTH]}".rstrip(": ")
        if 200 <= status < 300:
            message_id = read_path(document, self.message_id_path)
            provider_status = str(read_path(document, self.status_path) or "")
            if provider_status.lower() in FAILED_STATUSES:
                return {
                    "uuid": sms_uuid,
                    "state": "rejected",
                    "failure_reason": f"{provider_status}: {reason}"[:REASON_LENGTH],
                    "provider_message_id": message_id and str(message_id),
                }
            answer = {"uuid": sms_uuid, "state": "success"}
            if message_id is not None:
                answer["provider_message_id"] = str(message_id)
            return answer
        if status == 429:
            retry_after = response.headers.get("Retry-After", "")
            return {
                "uuid": sms_uuid,
                "state": "throttled",
                "retry_after": int(retry_after) if retry_after.isdigit() else 0,
            }
        if status in (401, 403):
            return {"uuid": sms_uuid, "state": "unregistered", "failure_reason": reason}
        if status == 402:
            return {"uuid": sms_uuid, "state": "insufficient_credit", "failure_reason": reason}
        if status >= 500 or status < 400 or status in (408, 409, 425):
            # no usable answer: the same request again later (same idempotency key)
            return {"uuid": sms_uuid, "state": "unknown", "failure_reason": f"HTTP {status}"}
        return {"uuid": sms_uuid, "state": "rejected", "failure_reason": reason}
