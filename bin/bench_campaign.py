# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
# ruff: noqa: F821 - run by `odoo-bin shell`, which defines `env`
# a script that owns its transaction and output:
# pylint: disable=invalid-commit,print-used
"""Benchmark one SMS list mailing end to end; run by bin/bench through `odoo-bin shell`.

Environment: BENCH_N (recipients), BENCH_GATEWAY (fake gateway URL), BENCH_LABEL, and
BENCH_PHASE: ``setup`` creates N list contacts with realistic bad data and an SMS mailing with
a link and the opt-out line; ``run`` (another process, so that its peak memory is the
sending's alone) runs the crons as production does (mailing queue, SMS queue), committing
between runs, until every trace is final, and prints one JSON line prefixed with
``BENCH_RESULT``.
"""

import json
import os
import resource
import time
import urllib.request

import odoo

N = int(os.environ["BENCH_N"])
GATEWAY = os.environ["BENCH_GATEWAY"]
LABEL = os.environ.get("BENCH_LABEL", "ours")
FINAL = ("sent", "pending", "bounce", "error", "cancel", "process")
cr = env.cr


def number_of(index):
    # Belgian mobiles +32 47x xx xx xx, unique per index
    return "+3247%07d" % index


def kind_of(index):
    """Which bad input a contact carries (about 10% of contacts carry one)."""
    return {1: "malformed", 3: "blacklisted", 4: "optout", 5: "missing", 7: "duplicate"}.get(
        index % 50, "valid"
    )


def expected_numbers():
    """Numbers the provider must accept exactly once (it refuses those ending 0000/0001)."""
    return {
        number_of(index)
        for index in range(1, N + 1)
        if kind_of(index) == "valid" and not number_of(index).endswith(("0000", "0001"))
    }


def setup():
    env["ir.config_parameter"].set_param("sms.endpoint", GATEWAY)
    env["ir.config_parameter"].set_param("web.base.url", "http://bench.example.com")
    env.company.country_id = env.ref("base.be")
    service = env["iap.service"].search([("technical_name", "=", "sms")], limit=1)
    env["iap.account"].search([("service_name", "=", "sms")]).unlink()
    env["iap.account"].create({"service_id": service.id, "account_token": "bench-token"})
    mailing_list = env["mailing.list"].create({"name": f"Bench {N}"})
    env.flush_all()
    rows, subscriptions, blacklist = [], [], []
    for index in range(1, N + 1):
        kind = kind_of(index)
        mobile = number_of(index)
        if kind == "malformed":
            mobile = "12-34"
        elif kind == "duplicate":  # the previous (valid) contact's number, written another way
            mobile = "0032 " + number_of(index - 1)[3:]
        elif kind == "missing":
            mobile = None
        elif kind == "blacklisted":
            blacklist.append(mobile)
        rows.append((f"Contact {index}", f"contact{index}@example.com", mobile))
        subscriptions.append(kind == "optout")
    cr.execute(
        """INSERT INTO mailing_contact (name, email, email_normalized, mobile,
                                        create_date, write_date, create_uid, write_uid)
           SELECT r.name, r.email, r.email, r.mobile, now(), now(), 1, 1
             FROM unnest(%s::text[], %s::text[], %s::text[]) AS r(name, email, mobile)
        RETURNING id""",
        ([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]),
    )
    contact_ids = sorted(row[0] for row in cr.fetchall())
    cr.execute(
        """INSERT INTO mailing_subscription (contact_id, list_id, opt_out, create_date,
                                             write_date, create_uid, write_uid)
           SELECT c, %s, o, now(), now(), 1, 1 FROM unnest(%s::int[], %s::bool[]) AS s(c, o)""",
        (mailing_list.id, contact_ids, subscriptions),
    )
    cr.execute(
        """INSERT INTO phone_blacklist (number, active, create_date, write_date,
                                        create_uid, write_uid)
           SELECT n, TRUE, now(), now(), 1, 1 FROM unnest(%s::text[]) AS b(n)""",
        (blacklist,),
    )
    env.invalidate_all()
    mailing = env["mailing.mailing"].create(
        {
            "name": f"Bench {N}",
            "subject": f"Bench {N}",
            "mailing_type": "sms",
            "mailing_model_id": env["ir.model"]._get_id("mailing.list"),
            "contact_list_ids": [(6, 0, mailing_list.ids)],
            "body_plaintext": "Spring sale: 20% off everything this weekend! "
            "https://shop.example.com/spring-sale",
            "sms_allow_unsubscribe": True,
        }
    )
    cr.commit()
    return mailing


def trace_counts(mailing):
    cr.execute(
        "SELECT trace_status, COUNT(*) FROM mailing_trace WHERE mass_mailing_id = %s GROUP BY 1",
        (mailing.id,),
    )
    return dict(cr.fetchall())


def run(mailing):
    mailing.action_launch()
    cr.commit()
    queries_before = odoo.sql_db.sql_counter
    started = time.time()
    for _round in range(10000):
        env["mailing.mailing"]._process_mass_mailing_queue()
        cr.commit()
        env["sms.sms"]._process_queue()
        cr.commit()
        env.invalidate_all()
        counts = trace_counts(mailing)
        traced = sum(counts.values())
        waiting = counts.get("outgoing", 0)
        mailing_state = env["mailing.mailing"].browse(mailing.id).state
        if traced and not waiting and mailing_state == "done":
            break
        if time.time() - started > 3600:
            break
    elapsed = time.time() - started
    return elapsed, odoo.sql_db.sql_counter - queries_before


def main():
    if os.environ.get("BENCH_PHASE") == "setup":
        setup()
        return
    mailing = env["mailing.mailing"].search([("name", "=", f"Bench {N}")], limit=1)
    if os.environ.get("BENCH_PROFILE"):  # print where the time goes (cProfile, top 40)
        import cProfile  # noqa: PLC0415
        import pstats  # noqa: PLC0415

        profiler = cProfile.Profile()
        profiler.enable()
        elapsed, queries = run(mailing)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
    else:
        elapsed, queries = run(mailing)
    counts = trace_counts(mailing)
    cr.execute(
        "SELECT COUNT(*), COUNT(DISTINCT res_id) FROM mailing_trace WHERE mass_mailing_id = %s",
        (mailing.id,),
    )
    traces, traced_contacts = cr.fetchone()
    result = {
        "label": LABEL,
        "n": N,
        "seconds": round(elapsed, 2),
        "recipients_per_second": round(N / elapsed, 1) if elapsed else None,
        "queries": queries,
        "queries_per_recipient": round(queries / N, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "statuses": counts,
        "traces": traces,
        "traced_contacts": traced_contacts,
    }
    with urllib.request.urlopen(GATEWAY + "/numbers", timeout=30) as response:
        accepted = json.loads(response.read())
    expected = expected_numbers()
    result.update(
        {
            "gateway_accepted": sum(accepted.values()),
            "expected_accepted": len(expected),
            "lost": len(expected - set(accepted)),
            "doubled": sum(1 for count in accepted.values() if count > 1),
            "wrongly_sent": len(set(accepted) - expected),
        }
    )
    print("BENCH_RESULT " + json.dumps(result), flush=True)


main()
