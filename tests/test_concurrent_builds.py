# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
import logging
import threading
import time
from unittest.mock import patch

from odoo import SUPERUSER_ID, api
from odoo.sql_db import db_connect
from odoo.tests import tagged
from odoo.tools import SQL, mute_logger

from odoo.addons.mass_mailing_sms.models.res_config_settings import (
    PARAM_FREQUENCY_CAP,
    PARAM_FREQUENCY_CAP_COUNT,
    PARAM_FREQUENCY_CAP_HOURS,
)
from odoo.addons.mass_mailing_sms.tests.committed import NUMBERS, CommittedCampaignCase
from odoo.addons.mass_mailing_sms.tests.common import MassSMSCommon

WAIT_SECONDS = 30  # bound of every wait on the other connection


class BuildThread(threading.Thread):
    """A whole run of a mailing (``_sms_send``) on its own connection, committing its steps
    as the mailing queue cron does (the thread is not a test thread)."""

    def __init__(self, registry, mailing_id):
        super().__init__(daemon=True)
        self.registry, self.dbname, self.mailing_id = registry, registry.db_name, mailing_id
        self.backend_pid = None
        self.error = None
        self.connected = threading.Event()

    def run(self):
        try:
            with db_connect(self.dbname).cursor() as cr:
                cr.execute(SQL("SET lock_timeout = %s", f"{WAIT_SECONDS}s"))
                cr.execute(SQL("SELECT pg_backend_pid()"))
                self.backend_pid = cr.fetchone()[0]
                cr.commit()  # pylint: disable=invalid-commit
                self.connected.set()
                # the registry, not looked up again: the test runner holds its lock
                cr.transaction = api.Transaction(self.registry)
                env = api.Environment(cr, SUPERUSER_ID, {})
                env["mailing.mailing"].browse(self.mailing_id)._sms_send()
                cr.commit()  # pylint: disable=invalid-commit
        except Exception as error:  # noqa: BLE001 - reported by the test
            self.error = error
        finally:
            self.connected.set()


@tagged("post_install", "-at_install", "mass_mailing_sms")
class TestConcurrentBuilds(CommittedCampaignCase):
    """Issue 16.5: two builds at once, on two real connections (two cron threads, the button
    and the cron): one trace per recipient without failing the run, and the frequency cap
    held across mailings built at the same time."""

    # ------------------------------------------------------------
    # HELPERS
    # ------------------------------------------------------------

    def _start_build_during(self, cr, mailing_id):
        """Start a whole run of ``mailing_id`` on another connection while ``cr`` holds an
        uncommitted build step; commit ``cr`` once the run waits for it (or has ended)."""
        build = BuildThread(self.registry, mailing_id)
        build.start()
        self.assertTrue(build.connected.wait(WAIT_SECONDS))
        waited = False
        deadline = time.monotonic() + 5
        with self._cursor() as watch_cr:
            while build.is_alive() and time.monotonic() < deadline and not waited:
                watch_cr.execute(
                    SQL(
                        "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = %s",
                        build.backend_pid,
                    )
                )
                row = watch_cr.fetchone()
                waited = bool(row and row[0])
                watch_cr.rollback()  # a fresh view of pg_stat_activity at each look
                time.sleep(0.05)
        cr.commit()  # pylint: disable=invalid-commit
        build.join(WAIT_SECONDS)
        if build.is_alive():
            blockers = self._committed(
                SQL(
                    """SELECT pid, state, left(query, 200) FROM pg_stat_activity
                        WHERE pid = ANY(pg_blocking_pids(%s)) OR pid = %s""",
                    build.backend_pid,
                    build.backend_pid,
                )
            )
            self.fail(f"the second build has not ended, blocked by {blockers}")
        return build, waited

    def _sms_per_number(self):
        return dict(
            self._committed(
                SQL(
                    """SELECT number, COUNT(*) FROM sms_sms WHERE mailing_id = ANY(%s)
                     GROUP BY number""",
                    self.mailing_ids,
                )
            )
        )

    # ------------------------------------------------------------
    # TESTS
    # ------------------------------------------------------------

    @mute_logger("odoo.addons.mass_mailing_sms.models.mailing_sms_campaign")
    def test_two_builds_of_one_mailing(self):
        """The cron builds a mailing while a marketer's click builds it too: the second run
        waits, then skips what the first built, and ends without error."""
        mailing_id = self.mailing_ids[0]
        with self._cursor() as cr_a:
            mailing = self._env(cr_a)["mailing.mailing"].browse(mailing_id)
            sms = mailing._sms_send_batch(mailing._get_remaining_recipients(), set())
            self.assertEqual(len(sms), len(NUMBERS), "the first build is under way")
            build, waited = self._start_build_during(cr_a, mailing_id)
        self.assertIsNone(build.error, "the second build does not fail")
        self.assertTrue(waited, "the second build waited for the first")
        traces = self._committed(
            SQL(
                """SELECT res_id, COUNT(*), MIN(trace_status) FROM mailing_trace
                    WHERE mass_mailing_id = %s GROUP BY res_id""",
                mailing_id,
            )
        )
        self.assertEqual(
            sorted(traces),
            sorted((contact_id, 1, "outgoing") for contact_id in self.contact_ids),
            "one trace per recipient",
        )
        self.assertEqual(self._sms_per_number(), dict.fromkeys(NUMBERS, 1), "one SMS per number")

    def test_frequency_cap_across_concurrent_builds(self):
        """At most one SMS per number a day: two mailings to the same list built at the same
        time send each number one SMS, the other mailing records the cap."""
        with self._cursor() as cr:
            params = self._env(cr)["ir.config_parameter"]
            params.set_param(PARAM_FREQUENCY_CAP, "True")
            params.set_param(PARAM_FREQUENCY_CAP_COUNT, "1")
            params.set_param(PARAM_FREQUENCY_CAP_HOURS, "24")
            cr.commit()  # pylint: disable=invalid-commit
        first_id, second_id = self.mailing_ids
        with self._cursor() as cr_a:
            mailing = self._env(cr_a)["mailing.mailing"].browse(first_id)
            sms = mailing._sms_send_batch(mailing._get_remaining_recipients(), set())
            self.assertEqual(len(sms), len(NUMBERS))
            build, waited = self._start_build_during(cr_a, second_id)
        self.assertIsNone(build.error)
        self.assertEqual(self._sms_per_number(), dict.fromkeys(NUMBERS, 1), "the cap holds")
        capped = self._committed(
            SQL(
                """SELECT COUNT(*) FROM mailing_trace WHERE mass_mailing_id = %s
                      AND trace_status = 'cancel' AND failure_type = 'sms_frequency_cap'""",
                second_id,
            )
        )
        self.assertEqual(capped[0][0], len(NUMBERS), "the second mailing records the cap")
        self.assertTrue(waited, "the second build waited for the numbers the first holds")


@tagged("post_install", "-at_install", "mass_mailing_sms")
class TestTraceConflicts(MassSMSCommon):
    """The one-trace-per-recipient index is the last guard: a trace another path wrote after
    the build's check is skipped and counted, and no SMS goes to its recipient."""

    def test_trace_written_meanwhile_is_skipped(self):
        partners = self.env["res.partner"].create(
            [{"name": f"Conflict {idx}", "mobile": NUMBERS[idx]} for idx in range(2)]
        )
        mailing = self._create_sms_mailing(mailing_domain=[("id", "in", partners.ids)])
        mailing.state = "sending"
        other_trace = self.env["mailing.trace"].create(
            {
                "trace_type": "sms",
                "mass_mailing_id": mailing.id,
                "model": "res.partner",
                "res_id": partners[0].id,
                "sms_number": NUMBERS[0],
                "trace_status": "outgoing",
            }
        )
        # the other trace appeared after this build looked for traced recipients
        with (
            patch.object(type(mailing), "_sms_get_traced_ids", return_value=[]),
            # logging.INFO, not "INFO": Odoo names its RUNBOT level "INFO" as well
            self.assertLogs(
                "odoo.addons.mass_mailing_sms.models.mailing_sms_campaign", logging.INFO
            ) as logs,
        ):
            sms = mailing._sms_send_batch(partners.ids, set()).sudo()
        self.assertIn("1 recipient(s) already traced by another build, skipped", logs.output[0])
        self.assertEqual(sms.mapped("number"), [NUMBERS[1]], "no SMS for the skipped one")
        traces = self._find_sms_traces(mailing, partners)
        self.assertEqual(len(traces), 2, "one trace per recipient")
        self.assertIn(other_trace, traces)
        self.assertEqual(traces.sms_tracker_ids.sms_uuid, sms.uuid)
