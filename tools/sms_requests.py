# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
"""What the providers that take one SMS per HTTP request share (Twilio, the HTTP provider):
kept-alive sessions, several requests in flight, and the answer when a setting is missing."""

import threading
from concurrent.futures import ThreadPoolExecutor

import requests
from requests.adapters import HTTPAdapter

PARAM_CONNECTIONS = ("mass_mailing_sms.sms_provider_connections", 24)  # requests in flight
PARAM_TIMEOUT = ("mass_mailing_sms.sms_provider_timeout", 30)  # seconds to wait for an answer
CONNECT_TIMEOUT = 5

_sessions = {}
_sessions_lock = threading.Lock()


def session_for(connections):
    """A ``requests`` session per pool size, shared by the workers' threads: connections
    stay open from one batch to the next."""
    with _sessions_lock:
        session = _sessions.get(connections)
        if session is None:
            session = requests.Session()
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=connections)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            _sessions[connections] = session
        return session


def map_in_threads(function, jobs, connections, name):
    """``[function(job) for job in jobs]``, up to ``connections`` at once."""
    if len(jobs) <= 1 or connections == 1:
        return [function(job) for job in jobs]
    with ThreadPoolExecutor(
        max_workers=min(connections, len(jobs)), thread_name_prefix=name
    ) as pool:
        return list(pool.map(function, jobs))


def refused_for_setting(jobs, reason):
    """The answers of a batch that cannot leave for a missing setting: refused like an
    account the provider refuses, one SMS showing why, the others waiting."""
    return [
        {"uuid": number["uuid"], "state": "unregistered", "failure_reason": reason}
        if index == 0
        else {"uuid": number["uuid"], "state": "throttled"}
        for index, (_content, number) in enumerate(jobs)
    ]
