# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
"""Twilio's REST API for the local fake gateway (``fake_sms_gateway.py --provider twilio``),
for benchmarks and fault tests only: nothing leaves 127.0.0.1.

- ``POST /2010-04-01/Accounts/{sid}/Messages.json`` creates a message (201 with its ``sid``),
  with no idempotency key, like Twilio: a request sent twice is two messages, counted as
  "doubled". Numbers ending in ``0000`` are refused with 21211, ``0001`` with 21408. The
  gateway's faults apply per create request (``credit:N``: after N messages the account is
  "not active", 10001, until ``GET /credit/restore``).
- ``GET /2010-04-01/Accounts/{sid}/Messages.json`` lists them newest first, filtered by
  ``To`` and ``From``, paged (``PageSize``, ``Page``, ``next_page_uri``).
- ``GET /2010-04-01/Accounts/{sid}.json`` answers the account, active.
Every request needs Basic auth with the account SID and token (else 401, 20003).

Each message created gets status callbacks to its ``StatusCallback`` URL, signed as Twilio
signs them (``X-Twilio-Signature``), from a few threads: ``sent``, then ``delivered``, or
``undelivered`` with error 30005 for one message in ``UNDELIVERED_EVERY``. ``GET
/final`` gives {our SMS uuid: [Twilio's final status of each message created for it]};
``GET /stats`` adds the messages, list requests and callbacks (done, failed, still to post).

Replies: ``POST /twilio/stop-plan`` with ``{"numbers": [...], "after": K, "url": ...}`` makes
each of those numbers text STOP to the sender, signed, to ``url`` (our inbound webhook), once
K messages were created; ``GET /twilio/stops`` tells, per number, when the STOP was
acknowledged and how long after it each message to that number was created (seconds,
negative: before).
"""

import base64
import hashlib
import hmac
import queue
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from email.utils import formatdate

API = "/2010-04-01/Accounts/"
UNDELIVERED_EVERY = 10  # every 10th message created is reported undelivered
CALLBACK_THREADS = 4
CALLBACK_ATTEMPTS = 5


def signature(auth_token, url, params):
    payload = url + "".join(f"{name}{value}" for name, value in sorted(params.items()))
    return base64.b64encode(
        hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    ).decode()


class TwilioAccount:
    """The messages of one account, and the status callbacks still to post."""

    def __init__(self, state, account_sid, auth_token, callbacks=True):
        self.state = state  # the gateway's: lock, counters, faults
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.post_callbacks = callbacks
        self.messages = []  # oldest first
        self.final = {}  # our SMS uuid -> [final status of each message]
        self.lists = 0
        self.callbacks = queue.Queue()
        self.callbacks_done = self.callbacks_failed = 0
        self.stop_plan = None  # {"numbers", "after", "url"}
        self.stops = {}  # number -> monotonic time its STOP was acknowledged (None: refused)
        self.created_at = {}  # number -> [monotonic times of its messages]
        for _thread in range(CALLBACK_THREADS):
            threading.Thread(target=self._post_callbacks, daemon=True).start()

    def authorized(self, header):
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return hmac.compare_digest(header or "", f"Basic {expected}")

    def add_message(self, params):
        """(HTTP status, body) of a create request (the gateway draws its faults)."""
        state = self.state
        number = params.get("To", "")
        callback = params.get("StatusCallback", "")
        sms_uuid = callback.rsplit("/", 1)[-1]
        with state.lock:
            if "credit" in state.faults and len(state.accepted) >= state.faults["credit"]:
                state.results["account_inactive"] += 1
                return 401, _error(10001, "Account is not active", 401)
            if number.endswith("0000"):
                state.answers.setdefault(sms_uuid, "wrong_number_format")
                state.results["21211"] += 1
                return 400, _error(21211, "Invalid 'To' Phone Number", 400)
            if number.endswith("0001"):
                state.answers.setdefault(sms_uuid, "country_not_supported")
                state.results["21408"] += 1
                return 400, _error(21408, "Permission to send an SMS has not been enabled", 400)
            index = len(self.messages) + 1
            message = {
                "sid": f"SM{index:032x}",
                "account_sid": self.account_sid,
                "to": number,
                "from": params.get("From"),
                "messaging_service_sid": params.get("MessagingServiceSid"),
                "body": params.get("Body", ""),
                "status": "queued",
                "direction": "outbound-api",
                "num_segments": "1",
                "error_code": None,
                "date_created": formatdate(usegmt=True),
            }
            self.messages.append(message)
            final = "undelivered" if index % UNDELIVERED_EVERY == 0 else "delivered"
            self.final.setdefault(sms_uuid, []).append(final)
            if sms_uuid in state.answers:
                state.replays += 1  # created again: the sender did not reconcile
            state.answers[sms_uuid] = "success"
            state.accepted[sms_uuid] += 1
            state.numbers[number] += 1
            state.results["success"] += 1
            state.first_times.append(time.monotonic())
            self.created_at.setdefault(number, []).append(time.monotonic())
            plan = self.stop_plan
            start_stops = plan and index == plan["after"]
        if start_stops:
            threading.Thread(target=self._text_stops, args=(plan,), daemon=True).start()
        if callback and self.post_callbacks:
            self.callbacks.put((callback, message, "sent", None))
            self.callbacks.put(
                (callback, message, final, 30005 if final == "undelivered" else None)
            )
        return 201, message

    def list(self, query):
        to, sender = query.get("To"), query.get("From")
        size = max(min(int(query.get("PageSize") or 50), 1000), 1)
        page = int(query.get("Page") or 0)
        with self.state.lock:
            self.lists += 1
            found = [
                message
                for message in reversed(self.messages)
                if (not to or message["to"] == to) and (not sender or message["from"] == sender)
            ]
        rows = found[page * size : (page + 1) * size]
        next_uri = None
        if len(found) > (page + 1) * size:
            next_query = urllib.parse.urlencode({**query, "Page": page + 1, "PageSize": size})
            next_uri = f"{API}{self.account_sid}/Messages.json?{next_query}"
        return 200, {"messages": rows, "next_page_uri": next_uri, "page": page}

    def stats(self):
        with self.state.lock:
            return {
                "messages": len(self.messages),
                "lists": self.lists,
                "callbacks_pending": self.callbacks.unfinished_tasks,
                "callbacks_done": self.callbacks_done,
                "callbacks_failed": self.callbacks_failed,
            }

    def final_statuses(self):
        with self.state.lock:
            return dict(self.final)

    def stop_report(self):
        with self.state.lock:
            return {
                number: {
                    "acked": acked is not None,
                    "created_after": [
                        round(moment - acked, 3) for moment in self.created_at.get(number, [])
                    ]
                    if acked is not None
                    else [],
                }
                for number, acked in self.stops.items()
            }

    def _text_stops(self, plan):
        """Each planned number texts STOP to the sender, one after the other."""
        sender = self.messages[0]["from"] if self.messages else ""
        for index, number in enumerate(plan["numbers"]):
            params = {
                "MessageSid": f"SMstop{index:026d}",
                "AccountSid": self.account_sid,
                "From": number,
                "To": sender or "",
                "Body": "STOP",
                "NumSegments": "1",
            }
            acked = None
            for attempt in range(CALLBACK_ATTEMPTS):
                request = urllib.request.Request(
                    plan["url"],
                    data=urllib.parse.urlencode(params).encode(),
                    headers={"X-Twilio-Signature": signature(self.auth_token, plan["url"], params)},
                )
                try:
                    with urllib.request.urlopen(request, timeout=30) as response:
                        if response.status == 200:
                            acked = time.monotonic()
                        break
                except (urllib.error.URLError, OSError):
                    time.sleep(1 + attempt)
            with self.state.lock:
                self.stops[number] = acked

    def _post_callbacks(self):
        while True:
            url, message, status, error_code = self.callbacks.get()
            params = {
                "MessageSid": message["sid"],
                "MessageStatus": status,
                "AccountSid": self.account_sid,
                "To": message["to"],
                "From": message["from"] or "",
                "ApiVersion": "2010-04-01",
            }
            if error_code:
                params["ErrorCode"] = str(error_code)
            ok = False
            for attempt in range(CALLBACK_ATTEMPTS):
                request = urllib.request.Request(
                    url,
                    data=urllib.parse.urlencode(params).encode(),
                    headers={"X-Twilio-Signature": signature(self.auth_token, url, params)},
                )
                try:
                    with urllib.request.urlopen(request, timeout=30) as response:
                        ok = response.status == 200
                        break
                except (urllib.error.URLError, OSError):
                    time.sleep(1 + attempt)
            with self.state.lock:
                if ok:
                    self.callbacks_done += 1
                else:
                    self.callbacks_failed += 1
            self.callbacks.task_done()


def _error(code, message, status):
    return {"code": code, "message": message, "more_info": "", "status": status}


def handle(handler, account, method):
    """Answer one request of ``handler`` (a ``BaseHTTPRequestHandler``) under ``API``;
    returns False when the path is not Twilio's."""
    parsed = urllib.parse.urlsplit(handler.path)
    if not parsed.path.startswith(API):
        return False
    query = dict(urllib.parse.parse_qsl(parsed.query))
    account_path = f"{API}{account.account_sid}"
    if not parsed.path.startswith(account_path):
        handler._reply(404, _error(20404, "The requested resource was not found", 404))
        return True
    if not account.authorized(handler.headers.get("Authorization")):
        handler._reply(401, _error(20003, "Authenticate", 401))
        return True
    if parsed.path == f"{account_path}.json" and method == "GET":
        handler._reply(
            200, {"sid": account.account_sid, "friendly_name": "Fake", "status": "active"}
        )
    elif parsed.path == f"{account_path}/Messages.json" and method == "GET":
        handler._reply(*account.list(query))
    elif parsed.path == f"{account_path}/Messages.json" and method == "POST":
        length = int(handler.headers.get("Content-Length") or 0)
        params = dict(urllib.parse.parse_qsl(handler.rfile.read(length).decode()))
        handler.create_message(lambda: account.add_message(params))
    else:
        handler._reply(404, _error(20404, "The requested resource was not found", 404))
    return True
