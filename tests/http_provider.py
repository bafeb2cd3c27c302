# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
"""The generic HTTP provider mocked at its HTTP boundary: ``FakeHttpProvider`` answers the
requests Odoo's test runner intercepts as a provider honouring idempotency keys would, with
faults on demand; ``HttpProviderCase`` points the company at it."""

import itertools
import json
import threading

import requests

from odoo.addons.mass_mailing_sms.tests.common import MassSMSCommon
from odoo.addons.mass_mailing_sms.tests.twilio import _response

SEND_URL = "https://sms.provider.example/v1/messages"
AUTHORIZATION = "Bearer http-provider-token-of-the-tests"
BODY_TEMPLATE = json.dumps(
    {
        "messages": [{"destination": "{to}", "sender": "{from}", "text": "{text}"}],
        "reference": "{sms_id}",
    }
)
MESSAGE_ID_PATH = "messages.0.messageId"
STATUS_PATH = "messages.0.status"


class FakeHttpProvider:
    """A provider in memory: a request repeating an idempotency key gets the first answer
    and creates nothing.

    ``faults[number]`` lists what happens to the next requests for that number, in order: an
    HTTP status (answered with it, nothing created), ``"500_after"`` (created, then 500),
    ``"timeout_after"`` (created, the answer is lost), ``"rejected"`` (2xx with the status
    REJECTED).
    """

    def __init__(self):
        self.messages = []  # dicts, oldest first
        self.requests = []  # (headers, JSON body)
        self.answers = {}  # idempotency key: (status, body) first answered
        self.faults = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def handle(self, request):
        body = json.loads(request.body)
        headers = dict(request.headers)
        with self._lock:
            self.requests.append((headers, body))
            if headers.get("Authorization") != AUTHORIZATION:
                return _response(request, 401, {"error": "invalid token"})
            key = headers.get("Idempotency-Key")
            if key in self.answers:
                return _response(request, *self.answers[key])
            message = body["messages"][0]
            faults = self.faults.get(message["destination"]) or []
            fault = faults.pop(0) if faults else None
            if isinstance(fault, int):
                return _response(request, fault, {"error": f"refused ({fault})"})
            created = {
                "id": f"MSG{next(self._ids):06d}",
                "to": message["destination"],
                "from": message["sender"],
                "text": message["text"],
                "key": key,
            }
            self.messages.append(created)
            status = "REJECTED" if fault == "rejected" else "PENDING"
            answer = (200, {"messages": [{"messageId": created["id"], "status": status}]})
            self.answers[key] = answer
        if fault == "500_after":
            return _response(request, 500, {"error": "internal"})
        if fault == "timeout_after":
            raise requests.ReadTimeout("the answer was lost")
        return _response(request, *answer)

    def sent_to(self, number):
        return [message for message in self.messages if message["to"] == number]


class HttpProviderCase(MassSMSCommon):
    """Tests whose company sends through the generic HTTP provider, mocked at the boundary."""

    fake_http = None

    @classmethod
    def _request_handler(cls, s, r, /, **kw):
        if cls.fake_http and r.url.startswith(SEND_URL):
            return cls.fake_http.handle(r)
        return super()._request_handler(s, r, **kw)

    def setUp(self):
        super().setUp()
        type(self).fake_http = FakeHttpProvider()
        self.addCleanup(setattr, type(self), "fake_http", None)
        self.env.company.sms_twilio_number_ids.unlink()
        self.env.company.write(
            {
                "sms_provider": "http",
                "sms_http_url": SEND_URL,
                "sms_http_authorization": AUTHORIZATION,
                "sms_http_body_template": BODY_TEMPLATE,
                "sms_http_message_id_path": MESSAGE_ID_PATH,
                "sms_http_status_path": STATUS_PATH,
                "sms_twilio_number_ids": [(0, 0, {"name": "ACME", "is_default": True})],
            }
        )
