# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
from collections import Counter
from contextlib import contextmanager
from datetime import datetime, timedelta
from unittest.mock import patch

import psycopg2

from odoo import api, fields
from odoo.exceptions import UserError, ValidationError
from odoo.sql_db import db_connect
from odoo.tests import RecordCapturer, freeze_time, tagged
from odoo.tools import SQL, mute_logger

from odoo.addons.mass_mailing_sms.tests.common import MassSMSCommon
from odoo.addons.mass_mailing_sms.tools.quiet_hours import (
    format_window,
    number_timezone,
    quiet_until,
    quiet_until_all,
    recipient_timezones,
)
from odoo.addons.sms.tools.sms_api import SmsApi

SMS_CRON = "sms.ir_cron_sms_scheduler_action"
# 2026-01-15 21:30 UTC: 22:30 in Brussels (quiet), 16:30 in New York (not)
EVENING = datetime(2026, 1, 15, 21, 30)
BRUSSELS_MORNING = datetime(2026, 1, 16, 8, 0)  # 09:00 in Brussels


class ProtectionsCommon(MassSMSCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.country_id = cls.country_be
        cls.numbers = ["+32470100001", "+32470100002", "+12125550103", "+32470100004"]
        cls.partners = (
            cls.env["res.partner"]
            .with_context(**cls._test_context)
            .create(
                [
                    {"name": f"Protected {index}", "mobile": number}
                    for index, number in enumerate(cls.numbers)
                ]
            )
        )
        cls.mailing = cls._create_sms_mailing(mailing_domain=[("id", "in", cls.partners.ids)])

    def setUp(self):
        super().setUp()
        self.sent_at = []  # (time the provider got it, number), as the fake gateway counts

    @contextmanager
    def counting_gateway(self, **options):
        """Odoo's gateway mock, also noting when (frozen time) each number was handed over."""
        send_batch = SmsApi._send_sms_batch

        def counting_send_batch(api_self, messages, delivery_reports_url=False):
            now = fields.Datetime.now()
            self.sent_at += [(now, n["number"]) for m in messages for n in m["numbers"]]
            return send_batch(api_self, messages, delivery_reports_url=delivery_reports_url)

        with (
            self.mockSMSGateway(**options),
            patch.object(SmsApi, "_send_sms_batch", autospec=True, side_effect=counting_send_batch),
        ):
            yield

    def _set_params(self, **params):
        for key, value in params.items():
            self.env["ir.config_parameter"].sudo().set_param(f"mass_mailing_sms.{key}", value)

    def _run_queue(self):
        return self.env["sms.sms"].sudo()._sms_process_mailing_queue(auto_commit=False)

    def _status_by_number(self, mailing):
        traces = self.env["mailing.trace"].sudo().search([("mass_mailing_id", "=", mailing.id)])
        return {trace.sms_number: (trace.trace_status, trace.failure_type) for trace in traces}


@tagged("post_install", "-at_install", "mass_mailing_sms")
class TestSmsEstimate(ProtectionsCommon):
    """Issue 9: recipients, parts per message (placeholders filled for a sample, short links
    and the opt-out line counted) and the total, before Send, Schedule or Test."""

    def test_estimate_counts_recipients_and_parts(self):
        mailing = self.mailing.with_env(self.env)
        self.assertEqual(
            (
                mailing.sms_estimate_recipients,
                mailing.sms_estimate_parts,
                mailing.sms_estimate_encoding,
                mailing.sms_estimate_total_parts,
            ),
            (4, 1, "gsm7", 4),
        )

    def test_estimate_fills_placeholders_for_a_sample(self):
        self.partners[0].name = "A" * 150  # "Hello {{ object.name }}" fits, this name does not
        mailing = self.mailing.with_env(self.env)
        self.assertEqual(mailing.sms_estimate_parts, 2, "the longest text of the sample")
        self.assertEqual(mailing.sms_estimate_total_parts, 8)
        mailing.body_plaintext = "Hello {{ object.name }} \U0001f338"
        self.assertEqual(mailing.sms_estimate_encoding, "unicode")
        self.assertEqual(mailing.sms_estimate_parts, 3, "Unicode: 67 per part")

    def test_estimate_counts_links_and_opt_out_line(self):
        mailing = self.mailing.with_env(self.env)
        mailing.body_plaintext = "x" * 100 + " https://www.example.com"
        self.assertEqual(mailing.sms_estimate_parts, 1, "a link counts at its short length")
        mailing.sms_allow_unsubscribe = True
        self.assertEqual(mailing.sms_estimate_parts, 2, "the opt-out line is counted")

    def test_estimate_of_an_empty_text_is_no_part(self):
        """Issue 25.4: as the form's counter says, an empty text is 0 parts, opt-out line or
        not (Send refuses it)."""
        mailing = self.mailing.with_env(self.env)
        for allow_unsubscribe in (False, True):
            mailing.write({"body_plaintext": " \n", "sms_allow_unsubscribe": allow_unsubscribe})
            self.assertEqual((mailing.sms_estimate_recipients, mailing.sms_estimate_parts), (4, 0))
            self.assertEqual(mailing.sms_estimate_total_parts, 0)
        with self.assertRaisesRegex(UserError, "has no text to send"):
            mailing.action_sms_confirm_send()

    def test_estimate_leaves_out_recipients_already_sent_to(self):
        mailing = self.mailing.with_env(self.env)
        with self.mockSMSGateway():
            mailing.action_send_sms(res_ids=self.partners[:3].ids)
        mailing.invalidate_recordset(["sms_estimate_recipients"])
        self.assertEqual(mailing.sms_estimate_recipients, 1)

    def test_estimate_of_an_ab_test_is_its_share(self):
        mailing = self.mailing.with_env(self.env)
        mailing.write({"ab_testing_enabled": True, "ab_testing_pc": 50})
        self.assertEqual(mailing.sms_estimate_recipients, 2)

    def test_send_confirmation_and_test_dialog_show_the_estimate(self):
        mailing = self.mailing.with_user(self.user_marketing)
        action = mailing.action_sms_confirm_send()
        confirm = (
            self.env[action["res_model"]]
            .with_user(self.user_marketing)
            .with_context(**action["context"])
            .create({})
        )
        self.assertEqual(
            (confirm.sms_estimate_recipients, confirm.sms_estimate_total_parts), (4, 4)
        )
        with self.mockSMSGateway():
            confirm.action_send()
        self.assertEqual(mailing.state, "in_queue", "Send to all queues the mailing")
        test = (
            self.env["mailing.sms.test"]
            .with_user(self.user_marketing)
            .create({"mailing_id": mailing.id, "numbers": "+32470999999"})
        )
        self.assertEqual((test.sms_parts, test.sms_encoding), (1, "gsm7"))

    def test_schedule_dialog_shows_the_estimate(self):
        action = self.mailing.with_user(self.user_marketing).action_schedule()
        schedule = (
            self.env[action["res_model"]]
            .with_user(self.user_marketing)
            .with_context(**action["context"])
            .create({"schedule_date": fields.Datetime.now() + timedelta(days=1)})
        )
        self.assertEqual(schedule.mailing_type, "sms")
        self.assertEqual(
            (schedule.sms_estimate_recipients, schedule.sms_estimate_total_parts), (4, 4)
        )


@tagged("post_install", "-at_install", "mass_mailing_sms")
class TestSmsQuietHours(ProtectionsCommon):
    """Issue 9: SMS due in the recipient's quiet hours (local time of the number's country)
    wait in the queue and go out when the window ends; the mailing shows them."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.write(
            {"sms_quiet_hours": True, "sms_quiet_hours_start": 21.0, "sms_quiet_hours_end": 9.0}
        )

    def test_window_in_local_time(self):
        self.assertEqual(number_timezone("+32470100001"), "Europe/Brussels")
        self.assertEqual(number_timezone("+12125550103"), "America/New_York")
        self.assertIsNone(number_timezone("+999"))
        self.assertEqual(quiet_until(EVENING, "Europe/Brussels", 21, 9), BRUSSELS_MORNING)
        self.assertIsNone(quiet_until(EVENING, "America/New_York", 21, 9), "16:30 there")
        early = datetime(2026, 1, 16, 6, 0)  # 07:00 in Brussels: the same morning's end
        self.assertEqual(quiet_until(early, "Europe/Brussels", 21, 9), BRUSSELS_MORNING)
        self.assertIsNone(quiet_until(BRUSSELS_MORNING, "Europe/Brussels", 21, 9), "it ends")
        # summer time: 09:00 in Brussels is 07:00 UTC
        summer = datetime(2026, 7, 1, 22, 0)
        self.assertEqual(quiet_until(summer, "Europe/Brussels", 21, 9), datetime(2026, 7, 2, 7, 0))
        # a window within the day, and an empty one
        self.assertEqual(
            quiet_until(datetime(2026, 1, 15, 11, 30), "Europe/Brussels", 12, 14.5),
            datetime(2026, 1, 15, 13, 30),
        )
        self.assertIsNone(quiet_until(EVENING, "Europe/Brussels", 9, 9))
        self.assertEqual(format_window(21, 9.5), "21:00-09:30")

    def test_window_in_the_recipients_own_zone(self):
        """Issue 16.1: the zone of the number's area (not one per country), the contact's own
        zone when set, and a number spanning zones held until the window ended in all."""
        self.assertEqual(recipient_timezones("+14155550100"), ("America/Los_Angeles",))
        self.assertEqual(recipient_timezones("+12125550103"), ("America/New_York",))
        self.assertEqual(recipient_timezones("+14155550100", "Europe/Paris"), ("Europe/Paris",))
        self.assertEqual(recipient_timezones("+15550104422"), ("America/New_York",), "country")
        self.assertEqual(recipient_timezones("+999"), ())
        perth = recipient_timezones("+61891234567")  # 08 area: Adelaide and Perth
        self.assertIn("Australia/Perth", perth)
        # 22:30 in Adelaide, 20:00 in Perth: held until 09:00 in Perth, the later one
        at = datetime(2026, 1, 15, 12, 0)
        self.assertEqual(quiet_until_all(at, perth, 21, 9), datetime(2026, 1, 16, 1, 0))
        self.assertIsNone(quiet_until_all(datetime(2026, 1, 16, 2, 0), perth, 21, 9))
        # 06:30 in California, 09:30 in New York, 15:30 in Brussels
        morning = datetime(2026, 1, 16, 14, 30)
        partners = (
            self.env["res.partner"]
            .with_context(**self._test_context)
            .create(
                [
                    {"name": "San Francisco", "mobile": "+14155550100"},
                    {"name": "New York", "mobile": "+12125550199"},
                    {"name": "Travelling", "mobile": "+32470100099", "tz": "America/Los_Angeles"},
                ]
            )
        )
        mailing = self._create_sms_mailing(mailing_domain=[("id", "in", partners.ids)]).with_env(
            self.env
        )
        with freeze_time(morning), self.counting_gateway():
            mailing.action_send_sms()
            self._run_queue()
            mailing.invalidate_recordset()
            self.assertEqual([number for _at, number in self.sent_at], ["+12125550199"])
            self.assertEqual(mailing.sms_quiet_count, 2)
            self.assertEqual(mailing.sms_quiet_until, datetime(2026, 1, 16, 17, 0))

    def test_sms_wait_for_the_window_to_end(self):
        mailing = self.mailing.with_env(self.env)
        cron = self.env.ref(SMS_CRON)
        with freeze_time(EVENING), self.counting_gateway():
            mailing.action_send_sms()
            with RecordCapturer(
                self.env["ir.cron.trigger"].sudo(), [("cron_id", "=", cron.id)]
            ) as capture:
                self._run_queue()
            self.assertEqual([number for _at, number in self.sent_at], ["+12125550103"])
            mailing.invalidate_recordset()
            self.assertEqual(mailing.sms_quiet_count, 3)
            self.assertEqual(mailing.sms_quiet_until, BRUSSELS_MORNING)
            self.assertEqual(mailing.state, "sending")
            self.assertIn(
                BRUSSELS_MORNING + timedelta(seconds=1),
                capture.records.mapped("call_at"),
                "the queue wakes when the window ends",
            )
            status = self._status_by_number(mailing)
            self.assertEqual(status["+32470100001"], ("outgoing", False), "waiting, not failed")
            held = (
                self.env["sms.sms"]
                .sudo()
                .search([("mailing_id", "=", mailing.id), ("state", "=", "outgoing")])
            )
            self.assertEqual(held.mapped("sms_attempt_count"), [0, 0, 0], "not an attempt")
        with freeze_time(BRUSSELS_MORNING - timedelta(minutes=1)), self.counting_gateway():
            self._run_queue()
            self.assertEqual(len(self.sent_at), 1, "still quiet at 08:59")
        with freeze_time(BRUSSELS_MORNING + timedelta(seconds=1)), self.counting_gateway():
            self._run_queue()
            mailing.invalidate_recordset()
            self.assertEqual(mailing.sms_quiet_count, 0)
        self.assertEqual(sorted(number for _at, number in self.sent_at), sorted(self.numbers))
        self.assertEqual(Counter(number for _at, number in self.sent_at).most_common(1)[0][1], 1)
        self.assertEqual({s for s, _f in self._status_by_number(mailing).values()}, {"pending"})

    def test_mailing_overrides_the_company_window(self):
        mailing = self.mailing.with_env(self.env)
        mailing.sms_quiet_hours = "none"
        self.assertFalse(mailing.sms_quiet_window)
        with freeze_time(EVENING), self.counting_gateway():
            mailing.action_send_sms()
            self._run_queue()
        self.assertEqual(len(self.sent_at), 4, "no quiet hours for this mailing")

    def test_custom_window_of_a_mailing(self):
        self.env.company.sms_quiet_hours = False
        mailing = self.mailing.with_env(self.env)
        self.assertFalse(mailing.sms_quiet_window, "no company window")
        mailing.write(
            {"sms_quiet_hours": "custom", "sms_quiet_hours_start": 12, "sms_quiet_hours_end": 14}
        )
        self.assertEqual(mailing.sms_quiet_window, "12:00-14:00")
        with freeze_time(datetime(2026, 1, 15, 11, 30)), self.counting_gateway():
            mailing.action_send_sms()
            self._run_queue()
            mailing.invalidate_recordset()
            self.assertEqual(mailing.sms_quiet_until, datetime(2026, 1, 15, 13, 0))
        self.assertEqual([number for _at, number in self.sent_at], ["+12125550103"])

    def test_windows_are_times_of_day(self):
        """Issue 16.7: a mailing's own window is checked like the company's."""
        mailing = self.mailing.with_env(self.env)
        for hours in (24.0, -1.0):
            with self.subTest(hours=hours):
                with self.assertRaisesRegex(ValidationError, "times of day"):
                    mailing.write({"sms_quiet_hours": "custom", "sms_quiet_hours_start": hours})
                with self.assertRaisesRegex(ValidationError, "times of day"):
                    self.env.company.sudo().sms_quiet_hours_end = hours
        mailing.write({"sms_quiet_hours": "custom", "sms_quiet_hours_start": 23.99})
        self.assertEqual(mailing.sms_quiet_window, "23:59-09:00")


@tagged("post_install", "-at_install", "mass_mailing_sms")
class TestSmsFrequencyCap(ProtectionsCommon):
    """Issue 9: at most N marketing SMS per number per H hours, across mailings; the extra
    recipients are skipped with their own failure type, in the statistics."""

    def _second_mailing(self):
        return self._create_sms_mailing(
            name="Second", subject="Second", mailing_domain=[("id", "in", self.partners.ids)]
        ).with_env(self.env)

    def _send_first_then_second(self, first_count):
        """The first mailing goes out to the first ``first_count`` partners, then the
        second mailing is built for all of them; returns the second mailing."""
        with self.mockSMSGateway():
            self.mailing.with_env(self.env).action_send_sms(res_ids=self.partners[:first_count].ids)
            self._run_queue()
            second = self._second_mailing()
            second.action_send_sms()
        return second

    def test_cap_off_by_default(self):
        second = self._send_first_then_second(2)
        statuses = {s for s, _f in self._status_by_number(second).values()}
        self.assertEqual(statuses, {"outgoing"})

    def test_cap_across_two_mailings(self):
        self._set_params(sms_frequency_cap="True", sms_frequency_cap_count=1)
        second = self._send_first_then_second(2)
        status = self._status_by_number(second)
        self.assertEqual(status["+32470100001"], ("cancel", "sms_frequency_cap"))
        self.assertEqual(status["+32470100002"], ("cancel", "sms_frequency_cap"))
        self.assertEqual(status["+12125550103"], ("outgoing", False))
        self.assertEqual(status["+32470100004"], ("outgoing", False))
        second.invalidate_recordset()
        self.assertEqual(second.sms_frequency_capped_count, 2)
        self.assertEqual(second.canceled, 2, "in the mailing's statistics as ignored")
        sms_numbers = self.env["sms.sms"].sudo().search([("mailing_id", "=", second.id)])
        self.assertEqual(len(sms_numbers), 2, "no SMS for the capped recipients")

    def test_cap_counts_only_sms_sent_within_its_hours(self):
        self._set_params(
            sms_frequency_cap="True", sms_frequency_cap_count=2, sms_frequency_cap_hours=24
        )
        first = self.mailing.with_env(self.env)
        with self.mockSMSGateway():
            first.action_send_sms(res_ids=self.partners[:1].ids)
            self._run_queue()
            second = self._second_mailing()
            second.action_send_sms(res_ids=self.partners[:1].ids)
            self._run_queue()
            third = self._second_mailing()
            third.action_send_sms(res_ids=self.partners[:1].ids)
        self.assertEqual(
            self._status_by_number(third)["+32470100001"], ("cancel", "sms_frequency_cap")
        )
        with freeze_time(fields.Datetime.now() + timedelta(hours=25)), self.mockSMSGateway():
            fourth = self._second_mailing()
            fourth.action_send_sms(res_ids=self.partners[:1].ids)
        self.assertEqual(self._status_by_number(fourth)["+32470100001"], ("outgoing", False))

    def test_failed_sms_do_not_count(self):
        self._set_params(sms_frequency_cap="True", sms_frequency_cap_count=1)
        first = self.mailing.with_env(self.env)
        with self.mockSMSGateway(sim_error="wrong_number_format"):
            first.action_send_sms(res_ids=self.partners[:1].ids)
            self._run_queue()
        self.assertEqual(self._status_by_number(first)["+32470100001"][0], "bounce")
        with self.mockSMSGateway():
            second = self._second_mailing()
            second.action_send_sms(res_ids=self.partners[:1].ids)
        self.assertEqual(self._status_by_number(second)["+32470100001"], ("outgoing", False))


@tagged("post_install", "-at_install", "mass_mailing_sms")
class TestSmsPacing(ProtectionsCommon):
    """Issue 9: at most N SMS per minute (any 60 seconds) handed to the provider, the limit
    shared by every worker through one locked row."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.more_partners = (
            cls.env["res.partner"]
            .with_context(**cls._test_context)
            .create(
                [{"name": f"Paced {index}", "mobile": f"+3247020{index:04d}"} for index in range(3)]
            )
        )
        cls.mailing.mailing_domain = [("id", "in", (cls.partners | cls.more_partners).ids)]
        cls.env["ir.config_parameter"].sudo().set_param("sms.session.batch.size", 2)

    def test_pacing_per_minute_with_the_gateway_counting(self):
        self._set_params(sms_pacing="True", sms_pacing_per_minute=3)
        mailing = self.mailing.with_env(self.env)
        cron = self.env.ref(SMS_CRON)
        start = datetime(2026, 1, 15, 12, 0, 0)
        with freeze_time(start), self.counting_gateway():
            mailing.action_send_sms()
        for offset in (0, 20, 45, 61, 90, 125, 200):
            with (
                freeze_time(start + timedelta(seconds=offset)),
                self.counting_gateway(),
                RecordCapturer(
                    self.env["ir.cron.trigger"].sudo(), [("cron_id", "=", cron.id)]
                ) as capture,
            ):
                self._run_queue()
                if offset == 0:
                    self.assertEqual(
                        capture.records.mapped("call_at"),
                        [start + timedelta(seconds=61)],
                        "the queue wakes when the limit allows more",
                    )
        times = [at for at, _number in self.sent_at]
        self.assertEqual(len(times), 7)
        self.assertEqual(len(set(number for _at, number in self.sent_at)), 7, "each once")
        for at in times:
            in_a_minute = [other for other in times if at <= other < at + timedelta(seconds=60)]
            self.assertLessEqual(len(in_a_minute), 3, f"more than 3 SMS in the minute from {at}")
        self.assertEqual(
            [t - start for t in times],
            [timedelta(0)] * 3 + [timedelta(seconds=61)] * 3 + [timedelta(seconds=125)],
        )

    def test_pacing_off_sends_everything_at_once(self):
        mailing = self.mailing.with_env(self.env)
        with self.counting_gateway():
            mailing.action_send_sms()
            self._run_queue()
        self.assertEqual(len(self.sent_at), 7)

    def test_pacing_shared_by_two_workers(self):
        """Two real connections: the second worker cannot grant itself what the first one
        took, even from a snapshot older than the first one's commit."""
        dbname = self.env.cr.dbname
        now = datetime(2026, 1, 15, 12, 0, 0)
        try:
            with db_connect(dbname).cursor() as cr_a, db_connect(dbname).cursor() as cr_b:
                for cr in (cr_a, cr_b):
                    cr.execute("SET lock_timeout = '10s'")
                    cr.commit()  # pylint: disable=invalid-commit
                pacing_a = api.Environment(cr_a, self.env.uid, {})["mailing.sms.pacing"]
                pacing_b = api.Environment(cr_b, self.env.uid, {})["mailing.sms.pacing"]
                cr_b.execute("SELECT 1")  # B's snapshot is taken before A commits
                grant_a = pacing_a._sms_take(3, 5, now)
                self.assertEqual(grant_a[:2], (3, None))
                cr_a.commit()  # pylint: disable=invalid-commit
                with (
                    mute_logger("odoo.sql_db"),
                    self.assertRaises(psycopg2.errors.SerializationFailure),
                ):
                    pacing_b._sms_take(4, 5, now)
                cr_b.rollback()  # what the claim does: retry with a fresh snapshot
                grant_b = pacing_b._sms_take(4, 5, now + timedelta(seconds=1))
                self.assertEqual(grant_b[:2], (2, None))
                pacing_b._sms_give_back(grant_b.token, 1)  # one was not claimed after all
                cr_b.commit()  # pylint: disable=invalid-commit
                grant_a2 = pacing_a._sms_take(9, 5, now + timedelta(seconds=2))
                self.assertEqual(grant_a2[:2], (1, None))
                self.assertEqual(
                    pacing_a._sms_take(9, 5, now + timedelta(seconds=3))[:2],
                    (0, now + timedelta(seconds=61)),
                )
                # a minute after the first grants, only the last one (1 SMS) still counts
                self.assertEqual(pacing_a._sms_take(9, 5, now + timedelta(seconds=61)).count, 4)
                cr_a.rollback()
                # sub-second times: a grant at .990 still counts at the next minute's .005
                late = now + timedelta(minutes=5, milliseconds=990)
                self.assertEqual(pacing_a._sms_take(5, 5, late).count, 5)
                self.assertEqual(
                    pacing_a._sms_take(5, 5, late + timedelta(seconds=59, milliseconds=15)).count,
                    0,
                )
                # the provider answered 10 s after the claim: the minute counts from then
                token = pacing_a._sms_take(5, 5, now + timedelta(minutes=20)).token
                pacing_a._sms_restamp(token, now + timedelta(minutes=20, seconds=10))
                self.assertEqual(
                    pacing_a._sms_take(5, 5, now + timedelta(minutes=21, seconds=5)).count, 0
                )
                self.assertEqual(
                    pacing_a._sms_take(5, 5, now + timedelta(minutes=21, seconds=11)).count, 5
                )
                cr_a.rollback()
        finally:
            with db_connect(dbname).cursor() as cleanup_cr:
                cleanup_cr.execute(SQL("UPDATE mailing_sms_pacing SET sms_grants = '[]'"))
                cleanup_cr.commit()  # pylint: disable=invalid-commit
