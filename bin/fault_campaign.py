# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
# ruff: noqa: F821 - run by `odoo-bin shell`, which defines `env`
# A script committing like the crons and printing its result:
# pylint: disable=invalid-commit,print-used
"""One step of a fault test (bin/fault_test), run through `odoo-bin shell`.

Environment: FAULT_MODE (setup, build, send, retry, check), FAULT_N (recipients),
FAULT_GATEWAY (fake gateway URL), FAULT_LIST_ID, FAULT_MAILING_ID, FAULT_NAME,
FAULT_TIMEOUT (seconds a send loop may take).

- setup: settings of the SMS queue and a mailing list of N contacts with realistic bad data
  (malformed, missing, blacklisted, opted-out, duplicate numbers); prints ``FAULT_LIST <id>``;
- build: an SMS mailing to that list, put in the queue and built by the mailing queue cron
  (traces and SMS, all queued); prints ``FAULT_MAILING <id>``;
- send: runs the SMS queue as its cron does, committing, until no SMS of the mailing is
  queued (waiting out leases and back-offs);
- retry: the marketer's "Retry" on the mailing;
- check: prints ``FAULT_RESULT {json}``: lost, doubled, wrongly sent numbers (from the
  gateway), the final state of every recipient, recipients without exactly one final trace.
"""

import json
import os
import time
import urllib.request

MODE = os.environ["FAULT_MODE"]
N = int(os.environ.get("FAULT_N", "20000"))
GATEWAY = os.environ.get("FAULT_GATEWAY", "")
FINAL = ("sent", "pending", "bounce", "error", "cancel")
cr = env.cr


def number_of(index):
    return "+3247%07d" % index  # Belgian mobiles, unique per index


def kind_of(index):
    return {1: "malformed", 3: "blacklisted", 4: "optout", 5: "missing", 7: "duplicate"}.get(
        index % 50, "valid"
    )


def expected_numbers():
    """Numbers the provider must have delivered once (it refuses those ending 0000/0001)."""
    return {
        number_of(index)
        for index in range(1, N + 1)
        if kind_of(index) == "valid" and not number_of(index).endswith(("0000", "0001"))
    }


def setup():
    params = env["ir.config_parameter"].sudo()
    params.set_param("web.base.url", "http://fault.example.com")
    params.set_param("sms.session.batch.size", os.environ.get("FAULT_BATCH", "500"))
    params.set_param("mass_mailing_sms.sms_lease_seconds", os.environ.get("FAULT_LEASE", "30"))
    params.set_param("mass_mailing_sms.sms_retry_delay", "1")
    params.set_param("mass_mailing_sms.sms_max_attempts", "10")
    env.company.country_id = env.ref("base.be")
    service = env["iap.service"].search([("technical_name", "=", "sms")], limit=1)
    env["iap.account"].search([("service_name", "=", "sms")]).unlink()
    env["iap.account"].create({"service_id": service.id, "account_token": "fault-token"})
    mailing_list = env["mailing.list"].create({"name": f"Fault test {N}"})
    env.flush_all()
    names, emails, mobiles, opt_outs, blacklist = [], [], [], [], []
    for index in range(1, N + 1):
        kind = kind_of(index)
        mobile = number_of(index)
        if kind == "malformed":
            mobile = "12-34"
        elif kind == "duplicate":
            mobile = "0032 " + number_of(index - 1)[3:]
        elif kind == "missing":
            mobile = None
        elif kind == "blacklisted":
            blacklist.append(mobile)
        names.append(f"Contact {index}")
        emails.append(f"contact{index}@example.com")
        mobiles.append(mobile)
        opt_outs.append(kind == "optout")
    cr.execute(
        """INSERT INTO mailing_contact (name, email, email_normalized, mobile,
                                        create_date, write_date, create_uid, write_uid)
           SELECT r.name, r.email, r.email, r.mobile, now(), now(), 1, 1
             FROM unnest(%s::text[], %s::text[], %s::text[]) AS r(name, email, mobile)
        RETURNING id""",
        (names, emails, mobiles),
    )
    contact_ids = sorted(row[0] for row in cr.fetchall())
    cr.execute(
        """INSERT INTO mailing_subscription (contact_id, list_id, opt_out, create_date,
                                             write_date, create_uid, write_uid)
           SELECT c, %s, o, now(), now(), 1, 1 FROM unnest(%s::int[], %s::bool[]) AS s(c, o)""",
        (mailing_list.id, contact_ids, opt_outs),
    )
    cr.execute(
        """INSERT INTO phone_blacklist (number, active, create_date, write_date,
                                        create_uid, write_uid)
           SELECT n, TRUE, now(), now(), 1, 1 FROM unnest(%s::text[]) AS b(n)""",
        (blacklist,),
    )
    cr.commit()
    print(f"FAULT_LIST {mailing_list.id}", flush=True)


def build():
    env["ir.config_parameter"].sudo().set_param("sms.endpoint", GATEWAY)
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
    started = time.time()
    while time.time() - started < 1800:
        env["mailing.mailing"]._process_mass_mailing_queue()
        cr.commit()
        env.invalidate_all()
        if not mailing._get_remaining_recipients():
            break
    print(f"FAULT_MAILING {mailing.id}", flush=True)


def queued_count(mailing_id):
    cr.execute(
        """SELECT COUNT(*) FROM sms_sms
            WHERE mailing_id = %s AND state = 'outgoing' AND to_delete IS NOT TRUE""",
        (mailing_id,),
    )
    return cr.fetchone()[0]


def send():
    mailing_id = int(os.environ["FAULT_MAILING_ID"])
    timeout = int(os.environ.get("FAULT_TIMEOUT", "900"))
    started = time.time()
    while time.time() - started < timeout:
        handled = env["sms.sms"].sudo()._sms_process_mailing_queue(auto_commit=True)
        cr.commit()
        env.invalidate_all()
        if not queued_count(mailing_id):
            break
        if not handled:
            time.sleep(0.5)  # leases of another worker, or back-offs
    cr.commit()


def retry():
    mailing = env["mailing.mailing"].browse(int(os.environ["FAULT_MAILING_ID"]))
    mailing.action_retry_failed()
    cr.commit()


def gateway(path):
    with urllib.request.urlopen(GATEWAY + path, timeout=30) as response:
        return json.loads(response.read())


def check():
    mailing_id = int(os.environ["FAULT_MAILING_ID"])
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
    unfinished = sum(count for state, count in states.items() if state.split("/")[0] not in FINAL)
    delivered = gateway("/numbers")
    stats = gateway("/stats")
    expected = expected_numbers()
    gave_up = states.get("error/sms_server", 0)
    result = {
        "name": os.environ.get("FAULT_NAME", ""),
        "n": N,
        "expected": len(expected),
        "delivered": len(delivered),
        "lost": len(expected - set(delivered)),
        "doubled": sum(1 for count in delivered.values() if count > 1),
        "wrongly_sent": len(set(delivered) - expected),
        "replays": stats["replays"],
        "calls": stats["calls"],
        "untraced": untraced,
        "traced_twice": traced_twice,
        "unfinished": unfinished,
        "gave_up": gave_up,
        "states": states,
    }
    print("FAULT_RESULT " + json.dumps(result), flush=True)


{"setup": setup, "build": build, "send": send, "retry": retry, "check": check}[MODE]()
