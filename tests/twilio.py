# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
"""Twilio mocked at its HTTP boundary: ``FakeTwilio`` answers the requests Odoo's test runner
intercepts (``BaseCase._request_handler``), as Twilio's REST API would, with faults on
demand; ``TwilioCase`` points the company at it."""

import base64
import itertools
import json
import threading
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import parse_qsl, urlsplit

import requests

from odoo.addons.mass_mailing_sms.tests.common import MassSMSCommon
from odoo.addons.mass_mailing_sms.tools.sms_twilio import TWILIO_API_URL, twilio_signature

ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "5ec2e7-auth-token-of-the-tests"
FROM_NUMBER = "+14155550100"


def _response(request, status, body, headers=None):
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(body).encode()
    response.headers.update({"Content-Type": "application/json", **(headers or {})})
    response.encoding = "utf-8"
    response.url = request.url
    response.request = request
    return response


class FakeTwilio:
    """One Twilio account in memory.

    ``faults[number]`` lists what happens to the next create requests for that number, in
    order: an error code (answered 4xx with it), ``"429"``, ``"500_before"`` (500, nothing
    created), ``"500_after"`` (created, then 500), ``"timeout_after"`` (created, the answer is
    lost), ``"reset_before"`` (connection reset, nothing created).
    """

    def __init__(self, account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.account_status = "active"
        self.messages = []  # dicts, oldest first
        self.requests = []  # (method, path, params)
        self.faults = {}
        self._lock = threading.Lock()
        self._sids = itertools.count(1)
        self.on_create = None  # called with the parameters of each create request

    def handle(self, request):
        url = urlsplit(request.url)
        params = dict(parse_qsl(url.query))
        if request.body:
            body = request.body.decode() if isinstance(request.body, bytes) else request.body
            params.update(parse_qsl(body, keep_blank_values=True))
        with self._lock:
            self.requests.append((request.method, url.path, params))
        account_path = f"/2010-04-01/Accounts/{self.account_sid}"
        if not url.path.startswith(account_path):
            return _response(request, 404, {"code": 20404, "message": "not found", "status": 404})
        if request.headers.get("Authorization") != self._authorization():
            return _response(
                request, 401, {"code": 20003, "message": "Authenticate", "status": 401}
            )
        if url.path == f"{account_path}.json":
            return _response(
                request,
                200,
                {"sid": self.account_sid, "friendly_name": "Test", "status": self.account_status},
            )
        if url.path == f"{account_path}/Messages.json" and request.method == "POST":
            return self._create(request, params)
        if url.path == f"{account_path}/Messages.json" and request.method == "GET":
            return self._list(request, params)
        return _response(request, 404, {"code": 20404, "message": "not found", "status": 404})

    def _authorization(self):
        token = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return f"Basic {token}"

    def _create(self, request, params):
        if self.on_create:
            self.on_create(params)
        with self._lock:
            faults = self.faults.get(params.get("To"))
            fault = faults.pop(0) if faults else None
            if fault in ("500_before", "reset_before", "429") or isinstance(fault, int):
                message = None
            else:
                message = {
                    "sid": f"SM{next(self._sids):032x}",
                    "to": params.get("To"),
                    "from": params.get("From"),
                    "messaging_service_sid": params.get("MessagingServiceSid"),
                    "body": params.get("Body"),
                    "status": "queued",
                    "direction": "outbound-api",
                    "status_callback": params.get("StatusCallback"),
                    "date_created": format_datetime(datetime.now(UTC), usegmt=True),
                }
                self.messages.append(message)
        if fault == "reset_before":
            raise requests.ConnectionError("Connection reset by peer")
        if fault == "timeout_after":
            raise requests.ReadTimeout("Read timed out")
        if fault in ("500_before", "500_after"):
            return _response(request, 500, {"code": 20500, "message": "Internal", "status": 500})
        if fault == "429":
            return _response(
                request,
                429,
                {"code": 20429, "message": "Too Many Requests", "status": 429},
                {"Retry-After": "3"},
            )
        if isinstance(fault, int):
            status = 401 if fault == 20003 else 400
            return _response(
                request, status, {"code": fault, "message": f"Error {fault}", "status": status}
            )
        return _response(request, 201, {**message, "num_segments": "1", "error_code": None})

    def _list(self, request, params):
        with self._lock:
            found = [
                message
                for message in reversed(self.messages)
                if message["to"] == params.get("To")
                and (not params.get("From") or message["from"] == params["From"])
            ]
        return _response(request, 200, {"messages": found, "next_page_uri": None})

    def sent_to(self, number):
        return [message for message in self.messages if message["to"] == number]


class TwilioCase(MassSMSCommon):
    """Tests whose company sends through Twilio, mocked at the HTTP boundary."""

    fake_twilio = None

    @classmethod
    def _request_handler(cls, s, r, /, **kw):
        if cls.fake_twilio and r.url.startswith(TWILIO_API_URL):
            return cls.fake_twilio.handle(r)
        return super()._request_handler(s, r, **kw)

    def setUp(self):
        super().setUp()
        type(self).fake_twilio = FakeTwilio()
        self.addCleanup(setattr, type(self), "fake_twilio", None)
        self.env.company.write(
            {
                "sms_provider": "twilio",
                "sms_twilio_account_sid": ACCOUNT_SID,
                "sms_twilio_auth_token": AUTH_TOKEN,
                "sms_twilio_number_ids": [(0, 0, {"name": FROM_NUMBER})],
            }
        )

    def twilio_callback(self, message, status, error_code=None, token=AUTH_TOKEN, **extra):
        """Twilio posts a status callback for ``message``, signed with ``token``."""
        params = {
            "MessageSid": message["sid"],
            "MessageStatus": status,
            "AccountSid": ACCOUNT_SID,
            "To": message["to"],
            "From": message["from"] or "",
            **({"ErrorCode": str(error_code)} if error_code else {}),
            **extra,
        }
        url = message["status_callback"]
        signature = twilio_signature(token, url, params)
        return self.url_open(
            urlsplit(url).path, data=params, headers={"X-Twilio-Signature": signature}
        )
