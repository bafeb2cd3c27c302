# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
"""A provider of the generic HTTP kind (issue 29) for the local fake gateway
(``fake_sms_gateway.py --provider http``), for benchmarks and fault tests only: nothing leaves
127.0.0.1.

- ``POST /http/sms/send`` takes one SMS as JSON (``{"to", "from", "text", "reference"}``, the
  body template of ``HTTP_BODY_TEMPLATE``) with ``Authorization: Bearer <token>`` (else 401)
  and answers 200 ``{"messageId", "status": "ACCEPTED"}``. It honours idempotency keys as
  Infobip and Telnyx do: a request repeating an ``Idempotency-Key`` gets the first answer and
  creates nothing (a replay). Numbers ending in ``0000`` are refused with 400 ``invalid
  destination``, ``0001`` with 400 ``destination not covered``. The gateway's faults apply
  per request (``credit:N``: 402 after N messages, until ``GET /credit/restore``).
- Each message created gets one delivery report, ``DELIVERED``, or ``UNDELIVERED`` for one
  message in ``UNDELIVERED_EVERY``, posted as JSON ``{"messageId", "status", "to"}`` to the
  report URL and signed as Standard Webhooks define with the webhook secret, from a few
  threads; a report refused (any answer but 2xx, such as a 404 for a message whose answer is
  not committed yet) is posted again with the same ``webhook-id``, a few seconds later, as
  providers retry webhooks.

``GET /final`` gives {our SMS uuid: [final status of each message created for it]}; ``GET
/stats`` adds the messages and the reports (done, failed, still to post).
"""

import base64
import hashlib
import hmac
import json
import os
import queue
import threading
import time
import urllib.error
import urllib.request

SEND_PATH = "/http/sms/send"
HTTP_BODY_TEMPLATE = '{"to": "{to}", "from": "{from}", "text": "{text}", "reference": "{sms_id}"}'
UNDELIVERED_EVERY = 10  # every 10th message created is reported undelivered
REPORT_THREADS = 4
REPORT_ATTEMPTS = 10  # with a growing pause: about 50 s before a report is given up
REPORT_FINAL = {"delivered": "DELIVERED", "undelivered": "UNDELIVERED"}


def sign(secret, webhook_id, timestamp, body):
    """``webhook-signature`` of the Standard Webhooks specification (the key is the secret
    after ``whsec_``, Base64-decoded; the content ``<id>.<timestamp>.<body>``)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    content = f"{webhook_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()


class HttpAccount:
    """The messages of one account, and the delivery reports still to post."""

    def __init__(self, state, token, report_url="", webhook_secret=""):
        self.state = state  # the gateway's: lock, counters, faults
        self.token = token
        self.report_url = report_url
        self.webhook_secret = webhook_secret
        self.messages = 0
        self.id_prefix = f"HM{os.urandom(4).hex()}"  # ids unique across gateway runs
        self.first_answers = {}  # idempotency key -> (status, body) first answered
        self.final = {}  # our SMS uuid -> [final status of each message]
        self.reports = queue.Queue()
        self.reports_done = self.reports_failed = 0
        if report_url:
            for _thread in range(REPORT_THREADS):
                threading.Thread(target=self._post_reports, daemon=True).start()

    def send(self, headers, body):
        """(HTTP status, body) of a send request (the gateway draws its faults)."""
        if not hmac.compare_digest(headers.get("Authorization") or "", f"Bearer {self.token}"):
            return 401, {"error": "invalid token"}
        key = headers.get("Idempotency-Key") or ""
        number = body.get("to") or ""
        state = self.state
        with state.lock:
            if key and key in self.first_answers:  # the sender's retry: no second message
                state.replays += 1
                if self.first_answers[key][0] == 200:
                    state.accepted[key] += 1
                return self.first_answers[key]
            if "credit" in state.faults and len(state.accepted) >= state.faults["credit"]:
                state.results["no_balance"] += 1
                return 402, {"error": "no balance left"}  # not kept: may come again
            if number.endswith(("0000", "0001")):
                refusal = (
                    "invalid destination"
                    if number.endswith("0000")
                    else ("destination not covered")
                )
                state.answers[key] = (
                    "wrong_number_format" if number.endswith("0000") else "country_not_supported"
                )
                state.results[refusal] += 1
                self.first_answers[key] = (400, {"error": refusal})
                return self.first_answers[key]
            self.messages += 1
            message_id = f"{self.id_prefix}{self.messages:010d}"
            final = "undelivered" if self.messages % UNDELIVERED_EVERY == 0 else "delivered"
            self.final.setdefault(key, []).append(final)
            state.answers[key] = "success"
            state.accepted[key] += 1
            state.numbers[number] += 1
            state.results["success"] += 1
            state.first_times.append(time.monotonic())
            self.first_answers[key] = (200, {"messageId": message_id, "status": "ACCEPTED"})
        if self.report_url:
            report = {"messageId": message_id, "status": REPORT_FINAL[final], "to": number}
            self.reports.put((f"msg_{message_id}", report))
        return self.first_answers[key]

    def stats(self):
        with self.state.lock:
            return {
                "messages": self.messages,
                "callbacks_pending": self.reports.unfinished_tasks,
                "callbacks_done": self.reports_done,
                "callbacks_failed": self.reports_failed,
            }

    def final_statuses(self):
        with self.state.lock:
            return dict(self.final)

    def _post_reports(self):
        while True:
            webhook_id, report = self.reports.get()
            body = json.dumps(report).encode()
            ok = False
            for attempt in range(REPORT_ATTEMPTS):
                timestamp = str(int(time.time()))
                request = urllib.request.Request(
                    self.report_url,
                    data=body,
                    headers={
                        "Content-Type": "application/json",
                        "webhook-id": webhook_id,
                        "webhook-timestamp": timestamp,
                        "webhook-signature": sign(self.webhook_secret, webhook_id, timestamp, body),
                    },
                )
                try:
                    with urllib.request.urlopen(request, timeout=30) as response:
                        ok = 200 <= response.status < 300
                        break
                except (urllib.error.URLError, OSError):  # HTTPError (404...) included
                    time.sleep(min(1 + attempt, 8))
            with self.state.lock:
                if ok:
                    self.reports_done += 1
                else:
                    self.reports_failed += 1
            self.reports.task_done()


def handle(handler, account, method):
    """Answer one request of ``handler`` (a ``BaseHTTPRequestHandler``) for the send path;
    returns False for any other path."""
    if handler.path != SEND_PATH or method != "POST":
        return False
    length = int(handler.headers.get("Content-Length") or 0)
    try:
        body = json.loads(handler.rfile.read(length) or b"{}")
    except ValueError:
        handler._reply(400, {"error": "the body is not JSON"})
        return True
    headers = {name: handler.headers.get(name) for name in ("Authorization", "Idempotency-Key")}
    handler.create_message(lambda: account.send(headers, body))
    return True
