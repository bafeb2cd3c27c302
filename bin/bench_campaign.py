# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
# ruff: noqa: F821 - run by `odoo-bin shell`, which defines `env`
# a script that owns its transaction and output:
# pylint: disable=invalid-commit,print-used
"""Benchmark one SMS list mailing end to end; run by bin/bench through `odoo-bin shell`.

Environment: BENCH_N (recipients), BENCH_GATEWAY (fake gateway URL), BENCH_LABEL,
BENCH_PROVIDER (``twilio``: the company sends through Twilio's API, faked by the gateway), and
BENCH_PHASE: ``setup`` creates N list contacts with realistic bad data and an SMS mailing with
a link and the opt-out line; ``run`` (another process, so that its peak memory is the
sending's alone) runs the crons as production does (mailing queue, SMS queue), committing
between runs, until every trace is final, and prints one JSON line prefixed with
``BENCH_RESULT``.
"""

import json
import os
import resource
import sys
import time
import urllib.request

import odoo

sys.path.insert(0, os.path.join(os.environ["MMS_REPO"], "bin"))
import campaign_data  # noqa: E402 (found through the line above)

N = int(os.environ["BENCH_N"])
GATEWAY = os.environ["BENCH_GATEWAY"]
LABEL = os.environ.get("BENCH_LABEL", "ours")
FINAL = ("sent", "pending", "bounce", "error", "cancel", "process")
CRON_CALLS = []  # seconds each cron call took
cr = env.cr


def expected_numbers():
    return campaign_data.expected_numbers(N)


def setup():
    env["ir.config_parameter"].set_param("sms.endpoint", GATEWAY)
    env["ir.config_parameter"].set_param("web.base.url", "http://bench.example.com")
    if os.environ.get("BENCH_PROVIDER") == "twilio":
        env["ir.config_parameter"].set_param("mass_mailing_sms.twilio_api_url", GATEWAY)
        env.company.write(
            {
                "sms_provider": "twilio",
                "sms_twilio_account_sid": "AC" + "b" * 32,
                "sms_twilio_auth_token": "bench-token",
                "sms_twilio_number_ids": [(0, 0, {"name": "+14155550100"})],
            }
        )
    mailing_list = campaign_data.prepare_list(env, f"Bench {N}", N, "bench-token")
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
        for cron_call in (
            env["mailing.mailing"]._process_mass_mailing_queue,
            env["sms.sms"]._process_queue,
        ):
            call_started = time.time()
            cron_call()
            cr.commit()
            CRON_CALLS.append(time.time() - call_started)
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
    return elapsed, odoo.sql_db.sql_counter - queries_before, started


def first_sms_after(mailing, started):
    """Seconds from the start of the send to the first SMS the provider answered for."""
    cr.execute(
        """SELECT EXTRACT(EPOCH FROM MIN(sent_datetime) AT TIME ZONE 'UTC')
             FROM mailing_trace WHERE mass_mailing_id = %s""",
        (mailing.id,),
    )
    first = cr.fetchone()[0]
    return round(float(first) - started, 2) if first else None


def send_rate(mailing):
    """SMS handed to the provider per second (one worker). Answers are stamped once per
    batch: the span from the first stamp to the last covers every batch but the first."""
    cr.execute(
        """SELECT COUNT(*), COUNT(DISTINCT sent_datetime),
                  EXTRACT(EPOCH FROM MAX(sent_datetime) - MIN(sent_datetime))
             FROM mailing_trace WHERE mass_mailing_id = %s AND sent_datetime IS NOT NULL""",
        (mailing.id,),
    )
    count, batches, seconds = cr.fetchone()
    if not (count and seconds and batches > 1):
        return None
    return round(count * (batches - 1) / batches / float(seconds), 1)


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
        elapsed, queries, started = run(mailing)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
    else:
        elapsed, queries, started = run(mailing)
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
        "send_per_second": send_rate(mailing),
        "first_sms_seconds": first_sms_after(mailing, started),
        "longest_cron_call": round(max(CRON_CALLS, default=0), 2),
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
