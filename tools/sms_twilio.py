# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
"""Twilio, a provider of the interface of ``tools/sms_providers.py`` (issue 26): its REST API
2010-04-01 through ``requests`` (no SDK), one request per SMS, several in flight.

Twilio's facts relied on here (README "Providers"): Basic auth with the Account SID and the
Auth Token; ``POST Accounts/{sid}/Messages.json`` form-encoded (``To``, ``From`` or
``MessagingServiceSid``, ``Body``, ``StatusCallback``) answers 201 with the message's
``sid`` (https://www.twilio.com/docs/messaging/api/message-resource); a refusal answers 4xx
with ``{"code", "message"}`` (https://www.twilio.com/docs/api/errors); the message list is
newest first, filtered by ``To`` and paged by ``next_page_uri``.

The create call has no idempotency key: an SMS whose outcome was unknown (timeout, reset,
5xx) is looked up in the account's message list before it is sent again (``_send_sms_batch``).
"""

import base64
import hashlib
import hmac
import logging
import threading
from datetime import UTC, timedelta
from email.utils import parsedate_to_datetime

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

TWILIO_API_URL = "https://api.twilio.com"
PARAM_API_URL = "mass_mailing_sms.twilio_api_url"  # the local fake of bin/bench, bin/fault_test
RECONCILE_PAGES = 5  # pages of the message list read to find an SMS of unknown outcome
RECONCILE_PAGE_SIZE = 50
CLOCK_SKEW = timedelta(minutes=2)  # between our clock and Twilio's, for the message list

# Twilio error code -> (state of the provider interface, what it means for the marketer)
TWILIO_ERRORS = {
    21211: ("wrong_number_format", "The number is not a valid phone number."),
    21614: ("wrong_number_format", "The number is not a mobile number."),
    21610: (
        "blacklisted",
        "The recipient replied STOP to this sender: Twilio blocks messages to the number.",
    ),
    21408: (
        "country_not_supported",
        "Sending to this country is not enabled on the Twilio account (Geo permissions).",
    ),
    21612: ("country_not_supported", "This number cannot be reached from the sender."),
    21606: ("unregistered", "The sender is not a valid SMS sender of the Twilio account."),
    20003: ("unregistered", "Twilio refused the Account SID or the Auth Token."),
    20005: ("unregistered", "The Twilio account is not active (suspended or closed)."),
    10001: ("unregistered", "The Twilio account is not active: check its balance."),
}
ACCOUNT_STATES = ("unregistered", "insufficient_credit")


def twilio_signature(auth_token, url, params):
    """``X-Twilio-Signature`` of a request Twilio made to ``url`` with the POST ``params``
    (pairs or a dict): Base64 of HMAC-SHA1 keyed by the Auth Token over the URL followed by
    each parameter's name and value, sorted by name."""
    pairs = sorted(params.items() if isinstance(params, dict) else params)
    payload = url + "".join(f"{name}{value}" for name, value in pairs)
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def twilio_signature_valid(auth_token, url, params, signature):
    if not (auth_token and signature):
        return False
    return hmac.compare_digest(twilio_signature(auth_token, url, params), signature)


class TwilioSmsApi:
    """Twilio, for the company of ``env``: its account and senders are read once, here; the
    requests then run in threads that never touch ``env``."""

    def __init__(self, env):
        self.env = env
        company = env.company.sudo()
        self.account_sid = (company.sms_twilio_account_sid or "").strip()
        self.auth_token = (company.sms_twilio_auth_token or "").strip()
        self.messaging_service_sid = (company.sms_twilio_messaging_service_sid or "").strip()
        self.senders = company._sms_sender_choice()  # the sender per recipient country
        params = env["ir.config_parameter"].sudo()
        self.api_url = (params.get_param(PARAM_API_URL) or TWILIO_API_URL).rstrip("/")
        # ir.config_parameter values read as the dispatcher reads its own (bad: default)
        self.connections = env["sms.sms"]._sms_get_param(PARAM_CONNECTIONS)
        self.timeout = (CONNECT_TIMEOUT, env["sms.sms"]._sms_get_param(PARAM_TIMEOUT))
        self.base_url = company.get_base_url()

    # ------------------------------------------------------------
    # THE INTERFACE
    # ------------------------------------------------------------

    @property
    def _sms_chunk_size(self):
        """SMS per call of ``_send_sms_batch``: the dispatcher checks each chunk again just
        before it leaves (a STOP since the claim), so that a chunk is a fraction of a second
        of sending, four rounds of requests."""
        return self.connections * 4

    def _send_sms_batch(self, messages, delivery_reports_url=False):
        """One request per SMS, up to ``connections`` at once. An SMS tried before without a
        known outcome (``attempt`` > 1) is first looked up in Twilio's message list (same
        number, same text, created since the SMS): found, it is sent already."""
        jobs = [
            (message["content"], number) for message in messages for number in message["numbers"]
        ]
        missing = self._sms_missing_setting()
        if missing:
            return refused_for_setting(jobs, missing)
        results = {}
        retried = [job for job in jobs if job[1].get("attempt", 1) > 1]
        if retried:
            found = self._sms_map(self._sms_reconcile_one, retried)
            taken = set()
            for (_content, number), answer in zip(retried, found, strict=True):
                if isinstance(answer, dict):  # unknown still: the list could not be read
                    results[number["uuid"]] = answer
                    continue
                free = [sid for sid in answer if sid not in taken]
                if free:
                    taken.add(free[0])
                    results[number["uuid"]] = {
                        "uuid": number["uuid"],
                        "state": "success",
                        "provider_message_id": free[0],
                    }
        to_send = [job for job in jobs if job[1]["uuid"] not in results]
        stop = threading.Event()  # the account is refused or throttled: send no more
        answers = self._sms_map(lambda job: self._sms_create_one(*job, stop=stop), to_send)
        for answer in answers:
            results[answer["uuid"]] = answer
        return list(results.values())

    def _get_sms_api_error_messages(self):
        return {
            "unregistered": self.env._("Twilio refused the account: check it in Settings."),
            "insufficient_credit": self.env._("The Twilio account has no balance left."),
        }

    def _sms_test_connection(self):
        env = self.env
        if not (self.account_sid and self.auth_token):
            raise UserError(env._("Fill in the Twilio Account SID and Auth Token first."))
        try:
            response = session_for(self.connections).get(
                f"{self._sms_account_url()}.json",
                auth=(self.account_sid, self.auth_token),
                timeout=self.timeout,
            )
        except requests.RequestException as error:
            raise UserError(
                env._(
                    "Twilio could not be reached (%(error)s): check that this server can "
                    "reach the internet.",
                    error=type(error).__name__,
                )
            ) from error
        if response.status_code == 401:
            raise UserError(env._("Twilio refused the Auth Token of this Account SID."))
        if response.status_code == 404:
            raise UserError(env._("Twilio knows no account with this Account SID."))
        if response.status_code != 200:
            raise UserError(env._("Twilio answered HTTP %(status)s.", status=response.status_code))
        account = _json(response)
        status = account.get("status")
        if status != "active":
            raise UserError(
                env._(
                    "The Twilio account is %(status)s: it cannot send SMS.",
                    status=status or env._("in an unknown state"),
                )
            )
        missing = self._sms_missing_setting()
        if missing:
            raise UserError(missing)
        return env._(
            "Twilio answers: the account %(name)s is active.",
            name=account.get("friendly_name") or self.account_sid,
        )

    # ------------------------------------------------------------
    # REQUESTS (in threads: no env from here on)
    # ------------------------------------------------------------

    def _sms_missing_setting(self):
        if not (self.account_sid and self.auth_token):
            return self.env._("Fill in the Twilio Account SID and Auth Token in Settings.")
        if not (self.messaging_service_sid or self.senders):
            return self.env._("Set a Twilio Messaging Service SID or a sender number in Settings.")
        return ""

    def _sms_account_url(self):
        return f"{self.api_url}/2010-04-01/Accounts/{self.account_sid}"

    def _sms_status_callback(self, sms_uuid):
        return f"{self.base_url}/sms/twilio/status/{sms_uuid}"

    def _sms_map(self, function, jobs):
        return map_in_threads(function, jobs, self.connections, "sms_twilio")

    def _sms_create_one(self, content, number, stop):
        sms_uuid = number["uuid"]
        if stop.is_set():
            return {"uuid": sms_uuid, "state": "throttled"}
        data = {
            "To": number["number"],
            "Body": content,
            "StatusCallback": self._sms_status_callback(sms_uuid),
        }
        if self.messaging_service_sid:
            data["MessagingServiceSid"] = self.messaging_service_sid
        else:
            data["From"] = self.senders.sender_for(number["number"])
        try:
            response = session_for(self.connections).post(
                f"{self._sms_account_url()}/Messages.json",
                data=data,
                auth=(self.account_sid, self.auth_token),
                timeout=self.timeout,
            )
        except requests.RequestException as error:
            # the request may have reached Twilio: reconciled before it is sent again
            return {"uuid": sms_uuid, "state": "unknown", "failure_reason": type(error).__name__}
        answer = self._sms_answer(sms_uuid, response)
        if answer["state"] in ACCOUNT_STATES or answer["state"] == "throttled":
            stop.set()
        return answer

    def _sms_answer(self, sms_uuid, response):
        """Twilio's answer to one create request, as a result of the interface."""
        status = response.status_code
        body = _json(response)
        if status in (200, 201) and body.get("sid"):
            return {"uuid": sms_uuid, "state": "success", "provider_message_id": body["sid"]}
        if status == 429:
            retry_after = response.headers.get("Retry-After", "")
            return {
                "uuid": sms_uuid,
                "state": "throttled",
                "retry_after": int(retry_after) if retry_after.isdigit() else 0,
            }
        if status >= 500 or status < 400:
            return {"uuid": sms_uuid, "state": "unknown", "failure_reason": f"HTTP {status}"}
        code = body.get("code")
        state, reason = TWILIO_ERRORS.get(code, ("rejected", body.get("message") or ""))
        if status == 401 and code not in TWILIO_ERRORS:
            state, reason = TWILIO_ERRORS[20003]
        return {
            "uuid": sms_uuid,
            "state": state,
            "failure_reason": f"Twilio {code or status}: {reason}",
        }

    def _sms_reconcile_one(self, job):
        """SIDs of the messages Twilio holds for this SMS (same To, same body, created since
        the SMS), newest first; a result of state "unknown" when the list cannot be read."""
        content, number = job
        since = number.get("since")
        params = {"To": number["number"], "PageSize": RECONCILE_PAGE_SIZE}
        if not self.messaging_service_sid:
            params["From"] = self.senders.sender_for(number["number"])
        url = f"{self._sms_account_url()}/Messages.json"
        found = []
        for _page in range(RECONCILE_PAGES):
            try:
                response = session_for(self.connections).get(
                    url,
                    params=params,
                    auth=(self.account_sid, self.auth_token),
                    timeout=self.timeout,
                )
            except requests.RequestException as error:
                response, failure = None, type(error).__name__
            else:
                failure = f"HTTP {response.status_code}" if response.status_code != 200 else ""
            if failure:
                return {
                    "uuid": number["uuid"],
                    "state": "unknown",
                    "failure_reason": f"reconciliation: {failure}",
                }
            page = _json(response)
            older = False
            for message in page.get("messages") or []:
                created = _twilio_date(message.get("date_created"))
                if since and created and created < since - CLOCK_SKEW:
                    older = True
                    break
                if message.get("body") == content and message.get("direction", "").startswith(
                    "outbound"
                ):
                    found.append(message.get("sid"))
            next_uri = page.get("next_page_uri")
            if older or not next_uri:
                break
            url, params = f"{self.api_url}{next_uri}", None
        return [sid for sid in found if sid]


def _json(response):
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _twilio_date(value):
    """Twilio's RFC 2822 dates as naive UTC datetimes (Odoo's), None when unreadable."""
    try:
        return parsedate_to_datetime(value).astimezone(UTC).replace(tzinfo=None)
    except (TypeError, ValueError):
        return None
