# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
"""A local stand-in for the SMS provider, for benchmarks and fault tests only.

Listens on 127.0.0.1 and answers Odoo's SMS API (``/api/sms/3/send``, JSON-RPC) like the real
service: one result per number, keyed by the SMS uuid. It never forwards anything.

Answers by number (E.164 as Odoo sends it):
- ending in ``0000``: ``wrong_number_format``;
- ending in ``0001``: ``country_not_supported``;
- anything else: ``success``.
Like a provider with idempotency keys (Odoo IAP's uuids): the SMS uuid is the key. A uuid seen
again is answered with its first answer and counted as a replay, never delivered twice; a
number delivered under several uuids is counted as "doubled" (the sender sent it twice).

Faults, for fault tests (``--fault``, repeatable): ``credit:N`` (insufficient credit after N
delivered SMS, until ``GET /credit/restore``), ``error500-before:N`` / ``error500-after:N``
(every Nth call answers HTTP 500, before or after recording the batch as accepted), ``hang:N``
(every Nth call sleeps past the client's timeout after accepting), ``reset:N`` (every Nth call
drops the connection before answering), ``throttle:N`` (every Nth call answers HTTP 429 with
``Retry-After: 1``), ``slow:MS`` (every call waits MS milliseconds after accepting, so that a
sender can be killed while a batch is in flight).

``flaky:P`` makes P percent of calls fail, drawn at random (``--seed``) among those faults:
500 before or after accepting, a hang past the timeout after accepting, a reset, and a burst
of 429 answers (that call and the next two).

``GET /stats`` returns the counters as JSON, ``GET /numbers`` each delivered number with the
number of uuids it was delivered under, ``GET /answers`` the answer given to each uuid; the
stats are printed to stdout on SIGTERM. For the pacing check ("at most N SMS per minute"),
the stats also give the most SMS received for the first time (replays aside) within any 60
seconds, and the count per 60 seconds from the first.
With ``--provider twilio`` it speaks Twilio's REST API instead (``fake_twilio.py``): the same
faults per create request, and signed status callbacks. With ``--provider http`` it is a
provider of the generic HTTP kind (``fake_http_provider.py``): the same faults per request,
idempotency keys, and delivery reports signed as Standard Webhooks posted to ``--report-url``.
Then ``GET /final`` gives the provider's final status of each message, per SMS uuid.

Usage: python fake_sms_gateway.py --port 0 [--port-file FILE] [--fault KIND:N ...]
       [--provider twilio --twilio-sid AC... --twilio-token TOKEN [--no-callbacks]]
       [--provider http --http-token TOKEN [--report-url URL --webhook-secret whsec_...]]
"""

import argparse
import json
import random
import signal
import socket
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import fake_http_provider
import fake_twilio

WINDOW = 60  # seconds: the pacing setting's "per minute" holds for any 60 seconds
FLAKY_FAULTS = ("error500-before", "error500-after", "hang", "reset", "throttle")
FLAKY_THROTTLE_BURST = 3  # a flaky 429 comes with the next calls' as well


def max_in_window(times, window=WINDOW):
    """The most of the sorted ``times`` within any ``window`` seconds (two pointers: ``first``
    is the oldest time less than ``window`` before ``times[last]``)."""
    best = first = 0
    for last, moment in enumerate(times):
        while moment - times[first] >= window:
            first += 1
        best = max(best, last - first + 1)
    return best


def per_window(times, window=WINDOW):
    """How many of the sorted ``times`` fall in each ``window`` seconds from the first."""
    counts = Counter(int((moment - times[0]) // window) for moment in times)
    return [counts[index] for index in range(max(counts, default=-1) + 1)]


class GatewayState:
    def __init__(self, faults, hang_seconds=20, seed=17):
        self.lock = threading.Lock()
        self.calls = 0
        self.answers = {}  # uuid -> first answer given (idempotency key)
        self.accepted = Counter()  # uuid -> times received with a success answer
        self.numbers = Counter()  # number -> distinct uuids delivered to it
        self.results = Counter()  # state -> count
        self.replays = 0  # uuids received again, answered without a second delivery
        self.faults_injected = Counter()  # fault kind -> calls it hit
        self.first_times = []  # time.monotonic() of each SMS answered for the first time
        self.faults = {}
        for fault in faults or ():
            kind, _sep, value = fault.partition(":")
            if kind:
                self.faults[kind] = int(value or 0)
        self.hang_seconds = hang_seconds
        self.random = random.Random(seed)
        self.throttled_calls = 0  # calls left in a burst of 429 answers (flaky)

    def draw_fault(self, call, faults):
        """The fault of this call, if any (call with the lock held)."""
        if self.throttled_calls:
            self.throttled_calls -= 1
            return "throttle"
        for kind in ("error500-before", "throttle", "reset", "error500-after", "hang"):
            if faults.get(kind) and call % faults[kind] == 0:
                return kind
        if faults.get("flaky") and self.random.random() * 100 < faults["flaky"]:
            kind = self.random.choice(FLAKY_FAULTS)
            if kind == "throttle":
                self.throttled_calls = FLAKY_THROTTLE_BURST - 1
            return kind
        return None

    def stats(self):
        with self.lock:
            return {
                "calls": self.calls,
                "received": sum(self.accepted.values()),
                "unique_uuids": len(self.accepted),
                "delivered": sum(self.numbers.values()),
                "replays": self.replays,
                "duplicate_uuids": sum(1 for count in self.accepted.values() if count > 1),
                "duplicate_numbers": sum(1 for count in self.numbers.values() if count > 1),
                "doubled": sum(1 for count in self.numbers.values() if count > 1),
                "results": dict(self.results),
                "faults": dict(self.faults_injected),
                "first_time": len(self.first_times),
                "max_in_window": max_in_window(sorted(self.first_times)),
                "per_window": per_window(sorted(self.first_times)),
                "window": WINDOW,
            }

    def answer(self, messages):
        results = []
        with self.lock:
            for message in messages:
                for entry in message["numbers"]:
                    uuid = entry["uuid"]
                    if uuid in self.answers:  # a retry of the sender: same answer, no new SMS
                        state = self.answers[uuid]
                        self.replays += 1
                        if state == "success":
                            self.accepted[uuid] += 1
                        results.append({"uuid": uuid, "state": state, "credit": 1})
                        continue
                    self.first_times.append(time.monotonic())
                    number = entry["number"] or ""
                    if number.endswith("0000"):
                        state = "wrong_number_format"
                    elif number.endswith("0001"):
                        state = "country_not_supported"
                    elif "credit" in self.faults and len(self.accepted) >= self.faults["credit"]:
                        state = "insufficient_credit"
                    else:
                        state = "success"
                        self.accepted[uuid] += 1
                        self.numbers[number] += 1
                    if state != "insufficient_credit":  # refused for credit: may come again
                        self.answers[uuid] = state
                    self.results[state] += 1
                    results.append({"uuid": uuid, "state": state, "credit": 1})
        return results


def make_handler(state, twilio=None, http=None):
    """The request handler; ``twilio`` or ``http``: the account of that provider, if any."""
    provider = twilio or http

    class Handler(BaseHTTPRequestHandler):
        # keep-alive: the sender keeps its connections from one request to the next
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # noqa: A002 - quiet server
            return

        def _reply(self, code, payload):
            body = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if twilio and fake_twilio.handle(self, twilio, "GET"):
                return
            if self.path == "/stats":
                self._reply(200, {**state.stats(), **(provider.stats() if provider else {})})
            elif self.path == "/final" and provider:
                self._reply(200, provider.final_statuses())
            elif self.path == "/twilio/stops" and twilio:
                self._reply(200, twilio.stop_report())
            elif self.path == "/numbers":
                with state.lock:
                    self._reply(200, dict(state.numbers))
            elif self.path == "/answers":
                with state.lock:
                    self._reply(200, dict(state.answers))
            elif self.path == "/credit/restore":
                with state.lock:
                    state.faults.pop("credit", None)
                self._reply(200, {"credit": "restored"})
            else:
                self._reply(404, {"error": "not found"})

        def do_POST(self):
            if twilio and fake_twilio.handle(self, twilio, "POST"):
                return
            if http and fake_http_provider.handle(self, http, "POST"):
                return
            length = int(self.headers.get("Content-Length") or 0)
            request = json.loads(self.rfile.read(length) or b"{}")
            if self.path == "/twilio/stop-plan" and twilio:
                with state.lock:
                    twilio.stop_plan = request
                self._reply(200, {"numbers": len(request.get("numbers", []))})
                return
            if self.path != "/api/sms/3/send":
                self._reply(404, {"error": "not found"})
                return

            def accept():
                results = state.answer(request.get("params", {}).get("messages", []))
                return 200, {"jsonrpc": "2.0", "id": request.get("id"), "result": results}

            self._with_faults(accept)

        def create_message(self, accept):
            """A provider's request creating a message, under the gateway's faults."""
            self._with_faults(accept)

        def _with_faults(self, accept):
            """Draw this call's fault, then answer: ``accept()`` gives (status, body)."""
            with state.lock:
                state.calls += 1
                call = state.calls
                faults = dict(state.faults)
                fault = state.draw_fault(call, faults)
                if fault:
                    state.faults_injected[fault] += 1

            if fault == "error500-before":
                self._reply(500, {"error": "injected failure before accepting"})
                return
            if fault == "throttle":
                body = b'{"error": "too many requests"}'
                self.send_response(429)
                self.send_header("Retry-After", "1")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            if fault == "reset":
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                )
                # the reading file holds the socket open: closed first, the socket closes at
                # once and the client gets the reset (else a kept-alive request just waits)
                self.close_connection = True
                self.rfile.close()
                self.connection.close()
                return
            status, body = accept()
            if faults.get("slow"):
                time.sleep(faults["slow"] / 1000)
            if fault == "error500-after":
                self._reply(500, {"error": "injected failure after accepting"})
                return
            if fault == "hang":
                time.sleep(state.hang_seconds)
            try:
                self._reply(status, body)
            except OSError:  # the client gave up (timeout) or died
                return

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", help="write the port listened on to this file")
    parser.add_argument(
        "--fault", action="append", default=[], help="KIND:N, see the module docstring"
    )
    parser.add_argument("--hang-seconds", type=float, default=20)
    parser.add_argument("--seed", type=int, default=17, help="of the flaky faults")
    parser.add_argument("--provider", choices=("iap", "twilio", "http"), default="iap")
    parser.add_argument("--twilio-sid", default="AC" + "0" * 32)
    parser.add_argument("--twilio-token", default="fake-twilio-token")
    parser.add_argument(
        "--no-callbacks", action="store_true", help="post no Twilio status callbacks"
    )
    parser.add_argument("--http-token", default="fake-http-token")
    parser.add_argument("--report-url", default="", help="where delivery reports go (http)")
    parser.add_argument("--webhook-secret", default="", help="whsec_... of the reports (http)")
    args = parser.parse_args()

    state = GatewayState(args.fault, hang_seconds=args.hang_seconds, seed=args.seed)
    twilio = None
    if args.provider == "twilio":
        twilio = fake_twilio.TwilioAccount(
            state, args.twilio_sid, args.twilio_token, callbacks=not args.no_callbacks
        )
    http = None
    if args.provider == "http":
        http = fake_http_provider.HttpAccount(
            state, args.http_token, args.report_url, args.webhook_secret
        )
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(state, twilio, http))
    server.daemon_threads = True
    if args.port_file:
        with open(args.port_file, "w", encoding="utf-8") as port_file:
            port_file.write(str(server.server_address[1]))

    def stop(_signum, _frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever()
    sys.stdout.write(json.dumps(state.stats()) + "\n")


if __name__ == "__main__":
    main()
