# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
# ruff: noqa: F821 - run by `odoo-bin shell`, which defines `env`
# A script committing like the crons and printing its result:
# pylint: disable=invalid-commit,print-used
"""One step of a fault test (bin/fault_test), run through `odoo-bin shell`.

Environment: FAULT_MODE (setup, pacing-on, pacing-off, build, rebuild, send, retry, check), FAULT_N
(recipients), FAULT_GATEWAY (fake gateway URL), FAULT_LIST_ID, FAULT_MAILING_ID, FAULT_NAME,
FAULT_TIMEOUT (seconds a send loop may take), FAULT_MAX_ATTEMPTS (unknown outcomes before an
SMS ends in error, 10 unless set), FAULT_BATCH (SMS per provider call, 500 unless set),
FAULT_PACING (SMS per minute, for pacing-on),
FAULT_SEND_SECONDS (how long the send took, for the pacing check), FAULT_PROVIDER (``twilio``
to send through Twilio's API, ``http`` through the generic HTTP provider, faked by the gateway,
whose signed delivery reports reach the Odoo server at FAULT_ODOO_URL; FAULT_TWILIO_SID and
FAULT_TWILIO_TOKEN, or FAULT_HTTP_TOKEN and FAULT_WEBHOOK_SECRET), FAULT_READ_TIMEOUT (seconds
the provider may take to answer).

- setup: settings of the SMS queue and a mailing list of N contacts with realistic bad data
  (malformed, missing, blacklisted, opted-out, duplicate numbers); prints ``FAULT_LIST <id>``;
- pacing-on / pacing-off: the pacing setting, at most FAULT_PACING SMS per minute / no limit;
- build: an SMS mailing to that list, put in the queue and built by the mailing queue cron
  (traces and SMS, all queued); prints ``FAULT_MAILING <id>``;
- send: runs the SMS queue as its cron does, committing, until no SMS of the mailing is
  queued (waiting out leases, back-offs and the pacing limit); exits non-zero after
  FAULT_TIMEOUT seconds with SMS still queued;
- retry: the marketer's "Retry" on the mailing;
- check: prints ``FAULT_RESULT {json}``: lost, doubled, wrongly sent numbers (from the
  gateway), the final state of every recipient, recipients without exactly one final trace,
  traces shown failed (or still queued) although the provider accepted their SMS and traces
  shown sent although it did not; through Twilio or the HTTP provider, once their delivery
  reports are all posted, traces whose state is not what the fake reported (delivered:
  Delivered, undelivered: bounced through Twilio, not delivered through the HTTP provider);
  with pacing on, the most SMS the gateway received in any 60 seconds, against the limit.
"""

import json
import os
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.environ["MMS_REPO"], "bin"))
import campaign_data  # noqa: E402 (found through the line above)
import fake_http_provider  # noqa: E402

MODE = os.environ["FAULT_MODE"]
N = int(os.environ.get("FAULT_N", "20000"))
GATEWAY = os.environ.get("FAULT_GATEWAY", "")
FINAL = ("sent", "pending", "bounce", "error", "cancel")
PACING = "mass_mailing_sms.sms_pacing"
PACING_PER_MINUTE = "mass_mailing_sms.sms_pacing_per_minute"
PROVIDER = os.environ.get("FAULT_PROVIDER", "iap")
TWILIO_SID = os.environ.get("FAULT_TWILIO_SID", "")
TWILIO_TOKEN = os.environ.get("FAULT_TWILIO_TOKEN", "")
HTTP_TOKEN = os.environ.get("FAULT_HTTP_TOKEN", "")
WEBHOOK_SECRET = os.environ.get("FAULT_WEBHOOK_SECRET", "")
# the provider's final status of a message -> the state its trace must end in
FINAL_TO_TRACE = {
    "twilio": {"delivered": "sent", "undelivered": "bounce"},  # 30005: invalid destination
    "http": {"delivered": "sent", "undelivered": "error"},  # not delivered
}
REPORTED = PROVIDER in FINAL_TO_TRACE  # the provider posts delivery reports to Odoo
STOP_GRACE = 2  # seconds: SMS handed over before a STOP was processed may still complete
cr = env.cr


def expected_numbers():
    return campaign_data.expected_numbers(N)


def setup():
    params = env["ir.config_parameter"].sudo()
    params.set_param("web.base.url", "http://fault.example.com")
    params.set_param("sms.session.batch.size", os.environ.get("FAULT_BATCH", "500"))
    params.set_param("mass_mailing_sms.sms_lease_seconds", os.environ.get("FAULT_LEASE", "30"))
    params.set_param("mass_mailing_sms.sms_retry_delay", "1")
    params.set_param("mass_mailing_sms.sms_max_attempts", "10")
    mailing_list = campaign_data.prepare_list(env, f"Fault test {N}", N, "fault-token")
    cr.commit()
    print(f"FAULT_LIST {mailing_list.id}", flush=True)


def pacing_on():
    params = env["ir.config_parameter"].sudo()
    params.set_param(PACING, "True")
    params.set_param(PACING_PER_MINUTE, os.environ["FAULT_PACING"])
    cr.commit()


def pacing_off():
    """Other scenarios, after this one, send at full speed."""
    env["ir.config_parameter"].sudo().set_param(PACING, "False")
    cr.commit()


def build():
    params = env["ir.config_parameter"].sudo()
    params.set_param("sms.endpoint", GATEWAY)
    params.set_param(
        "mass_mailing_sms.sms_max_attempts", os.environ.get("FAULT_MAX_ATTEMPTS", "10")
    )
    params.set_param("sms.session.batch.size", os.environ.get("FAULT_BATCH", "500"))
    if REPORTED:
        use_provider(params)
    mailing_list = env["mailing.list"].browse(int(os.environ["FAULT_LIST_ID"]))
    name = os.environ.get("FAULT_NAME", "fault")
    mailing = env["mailing.mailing"].create(
        {
            "name": f"Fault test: {name}",
            "subject": f"Fault test: {name}",
            "mailing_type": "sms",
            "mailing_model_id": env["ir.model"]._get_id("mailing.list"),
            "contact_list_ids": [(6, 0, mailing_list.ids)],
            "body_plaintext": "Spring sale: 20% off this weekend! https://shop.example.com/spring",
            "sms_allow_unsubscribe": True,
        }
    )
    mailing.action_launch()
    cr.commit()
    print(f"FAULT_MAILING {mailing.id}", flush=True)
    build_all(mailing)
    if PROVIDER == "twilio" and name == "stop":
        plan_stops()


def build_all(mailing):
    """Run the mailing queue until every recipient is built (one chunk per call)."""
    started = time.time()
    while time.time() - started < 1800:
        env["mailing.mailing"]._process_mass_mailing_queue()
        cr.commit()
        env.invalidate_all()
        if not mailing._get_remaining_recipients():
            break


def rebuild():
    """kill-build: the build was killed; the mailing queue runs again on the same mailing."""
    build_all(env["mailing.mailing"].browse(int(os.environ["FAULT_MAILING_ID"])))


def use_provider(params):
    """The company sends through Twilio or the HTTP provider, faked by the gateway; their
    delivery reports reach the Odoo server of the fault test."""
    params.set_param("web.base.url", os.environ["FAULT_ODOO_URL"])
    params.set_param("web.base.url.freeze", "True")
    params.set_param(
        "mass_mailing_sms.sms_provider_timeout", os.environ.get("FAULT_READ_TIMEOUT", "5")
    )
    company = env.company
    if PROVIDER == "twilio":
        params.set_param("mass_mailing_sms.twilio_api_url", GATEWAY)
        company.write(
            {
                "sms_provider": "twilio",
                "sms_twilio_account_sid": TWILIO_SID,
                "sms_twilio_auth_token": TWILIO_TOKEN,
            }
        )
    else:
        company.write(
            {
                "sms_provider": "http",
                "sms_http_url": GATEWAY + fake_http_provider.SEND_PATH,
                "sms_http_authorization": f"Bearer {HTTP_TOKEN}",
                "sms_http_body_template": fake_http_provider.HTTP_BODY_TEMPLATE,
                "sms_http_message_id_path": "messageId",
                "sms_http_status_path": "status",
                "sms_http_webhook_secret": WEBHOOK_SECRET,
            }
        )
    if not company.sms_twilio_number_ids:
        env["sms.twilio.number"].create({"name": "+14155550100", "company_id": company.id})


def stop_numbers():
    """1% of the recipients, among the last 80% to be sent: they text STOP mid-campaign."""
    return sorted(
        campaign_data.number_of(index)
        for index in range(N // 5, N + 1)
        if index % 100 == 50 and campaign_data.number_of(index) in expected_numbers()
    )


def plan_stops():
    """The fake Twilio has them text STOP once a tenth of the campaign was created."""
    plan = {
        "numbers": stop_numbers(),
        "after": max(len(expected_numbers()) // 10, 1),
        "url": os.environ["FAULT_ODOO_URL"] + "/sms/twilio/inbound",
    }
    request = urllib.request.Request(
        GATEWAY + "/twilio/stop-plan",
        data=json.dumps(plan).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30):
        pass


def stop_result():
    """SMS created for a number after its STOP was acknowledged (beyond the SMS already in
    flight then: STOP_GRACE seconds), STOPs not acknowledged or not blacklisted."""
    report = gateway("/twilio/stops")
    planned = stop_numbers()
    cr.execute("SELECT number FROM phone_blacklist WHERE active AND number = ANY(%s)", (planned,))
    blacklisted = {row[0] for row in cr.fetchall()}
    after = [delay for row in report.values() for delay in row["created_after"] if delay > 0]
    return {
        "planned": len(planned),
        "acked": sum(1 for row in report.values() if row["acked"]),
        "not_blacklisted": len(set(planned) - blacklisted),
        "in_flight": sum(1 for delay in after if delay <= STOP_GRACE),
        "sent_after_stop": sum(1 for delay in after if delay > STOP_GRACE),
        "stopped_numbers": [number for number in planned if number in blacklisted],
    }


def wait_for_callbacks(timeout=600):
    """The provider's delivery reports still to post, after ``timeout`` seconds at most."""
    started = time.time()
    while time.time() - started < timeout:
        pending = gateway("/stats").get("callbacks_pending", 0)
        if not pending:
            return 0
        time.sleep(1)
    return pending


def wrong_final_states(mailing_id):
    """Traces whose state is not what the fake provider finally reported for their SMS."""
    final = gateway("/final")
    cr.execute(
        """SELECT trace.trace_status, tracker.sms_uuid FROM mailing_trace trace
             JOIN sms_tracker tracker ON tracker.mailing_trace_id = trace.id
            WHERE trace.mass_mailing_id = %s""",
        (mailing_id,),
    )
    wrong = 0
    for status, sms_uuid in cr.fetchall():
        reported = final.get(sms_uuid)
        if reported and FINAL_TO_TRACE[PROVIDER][reported[-1]] != status:
            wrong += 1
    return wrong


def result_name():
    return os.environ.get("FAULT_NAME", "")


def queued_count(mailing_id):
    cr.execute(
        """SELECT COUNT(*) FROM sms_sms
            WHERE mailing_id = %s AND state = 'outgoing' AND to_delete IS NOT TRUE""",
        (mailing_id,),
    )
    return cr.fetchone()[0]


def send():
    """A paced run stops when the limit is reached and only has the cron woken once the
    oldest grant leaves the minute: no cron runs here, so wait and call the queue again."""
    mailing_id = int(os.environ["FAULT_MAILING_ID"])
    timeout = int(os.environ.get("FAULT_TIMEOUT", "900"))
    pause = 1 if env["sms.sms"].sudo()._sms_get_pacing_rate() else 0.5
    started = time.time()
    while time.time() - started < timeout:
        handled = env["sms.sms"].sudo()._sms_process_mailing_queue(auto_commit=True)
        cr.commit()
        env.invalidate_all()
        if not queued_count(mailing_id):
            break
        if not handled:
            time.sleep(pause)  # leases of another worker, back-offs, or the pacing limit
    cr.commit()
    queued = queued_count(mailing_id)
    if queued:
        raise SystemExit(f"FAULT_TIMEOUT {queued} SMS still queued after {timeout} s")


def retry():
    mailing = env["mailing.mailing"].browse(int(os.environ["FAULT_MAILING_ID"]))
    mailing.action_retry_failed()
    cr.commit()


def gateway(path):
    with urllib.request.urlopen(GATEWAY + path, timeout=30) as response:
        return json.loads(response.read())


def check():
    mailing_id = int(os.environ["FAULT_MAILING_ID"])
    callbacks_left = wait_for_callbacks() if REPORTED else 0
    cr.commit()  # a fresh snapshot: what the callbacks wrote
    cr.execute(
        """SELECT trace_status, COALESCE(failure_type, ''), COUNT(*) FROM mailing_trace
            WHERE mass_mailing_id = %s GROUP BY 1, 2 ORDER BY 1, 2""",
        (mailing_id,),
    )
    states = {
        f"{status}/{failure}" if failure else status: count
        for status, failure, count in cr.fetchall()
    }
    cr.execute(
        """SELECT COUNT(*) FILTER (WHERE traces = 0), COUNT(*) FILTER (WHERE traces > 1)
             FROM (SELECT contact.id, COUNT(trace.id) AS traces
                     FROM mailing_contact contact
                     JOIN mailing_subscription sub ON sub.contact_id = contact.id
                     JOIN mail_mass_mailing_list_rel rel ON rel.mailing_list_id = sub.list_id
                     LEFT JOIN mailing_trace trace
                            ON trace.mass_mailing_id = rel.mailing_mailing_id
                           AND trace.model = 'mailing.contact' AND trace.res_id = contact.id
                    WHERE rel.mailing_mailing_id = %s
                 GROUP BY contact.id) AS per_contact""",
        (mailing_id,),
    )
    untraced, traced_twice = cr.fetchone()
    # what each trace shows against what the provider did with its SMS (its uuid)
    answers = gateway("/answers")
    cr.execute(
        """SELECT trace.trace_status, tracker.sms_uuid FROM mailing_trace trace
             LEFT JOIN sms_tracker tracker ON tracker.mailing_trace_id = trace.id
            WHERE trace.mass_mailing_id = %s""",
        (mailing_id,),
    )
    # a message Twilio or the HTTP provider accepted may still be reported undelivered
    final = gateway("/final") if REPORTED else {}
    failed_but_delivered = shown_sent_not_accepted = 0
    for status, sms_uuid in cr.fetchall():
        accepted = answers.get(sms_uuid) == "success"
        delivered = accepted and (final.get(sms_uuid) or ["delivered"])[-1] == "delivered"
        if delivered and status in ("error", "bounce", "cancel", "outgoing"):
            failed_but_delivered += 1
        elif not accepted and status in ("pending", "sent", "open", "reply"):
            shown_sent_not_accepted += 1
    unfinished = sum(count for state, count in states.items() if state.split("/")[0] not in FINAL)
    delivered = gateway("/numbers")
    stats = gateway("/stats")
    # recipients who texted STOP (this scenario, or an earlier one on the same list):
    # not sending to them is right
    cr.execute("SELECT number FROM phone_blacklist WHERE active AND sms_recipient_opt_out")
    stopped = {row[0] for row in cr.fetchall()}
    expected = expected_numbers()
    stops = stop_result() if PROVIDER == "twilio" and result_name() == "stop" else None
    if stops:
        stops.pop("stopped_numbers")
    gave_up = states.get("error/sms_server", 0)
    result = {
        "name": os.environ.get("FAULT_NAME", ""),
        "n": N,
        "expected": len(expected - stopped),
        "delivered": len(delivered),
        "lost": len(expected - stopped - set(delivered)),
        "doubled": sum(1 for count in delivered.values() if count > 1),
        "wrongly_sent": len(set(delivered) - expected),
        "replays": stats["replays"],
        "calls": stats["calls"],
        "untraced": untraced,
        "traced_twice": traced_twice,
        "unfinished": unfinished,
        "failed_but_delivered": failed_but_delivered,
        "sent_not_accepted": shown_sent_not_accepted,
        "gave_up": gave_up,
        "faults": stats.get("faults", {}),
        "states": states,
    }
    if stops:
        result["stops"] = stops
    if REPORTED:
        result["callbacks_left"] = callbacks_left
        result["callbacks_failed"] = stats.get("callbacks_failed", 0)
        result["wrong_final"] = wrong_final_states(mailing_id)
        result["reconciliations"] = stats.get("lists", 0)
    per_minute = env["sms.sms"].sudo()._sms_get_pacing_rate()
    if per_minute:
        # at most `limit` SMS in any minute: the first and the last are (total / limit - 1)
        # minutes apart at least, and a quicker send was not paced
        result["pacing"] = {
            "limit": per_minute,
            "max": stats["max_in_window"],
            "window": stats["window"],
            "per_window": stats["per_window"],
            "seconds": int(os.environ.get("FAULT_SEND_SECONDS", "0")),
            "min_seconds": int((stats["first_time"] / per_minute - 1) * 60),
        }
    print("FAULT_RESULT " + json.dumps(result), flush=True)


{
    "setup": setup,
    "pacing-on": pacing_on,
    "pacing-off": pacing_off,
    "build": build,
    "rebuild": rebuild,
    "send": send,
    "retry": retry,
    "check": check,
}[MODE]()
