# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
# ruff: noqa: F821 - run by `odoo-bin shell`, which defines `env`
# a script that owns its transaction and output:
# pylint: disable=invalid-commit,print-used
"""Benchmark one SMS list mailing end to end; run by bin/bench through `odoo-bin shell`.

Environment: BENCH_N (recipients), BENCH_GATEWAY (fake gateway URL), BENCH_LABEL,
BENCH_PROVIDER (``twilio``: the company sends through Twilio's API, ``http``: through the
generic HTTP provider, faked by the gateway),
BENCH_OUT (a folder for the workers' figures) and BENCH_PHASE:

- ``setup`` creates N list contacts with realistic bad data and an SMS mailing with a link
  and the opt-out line;
- ``build`` and ``send`` are the two cron workers of an Odoo server (``max_cron_threads``
  is 2 by default), each its own process running at once: the mailing queue while the
  mailing has recipients left to build, the SMS queue until every SMS is final; each call
  runs again at once while work remains, as Odoo's cron does for a job that reports
  progress or triggers itself. The build worker puts the mailing in the queue once it is up
  and notes the time; each worker notes how long each call took and its peak memory;
- ``report`` prints one JSON line prefixed with ``BENCH_RESULT``.
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
import fake_http_provider  # noqa: E402

N = int(os.environ["BENCH_N"])
GATEWAY = os.environ["BENCH_GATEWAY"]
LABEL = os.environ.get("BENCH_LABEL", "ours")
OUT = os.environ.get("BENCH_OUT", ".")
WORKER_TIMEOUT = 3600  # a worker gives up after this many seconds
cr = env.cr


def expected_numbers():
    return campaign_data.expected_numbers(N)


def setup():
    env["ir.config_parameter"].set_param("sms.endpoint", GATEWAY)
    env["ir.config_parameter"].set_param("web.base.url", "http://bench.example.com")
    provider = os.environ.get("BENCH_PROVIDER")
    if provider == "twilio":
        env["ir.config_parameter"].set_param("mass_mailing_sms.twilio_api_url", GATEWAY)
        env.company.write(
            {
                "sms_provider": "twilio",
                "sms_twilio_account_sid": "AC" + "b" * 32,
                "sms_twilio_auth_token": "bench-token",
                "sms_twilio_number_ids": [(0, 0, {"name": "+14155550100"})],
            }
        )
    elif provider == "http":
        env.company.write(
            {
                "sms_provider": "http",
                "sms_http_url": GATEWAY + fake_http_provider.SEND_PATH,
                "sms_http_authorization": "Bearer bench-token",
                "sms_http_body_template": fake_http_provider.HTTP_BODY_TEMPLATE,
                "sms_http_message_id_path": "messageId",
                "sms_http_status_path": "status",
                "sms_twilio_number_ids": [(0, 0, {"name": "ACME"})],
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


def launch(mailing):
    """Send Now, by the build worker once it is up (as a cron worker of a running server)."""
    mailing.action_launch()
    cr.commit()
    write_figures("launch", {"started": time.time()})


def building(mailing):
    """Whether the mailing still has recipients for the mailing queue to build."""
    mailing.invalidate_recordset()
    if mailing.state == "in_queue":
        return True
    return "sms_build_pending" in mailing._fields and mailing.sms_build_pending


def sending(mailing):
    """Whether SMS of the mailing still wait to be handed over (or the mailing to end)."""
    cr.execute(
        """SELECT EXISTS (SELECT 1 FROM mailing_trace WHERE mass_mailing_id = %(id)s),
                  EXISTS (SELECT 1 FROM sms_sms WHERE state = 'outgoing' AND mailing_id = %(id)s)""",
        {"id": mailing.id},
    )
    traced, queued = cr.fetchone()
    mailing.invalidate_recordset()
    if not traced or queued:
        return True
    # ours ends the mailing once its SMS are handed over; Odoo's waits for its mailing queue
    return LABEL == "ours" and mailing.state != "done"


def work(phase, mailing):
    """One cron worker: its queue, again and again while there is work; [seconds per call]."""
    cron_call, has_work = {
        "build": (env["mailing.mailing"]._process_mass_mailing_queue, building),
        "send": (env["sms.sms"]._process_queue, sending),
    }[phase]
    calls = []
    if phase == "build":
        launch(mailing)
    started = time.time()
    while has_work(mailing) and time.time() - started < WORKER_TIMEOUT:
        call_started = time.time()
        cron_call()
        cr.commit()
        calls.append(time.time() - call_started)
        env.invalidate_all()
        if phase == "send" and calls[-1] < 0.05:
            time.sleep(0.2)  # nothing to send yet: the build has not committed its first SMS
    return calls


def write_figures(phase, figures):
    with open(os.path.join(OUT, f"{phase}.json"), "w", encoding="utf-8") as file:
        json.dump(figures, file)


def read_figures(phase):
    with open(os.path.join(OUT, f"{phase}.json"), encoding="utf-8") as file:
        return json.load(file)


def run_worker(phase, mailing):
    queries_before = odoo.sql_db.sql_counter
    if os.environ.get("BENCH_PROFILE"):  # print where the time goes (cProfile, top 40)
        import cProfile  # noqa: PLC0415
        import pstats  # noqa: PLC0415

        profiler = cProfile.Profile()
        profiler.enable()
        calls = work(phase, mailing)
        profiler.disable()
        print(f"--- {phase} worker")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
    else:
        calls = work(phase, mailing)
    write_figures(
        phase,
        {
            "ended": time.time(),
            "calls": len(calls),
            "longest_call": max(calls, default=0),
            "busy": sum(calls),
            "queries": odoo.sql_db.sql_counter - queries_before,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        },
    )


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


def report(mailing):
    started = read_figures("launch")["started"]
    workers = [read_figures("build"), read_figures("send")]
    elapsed = max(worker["ended"] for worker in workers) - started
    queries = sum(worker["queries"] for worker in workers)
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
        "longest_cron_call": round(max(worker["longest_call"] for worker in workers), 2),
        # seconds each worker spent in its cron calls: the busier one sets the pace
        "busy_seconds": {
            phase: round(worker.get("busy", 0), 1)
            for phase, worker in zip(("build", "send"), workers, strict=True)
        },
        "queries": queries,
        "queries_per_recipient": round(queries / N, 3),
        # per worker: what a worker's memory limit (limit_memory_soft) applies to
        "peak_rss_mb": round(max(worker["peak_rss_mb"] for worker in workers), 1),
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


def main():
    phase = os.environ.get("BENCH_PHASE")
    if phase == "setup":
        setup()
        return
    mailing = env["mailing.mailing"].search([("name", "=", f"Bench {N}")], limit=1)
    if phase in ("build", "send"):
        run_worker(phase, mailing)
    else:
        report(mailing)


main()
