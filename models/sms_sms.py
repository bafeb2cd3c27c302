# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
"""SMS of mailings leave through our own dispatcher (issue 8, RELIABILITY "exactly-once").

Odoo's SMS queue takes SMS without claiming them and saves the provider's answers only after
each call, so a crash, a second worker or a timeout may send an SMS twice or under a new id.
For SMS of mailings (``mailing_id`` set) the queue here:

1. claims a batch, oldest first: ``FOR UPDATE SKIP LOCKED`` plus a lease
   (``sms_lease_until``) and an attempt counter, committed before the provider is called;
2. calls the provider once per batch, each SMS under its own ``uuid`` (never regenerated);
3. writes the answers forward-only, a few queries per batch, in a short transaction;
4. leaves an SMS whose outcome is unknown (timeout, HTTP 5xx, reset, any exception) in the
   queue with a growing back-off, to be sent again under the same uuid; after
   ``sms_max_attempts`` it ends in error with the reason;
5. stops at the first account-level refusal (no credit, unregistered account): the refused
   SMS end in error so the marketer sees it, the others stay queued;
6. works in bounded chunks, reports cron progress and triggers itself while work remains; a
   run claims no more once it took ``sms_run_seconds`` and a provider taking one request per
   SMS is given the claimed SMS chunk by chunk: a chunk without any answer ends its batch,
   the chunks that did not leave go back to the queue untouched;
7. respects the protections of issue 9: SMS due in their recipient's quiet hours wait
   (``sms_quiet_until``) and the pacing limit is shared by every worker
   (``mailing.sms.pacing``).

Other SMS (chatter, notifications) keep Odoo's path, through the company's provider (``_send``).
"""

import logging
import threading
from datetime import timedelta
from functools import partial
from time import monotonic
from typing import ClassVar, NamedTuple

import psycopg2
import requests
from werkzeug.urls import url_join

from odoo import SUPERUSER_ID, api, fields, models
from odoo.tools import SQL, str2bool

from odoo.addons.iap.tools.iap_tools import InsufficientCreditError
from odoo.addons.sms.models.sms_sms import SmsSms as BaseSmsSms

from ..tools.quiet_hours import quiet_until_all, recipient_timezones
from ..tools.sms_providers import IapSmsApi
from ..tools.sms_text import tag_short_links
from ..tools.table_storage import set_fillfactor, time_ordered_uuid
from .res_config_settings import PARAM_PACING, PARAM_PACING_PER_MINUTE
from .sms_tracker import sms_trace_status

_logger = logging.getLogger(__name__)

# ir.config_parameter keys and defaults of the dispatcher (README "Reliability")
PARAM_BATCH_SIZE = ("sms.session.batch.size", 500)  # SMS per provider call (Odoo's key)
PARAM_BATCHES_PER_RUN = ("mass_mailing_sms.sms_batches_per_run", 20)  # calls per cron step
PARAM_RUN_SECONDS = ("mass_mailing_sms.sms_run_seconds", 60)  # no claim after this in a step
PARAM_LEASE = ("mass_mailing_sms.sms_lease_seconds", 300)  # claim lifetime
PARAM_RETRY_DELAY = ("mass_mailing_sms.sms_retry_delay", 60)  # first back-off, doubles
PARAM_MAX_ATTEMPTS = ("mass_mailing_sms.sms_max_attempts", 5)  # unknown outcomes, then error
MAX_BACKOFF_DOUBLINGS = 6  # back-off grows to retry_delay * 64 at most
MAX_UNKNOWN_IN_A_ROW = 3  # provider unreachable: stop this run, the back-off wakes it again
CLAIM_RETRIES = 5  # concurrent workers may make a claim or a result write fail to serialize

# pages of sms_sms keep half their room free: the claim (lease, attempt) then rewrites each
# SMS on its own page without a new entry in each of the table's indexes (a "HOT" update)
SMS_FILLFACTOR = 50

# ids of the SMS to send right after the current transaction commits ("Send Directly"), in
# the data of the cursor's post-commit callbacks
SEND_DIRECTLY_KEY = "mass_mailing_sms.send_directly"

# provider answers that stop the whole run: the account, not the SMS, is the problem
ACCOUNT_FAILURES = ("sms_credit", "sms_acc")


class Claim(NamedTuple):
    """What one claim of the queue gives: the SMS to send now, how many rows it took
    (some may have been cancelled or held for quiet hours) and, when the pacing limit
    allowed none, when it will allow more."""

    sms: "SmsSms"
    taken: int = 0
    paced_until: object = None
    pacing_token: str | None = None  # the pacing grant of these SMS, restamped once sent


def _group_ids(value_by_id):
    """{value: [ids]} from {id: value}."""
    ids_by_value = {}
    for record_id, value in value_by_id.items():
        ids_by_value.setdefault(value, []).append(record_id)
    return ids_by_value


def _sms_send_after_commit(registry, postcommit):
    """Post-commit hook of "Send Directly": hands the SMS collected under
    ``SEND_DIRECTLY_KEY`` to the dispatcher, on a cursor of its own."""
    sms_ids = postcommit.data.get(SEND_DIRECTLY_KEY)
    if not sms_ids:
        return  # already handled (the tests' gateway mock runs them itself)
    try:
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["sms.sms"]._sms_process_mailing_queue(ids=sorted(sms_ids), auto_commit=True)
    except Exception:
        # the SMS stay queued: the queue, woken when they were created, sends them
        _logger.exception("SMS sent directly left to the SMS queue")


def _int(value):
    try:
        return max(int(value or 0), 0)
    except (TypeError, ValueError):
        return 0


def _sms_can_commit():
    """Queue code commits its steps, except in Odoo tests (never in a test's transaction)."""
    return not getattr(threading.current_thread(), "testing", False)


def _sms_http_status(error):
    """HTTP status and Retry-After seconds behind an exception of the provider call, if any.

    ``iap_jsonrpc`` turns every HTTP failure into an ``AccessError`` raised while handling the
    ``requests`` exception, which stays reachable as ``__context__``.
    """
    seen = 0
    while error is not None and seen < 5:
        if isinstance(error, requests.HTTPError) and error.response is not None:
            retry_after = error.response.headers.get("Retry-After", "")
            return error.response.status_code, int(retry_after) if retry_after.isdigit() else 0
        error = error.__cause__ or error.__context__
        seen += 1
    return None, 0


class SmsSms(models.Model):
    _inherit = "sms.sms"

    # provider answers that have their own failure type on SMS of mailings (RELIABILITY row 16)
    IAP_TO_SMS_FAILURE_TYPE: ClassVar[dict[str, str]] = {
        **BaseSmsSms.IAP_TO_SMS_FAILURE_TYPE,
        "registration_needed": "sms_registration_needed",
        "duplicate_message": "sms_duplicate",
        "incompatible_content": "sms_rejected",
        "rejected": "sms_rejected",  # our providers' refusals with the provider's reason
    }

    # in time order, so that the unique index of a million SMS stays compact (issue 28)
    uuid = fields.Char(default=lambda self: time_ordered_uuid())
    mailing_id = fields.Many2one("mailing.mailing", index="btree_not_null")
    mailing_trace_ids = fields.One2many("mailing.trace", "sms_id_int", "Statistics")
    failure_type = fields.Selection(selection_add=[("sms_rejected", "Rejected")])
    sms_lease_until = fields.Datetime(
        "Claimed Until",
        copy=False,
        readonly=True,
        help="A queue worker holds this SMS (or waits before trying it again) until then.",
    )
    sms_quiet_until = fields.Datetime(
        "Held Until",
        copy=False,
        readonly=True,
        help="Due during the recipient's quiet hours: waits in the queue until then.",
    )
    sms_attempt_count = fields.Integer(
        "Sending Attempts",
        copy=False,
        readonly=True,
        help="Times this SMS was handed to the provider without a clear answer yet.",
    )

    def init(self):
        super().init()
        set_fillfactor(self.env.cr, self._table, SMS_FILLFACTOR)
        # the queue's claim reads queued SMS of mailings, oldest first
        self.env.cr.execute(
            SQL(
                """CREATE INDEX IF NOT EXISTS sms_sms_mailing_outgoing_idx ON sms_sms (id)
                    WHERE state = 'outgoing' AND mailing_id IS NOT NULL"""
            )
        )
        # and looks for the other queued SMS first: without this index, a search that
        # walks every SMS of the mailings being sent (issue 7)
        self.env.cr.execute(
            SQL(
                """CREATE INDEX IF NOT EXISTS sms_sms_other_outgoing_idx ON sms_sms (id)
                    WHERE state = 'outgoing' AND mailing_id IS NULL"""
            )
        )

    # ------------------------------------------------------------
    # ENTRY POINTS
    # ------------------------------------------------------------

    @api.model
    def _process_queue(self, ids=None):
        """The SMS queue cron: other SMS by Odoo's path, SMS of mailings by ours."""
        auto_commit = _sms_can_commit()
        domain = [("state", "=", "outgoing"), ("to_delete", "!=", True), ("mailing_id", "=", False)]
        if ids:
            domain.append(("id", "in", list(ids)))
        other_ids = self.search(domain, limit=10000, order="id").ids
        result = None
        try:
            if other_ids:
                result = self.browse(other_ids).send(
                    unlink_failed=False,
                    unlink_sent=True,
                    auto_commit=auto_commit,
                    raise_exception=False,
                )
        except Exception:
            _logger.exception("Failed processing SMS queue")
        try:
            self._sms_process_mailing_queue(ids=ids, auto_commit=auto_commit)
        except Exception:
            _logger.exception("Failed processing the SMS of mailings")
        return result

    def send(self, unlink_failed=False, unlink_sent=True, auto_commit=False, raise_exception=False):
        """SMS of mailings go through the claiming dispatcher, never straight from a
        transaction that cannot commit its claim first: with ``auto_commit`` (the caller
        lets us commit) at once, else right after the caller's transaction commits."""
        mailing_sms = self.filtered(lambda sms: sms.mailing_id)
        others = self - mailing_sms
        if mailing_sms:
            if auto_commit:
                mailing_sms._sms_process_mailing_queue(
                    ids=mailing_sms.ids, auto_commit=_sms_can_commit()
                )
            else:
                mailing_sms._sms_send_directly()
        if others:
            return super(SmsSms, others).send(
                unlink_failed=unlink_failed,
                unlink_sent=unlink_sent,
                auto_commit=auto_commit,
                raise_exception=raise_exception,
            )
        return None

    def _send(self, unlink_failed=False, unlink_sent=True, raise_exception=False):
        """Odoo's other SMS (chatter, templates, automation) leave through the company's
        provider as well (issue 26); with Odoo IAP, Odoo's own code sends them."""
        api_class = self.env.company._get_sms_api_class()
        if api_class is IapSmsApi:
            return super()._send(
                unlink_failed=unlink_failed,
                unlink_sent=unlink_sent,
                raise_exception=raise_exception,
            )
        api = api_class(self.env)
        messages = [
            {
                "content": body,
                "numbers": [
                    {
                        "number": sms.number,
                        "uuid": sms.uuid,
                        "attempt": sms.sms_attempt_count + 1,
                        "since": sms.create_date,
                    }
                    for sms in sms_group
                ],
            }
            for body, sms_group in self.grouped("body").items()
        ]
        try:
            results = api._send_sms_batch(
                messages, delivery_reports_url=url_join(self[0].get_base_url(), "/sms/status")
            )
        except Exception as error:
            if raise_exception:
                raise
            _logger.info("SMS %s not sent by %s: %s", self.ids, type(api).__name__, error)
            results = [{"uuid": sms.uuid, "state": "server_error"} for sms in self]
        # SMS the provider did not answer for, or not clearly, stay in the queue, as with IAP
        result_by_uuid = {
            result["uuid"]: result
            for result in results
            if result.get("state") not in (None, "unknown", "throttled")
        }
        self.sudo()._sms_save_provider_ids(
            {
                sms_uuid: result["provider_message_id"]
                for sms_uuid, result in result_by_uuid.items()
                if result.get("provider_message_id")
            }
        )
        answered_sudo = self.sudo().filtered(lambda sms: sms.uuid in result_by_uuid)
        unknown_uuids = {r["uuid"] for r in results if r.get("state") in (None, "unknown")}
        for sms_sudo in self.sudo().filtered(lambda sms: sms.uuid in unknown_uuids):
            # an earlier try may have reached the provider: the next one asks it first
            sms_sudo.sms_attempt_count += 1
        answered_sudo = answered_sudo.with_context(sms_skip_msg_notification=True)
        for (provider_state, reason), sms_sudo in answered_sudo.grouped(
            lambda sms: (
                result_by_uuid[sms.uuid]["state"],
                result_by_uuid[sms.uuid].get("failure_reason") or False,
            )
        ).items():
            state, failure_type = self._sms_provider_outcome(provider_state)
            if failure_type == "unknown":
                sms_sudo.sms_tracker_id._action_update_from_provider_error(reason or provider_state)
            else:
                sms_sudo.sms_tracker_id._action_update_from_sms_state(
                    state, failure_type, failure_reason=reason
                )
            if failure_type == "sms_blacklist":
                sms_sudo._sms_blacklist_numbers(reason)
            to_delete = unlink_failed if state in ("error", "canceled") else unlink_sent
            sms_sudo.write(
                {
                    "state": state,
                    "failure_type": failure_type,
                    **({"to_delete": True} if to_delete else {}),
                }
            )
        answered_sudo.mail_message_id._notify_message_notification_update()
        return None

    def _sms_send_directly(self):
        """F1 "Send Directly": these SMS go to the provider right after the transaction that
        created them commits (a post-commit hook, on a cursor of its own), through the
        dispatcher like any queued SMS; never from that transaction, before anyone else can
        see them (RELIABILITY 6). The queue is woken as well: it sends them should the hook
        not run (the worker stopped right after the commit). Tests never commit: the
        gateway mock runs the dispatcher for these SMS (``MassSMSCase.mockSMSGateway``)."""
        postcommit = self.env.cr.postcommit
        if SEND_DIRECTLY_KEY not in postcommit.data:
            postcommit.data[SEND_DIRECTLY_KEY] = set()
            postcommit.add(partial(_sms_send_after_commit, self.env.registry, postcommit))
        postcommit.data[SEND_DIRECTLY_KEY].update(self.ids)
        self._sms_trigger_queue()

    @api.model
    def _sms_trigger_queue(self, at=None):
        cron = self.env.ref("sms.ir_cron_sms_scheduler_action", raise_if_not_found=False)
        if cron:
            cron.sudo()._trigger(at=at)

    def _update_sms_state_and_trackers(self, new_state, failure_type=None):
        """Back in the queue (retry): a fresh count of attempts, no lease."""
        super()._update_sms_state_and_trackers(new_state, failure_type=failure_type)
        if new_state == "outgoing":
            back = self.filtered(lambda sms: sms.sms_attempt_count or sms.sms_lease_until)
            if back:
                back.write({"sms_attempt_count": 0, "sms_lease_until": False})

    # ------------------------------------------------------------
    # DISPATCHER
    # ------------------------------------------------------------

    @api.model
    def _sms_get_param(self, param):
        key, default = param
        value = self.env["ir.config_parameter"].sudo().get_param(key)
        try:
            return max(int(value), 1) if value else default
        except ValueError:
            return default

    @api.model
    def _sms_process_mailing_queue(self, ids=None, auto_commit=True):
        """Send queued SMS of mailings in bounded chunks; returns the number handled.

        :param ids: only these SMS (still claimed like any other);
        :param auto_commit: commit the claim before each provider call and the answers after
          it (the cron); False in tests, where everything stays in the test's transaction.
        """
        sms_sudo = self.sudo()
        batch_size = sms_sudo._sms_get_param(PARAM_BATCH_SIZE)
        max_batches = sms_sudo._sms_get_param(PARAM_BATCHES_PER_RUN)
        # well under the cron's time limit (120 s by default): the rest goes in the next run
        deadline = monotonic() + sms_sudo._sms_get_param(PARAM_RUN_SECONDS)
        done = 0
        stop = None  # why this run ended early: "account", "throttled", "unreachable", "paced"
        unknown_in_a_row = 0
        paced_until = None
        mailings = self.env["mailing.mailing"].sudo()
        for batch in range(max_batches):
            if batch and monotonic() >= deadline:
                break  # not a stop: progress has the cron run again at once
            claim = sms_sudo._sms_claim_batch(batch_size, ids=ids, auto_commit=auto_commit)
            if claim.paced_until:
                stop, paced_until = "paced", claim.paced_until
                break
            if not claim.taken:
                break
            claimed = claim.sms
            if not claimed:
                continue  # all cancelled or held for quiet hours: take the next ones
            mailings |= claimed.mailing_id
            outcome, left = claimed._sms_send_claimed(auto_commit=auto_commit, deadline=deadline)
            sms_sudo._sms_restamp_pacing(claim.pacing_token, auto_commit=auto_commit)
            done += len(claimed) - len(left)
            if outcome in ("account", "throttled"):
                stop = outcome
                break
            unknown_in_a_row = unknown_in_a_row + 1 if outcome == "unknown" else 0
            if unknown_in_a_row >= MAX_UNKNOWN_IN_A_ROW:
                stop = "unreachable"
                break
        if not done:
            # a build that ended while this queue sent its last SMS may have left its mailing
            # sending: its last step triggers this queue, which closes it here
            mailings = mailings.search(
                [
                    ("mailing_type", "=", "sms"),
                    ("state", "=", "sending"),
                    ("sms_build_pending", "=", False),
                ]
            )
        # once per run, not per answer: whether a mailing still waits reads its traces (two
        # workers finishing one mailing may both write it: retried like the claims)
        sms_sudo._sms_in_transaction(
            lambda: mailings.exists()._sms_update_mailing_state(), auto_commit
        )
        ready, next_at = sms_sudo._sms_count_waiting(ids=ids)
        if stop:
            _logger.info("SMS queue: %s SMS handled, run stopped (%s)", done, stop)
        # progress makes Odoo's cron run this again at once while work remains (it stops
        # after 10 runs and reschedules itself as soon as possible)
        self.env["ir.cron"]._notify_progress(done=done, remaining=0 if stop else ready)
        if ready and not stop:
            sms_sudo._sms_trigger_queue()
        elif paced_until:
            sms_sudo._sms_trigger_queue(at=paced_until)
        elif next_at and stop != "account":
            sms_sudo._sms_trigger_queue(at=next_at)  # back-off or another worker's lease
        if auto_commit:
            self.env.cr.commit()  # pylint: disable=invalid-commit
        return done

    @api.model
    def _sms_claim_batch(self, limit, ids=None, auto_commit=True):
        """Claim up to ``limit`` queued SMS of mailings, oldest first; returns a ``Claim``.

        Rows locked by another worker are skipped, rows leased by one (claimed, or waiting
        for a retry) are left alone; the lease and the attempt are committed before the
        provider is called. SMS that must no longer go out are cancelled here, those due in
        their recipient's quiet hours are held, and the pacing limit caps the claim.
        """
        per_minute = self._sms_get_pacing_rate()
        pacing = self.env["mailing.sms.pacing"].sudo()

        def claim():
            if auto_commit:
                # a fresh snapshot: the claim sees the claims other workers committed
                self.env.cr.commit()  # pylint: disable=invalid-commit
            now = fields.Datetime.now()
            wanted, grant = limit, None
            if per_minute:
                grant = pacing._sms_take(limit, per_minute)
                if not grant.count:
                    return Claim(self.browse(), 0, grant.paced_until)
                wanted = grant.count
            claimed = self._sms_claim_rows(wanted, ids, now)
            to_send = claimed
            if claimed:
                to_send -= claimed._sms_cancel_stale_mailing_sms()
                to_send -= to_send._sms_hold_quiet_hours(now)
            if grant:
                pacing._sms_give_back(grant.token, wanted - len(to_send))
            return Claim(to_send, len(claimed), None, grant.token if grant and to_send else None)

        return self._sms_in_transaction(claim, auto_commit)

    @api.model
    def _sms_in_transaction(self, work, auto_commit):
        """``work()`` then commit (with ``auto_commit``); a serialization failure against
        another worker rolls back and runs it again, up to ``CLAIM_RETRIES`` times."""
        for attempt in range(1, CLAIM_RETRIES + 1):
            try:
                result = work()
                if auto_commit:
                    self.env.cr.commit()  # pylint: disable=invalid-commit
                return result
            except psycopg2.extensions.TransactionRollbackError:
                if not auto_commit or attempt == CLAIM_RETRIES:
                    raise
                self.env.cr.rollback()
                self.env.invalidate_all()
        return None

    @api.model
    def _sms_restamp_pacing(self, token, auto_commit=True):
        """The provider answered: the pacing grant of the batch counts from now."""
        if token:
            pacing = self.env["mailing.sms.pacing"].sudo()
            self._sms_in_transaction(lambda: pacing._sms_restamp(token), auto_commit)

    @api.model
    def _sms_get_pacing_rate(self):
        """SMS per minute the pacing setting allows, 0 when there is no limit."""
        params = self.env["ir.config_parameter"].sudo()
        if not str2bool(params.get_param(PARAM_PACING) or "0"):
            return 0
        return self._sms_get_param((PARAM_PACING_PER_MINUTE, 600))

    @api.model
    def _sms_claim_rows(self, limit, ids=None, now=None):
        self.flush_model()
        lease = self._sms_get_param(PARAM_LEASE)
        # the rows to update are named by an array, not joined: a join made PostgreSQL
        # scan the whole table (hash join) once per claim
        self.env.cr.execute(
            SQL(
                """UPDATE sms_sms
                      SET sms_lease_until = (now() AT TIME ZONE 'UTC')
                                            + make_interval(secs => %(lease)s),
                          sms_attempt_count = COALESCE(sms_attempt_count, 0) + 1
                    WHERE id = ANY(ARRAY(
                       SELECT id FROM sms_sms
                        WHERE state = 'outgoing' AND mailing_id IS NOT NULL
                          AND to_delete IS NOT TRUE
                          AND (sms_lease_until IS NULL
                               OR sms_lease_until <= (now() AT TIME ZONE 'UTC'))
                          AND (sms_quiet_until IS NULL OR sms_quiet_until <= %(now)s)
                          %(only_ids)s
                        ORDER BY id
                        LIMIT %(limit)s
                          FOR UPDATE SKIP LOCKED))
                RETURNING id""",
                only_ids=SQL("AND id = ANY(%s)", list(ids)) if ids else SQL(),
                limit=limit,
                lease=lease,
                now=now or fields.Datetime.now(),
            ),
            log_exceptions=False,
        )
        claimed_ids = sorted(row[0] for row in self.env.cr.fetchall())
        claimed = self.browse(claimed_ids)
        claimed.invalidate_recordset(["sms_lease_until", "sms_attempt_count"])
        return claimed

    @api.model
    def _sms_count_waiting(self, ids=None):
        """(SMS of mailings ready to be claimed now, earliest end of a lease, back-off or
        quiet hours)."""
        self.env.cr.execute(
            SQL(
                """SELECT COUNT(*) FILTER (WHERE (sms_lease_until IS NULL
                                              OR sms_lease_until <= (now() AT TIME ZONE 'UTC'))
                                             AND (sms_quiet_until IS NULL
                                              OR sms_quiet_until <= %(now)s)),
                          MIN(sms_lease_until) FILTER (
                              WHERE sms_lease_until > (now() AT TIME ZONE 'UTC')),
                          MIN(sms_quiet_until) FILTER (WHERE sms_quiet_until > %(now)s)
                     FROM sms_sms
                    WHERE state = 'outgoing' AND mailing_id IS NOT NULL
                      AND to_delete IS NOT TRUE %(only_ids)s""",
                now=fields.Datetime.now(),
                only_ids=SQL("AND id = ANY(%s)", list(ids)) if ids else SQL(),
            )
        )
        ready, lease_end, quiet_end = self.env.cr.fetchone()
        next_at = min(filter(None, (lease_end, quiet_end)), default=None)
        return ready, next_at and next_at + timedelta(seconds=1)

    def _sms_send_claimed(self, auto_commit=True, deadline=None):
        """Hand claimed SMS to the provider and write its answers: in one call, or in chunks
        for a provider that takes SMS one by one (``_sms_chunk_size``), each chunk but the
        first checked again just before it leaves (a STOP reply or a blacklist since the
        claim cancels the SMS not handed over yet). No chunk leaves after an account-level
        refusal, a 429, a chunk without any answer (the provider is down: its requests would
        each wait for the timeout) or past ``deadline`` (a ``time.monotonic()``).

        :return: (outcome, the SMS that did not leave) where outcome is "sent" (answered),
          "account" (account-level refusal: stop the run), "throttled" (HTTP 429: stop and
          wait) or "unknown" (no usable answer).
        """
        left = self.browse()
        if not self:
            return "sent", left
        api = self._sms_get_api()
        rows = self._sms_read_for_provider()
        chunk_size = getattr(api, "_sms_chunk_size", 0) or len(rows)
        outcomes = []
        for start in range(0, len(rows), chunk_size):
            chunk = rows[start : start + chunk_size]
            last = outcomes[-1] if outcomes else None
            late = bool(start) and deadline is not None and monotonic() >= deadline
            if late or last in ("account", "throttled", "unknown"):
                left = self.browse([row[0] for row in rows[start:]])
                if last in ("account", "throttled"):
                    # the run stops: they wait, without counting an attempt
                    postpone = partial(left._sms_postpone, True, 0, "")
                else:
                    postpone = left._sms_release  # they go in the next batch or run
                self._sms_in_transaction(postpone, auto_commit)
                break
            if start:
                chunk = self._sms_recheck_rows(chunk, auto_commit)
            if chunk:
                outcomes.append(self._sms_send_rows(api, chunk, auto_commit))
        for outcome in ("account", "throttled"):
            if outcome in outcomes:
                return outcome, left
        return ("unknown" if outcomes and set(outcomes) == {"unknown"} else "sent"), left

    def _sms_recheck_rows(self, rows, auto_commit):
        """The rows of SMS that may still go out: the others are cancelled (in a transaction
        of its own, which sees what other transactions committed since the claim)."""
        sms = self.browse([row[0] for row in rows])
        canceled = self._sms_in_transaction(sms._sms_cancel_stale_mailing_sms, auto_commit)
        return [row for row in rows if row[0] not in canceled.ids]

    def _sms_send_rows(self, api, rows, auto_commit):
        """One call of the provider for these rows of ``_sms_read_for_provider``."""
        numbers_by_body = {}
        by_uuid = {}
        for sms_id, sms_uuid, number, body, attempt, created in rows:
            numbers_by_body.setdefault(body, []).append(
                {"number": number, "uuid": sms_uuid, "attempt": attempt, "since": created}
            )
            by_uuid[sms_uuid] = sms_id
        messages = [
            {"content": body, "numbers": numbers} for body, numbers in numbers_by_body.items()
        ]
        sms = self.browse(list(by_uuid.values()))
        delivery_reports_url = url_join(sms[0].get_base_url(), "/sms/status")
        error = None
        try:
            results = api._send_sms_batch(messages, delivery_reports_url=delivery_reports_url)
        except InsufficientCreditError:
            # the provider refused the whole call: nothing went out
            results = [{"uuid": sms_uuid, "state": "insufficient_credit"} for sms_uuid in by_uuid]
        except Exception as exception:  # noqa: BLE001 - any failure of the call: unknown outcome
            error = exception
            results = []
        return sms._sms_write_results(results, error, auto_commit=auto_commit, by_uuid=by_uuid)

    @api.model
    def _sms_get_api(self):
        """The provider to hand SMS to (``res.company._get_sms_api_class``)."""
        return self.env.company._get_sms_api_class()(self.env)

    def _sms_read_for_provider(self):
        """(id, uuid, number, body, attempt, create date) of these SMS in one query, in id
        order: what the provider call needs, without loading every field of 500 SMS into
        records. An attempt above 1 tells the provider that an earlier one may have reached
        it (the SMS was claimed before and got no answer)."""
        self.flush_recordset(["uuid", "number", "body", "sms_attempt_count"])
        self.env.cr.execute(
            SQL(
                """SELECT id, uuid, number, body, COALESCE(sms_attempt_count, 1), create_date
                     FROM sms_sms WHERE id = ANY(%s) ORDER BY id""",
                self.ids,
            )
        )
        return [
            (sms_id, sms_uuid, number or False, body or False, attempt, created)
            for sms_id, sms_uuid, number, body, attempt, created in self.env.cr.fetchall()
        ]

    def _sms_write_results(self, results, error=None, auto_commit=True, by_uuid=None):
        """Write the provider's answers forward-only; SMS without an answer wait for a retry.

        :param dict by_uuid: {uuid: sms id} of ``self`` when the caller already read them.
        """
        if by_uuid is None:
            by_uuid = {sms.uuid: sms.id for sms in self}
        answers = {}  # sms id: (provider state, failure reason)
        message_ids = {}  # uuid: the provider's id of the message
        throttled, unknown = [], {}  # sms ids; {sms id: reason}
        retry_after = 0
        for result in results if isinstance(results, list) else []:
            sms_uuid = isinstance(result, dict) and result.get("uuid")
            sms_id = sms_uuid and by_uuid.get(sms_uuid)
            if not sms_id:
                continue
            state, reason = result.get("state"), result.get("failure_reason") or False
            if result.get("provider_message_id"):
                message_ids[sms_uuid] = result["provider_message_id"]
            if state == "throttled":
                throttled.append(sms_id)
                retry_after = max(retry_after, _int(result.get("retry_after")))
            elif state and state != "unknown":
                answers[sms_id] = (state, reason)
            else:
                unknown[sms_id] = reason
        status, http_retry_after = _sms_http_status(error)
        unanswered = [
            sms_id
            for sms_id in self.ids
            if sms_id not in answers and sms_id not in unknown and sms_id not in throttled
        ]
        if status == 429:
            throttled += unanswered
            retry_after = max(retry_after, http_retry_after)
        else:
            unknown.update(dict.fromkeys(unanswered, False))
        if error is not None:
            _logger.info(
                "SMS batch of %s: no answer from the provider (%s), retried later",
                len(self),
                status or type(error).__name__,
            )
        elif unanswered:
            _logger.warning("SMS batch: the provider did not answer for %s SMS", len(unanswered))
        elif unknown:
            _logger.info("SMS batch: %s SMS of unknown outcome, retried later", len(unknown))

        def write():
            self._sms_apply_answers(answers)
            self._sms_save_provider_ids(message_ids)
            if throttled:
                self.browse(throttled)._sms_postpone(True, retry_after, "")
            for detail, sms_ids in _group_ids(unknown).items():
                reason = self._sms_unknown_reason(error, status, detail)
                self.browse(sms_ids)._sms_postpone(False, 0, reason)

        self._sms_in_transaction(write, auto_commit)
        failure_types = {
            self.IAP_TO_SMS_FAILURE_TYPE.get(state)
            for state, _reason in answers.values()
            if state not in self.IAP_TO_SMS_STATE_SUCCESS
        }
        if failure_types & set(ACCOUNT_FAILURES):
            return "account"
        if throttled:
            return "throttled"
        # a batch none of which was answered: the provider may be down
        return "unknown" if unknown and not answers else "sent"

    def _sms_unknown_reason(self, error, status, detail=False):
        if detail:
            return self.env._(
                "No clear answer from the SMS provider (%(detail)s); it may or may not have "
                "sent the SMS.",
                detail=detail,
            )
        if error is None:
            return self.env._("The SMS provider gave no answer for this SMS.")
        if status:
            return self.env._(
                "The SMS provider answered HTTP %(status)s; it may or may not have sent the SMS.",
                status=status,
            )
        return self.env._(
            "No answer from the SMS provider (%(error)s); it may or may not have sent the SMS.",
            error=type(error).__name__,
        )

    def _sms_apply_answers(self, answers):
        """{sms id: (provider state, failure reason)} -> SMS states and traces, per state.

        Accepted and refused SMS update their traces straight from the SMS ids (one query per
        state, see ``_sms_update_traces``); the mailings' states are refreshed once per run
        by ``_sms_process_mailing_queue``. Unknown provider states keep Odoo's tracker path.
        A recipient who opted out at the carrier is cancelled and blacklisted.
        """
        success_ids, failure_ids, provider_error_ids = {}, {}, {}
        for sms_id, (provider_state, reason) in answers.items():
            state, failure_type = self._sms_provider_outcome(provider_state)
            if state not in ("error", "canceled"):
                success_ids.setdefault(state, []).append(sms_id)
            elif failure_type != "unknown":
                failure_ids.setdefault((state, failure_type, reason), []).append(sms_id)
            else:
                provider_error_ids.setdefault(reason or provider_state or "unknown", []).append(
                    sms_id
                )
        for state, sms_ids in success_ids.items():
            moved = self._sms_move_forward(sms_ids, state, False, to_delete=True)
            moved._sms_update_traces(state)
        for (state, failure_type, reason), sms_ids in failure_ids.items():
            moved = self._sms_move_forward(sms_ids, state, failure_type)
            moved._sms_update_traces(state, failure_type, reason)
            if failure_type == "sms_blacklist":
                moved._sms_blacklist_numbers(reason)
        for provider_error, sms_ids in provider_error_ids.items():
            moved = self._sms_move_forward(sms_ids, "error", "unknown")
            moved._sms_get_trackers()._action_update_from_provider_error(provider_error)

    def _sms_blacklist_numbers(self, reason):
        """The provider says these recipients opted out at the carrier: their numbers join
        the phone blacklist, with the provider's words in its chatter."""
        numbers = {number for number in self.mapped("number") if number}
        if numbers:
            self.env["phone.blacklist"].sudo()._add(
                sorted(numbers),
                message=self.env._(
                    "Blacklisted on the SMS provider's word: %(reason)s",
                    reason=reason or self.env._("the recipient opted out at the carrier"),
                ),
            )

    def _sms_save_provider_ids(self, message_ids):
        """{sms uuid: the provider's id of its message} on the SMS trackers, in one query:
        delivery reports and reconciliation find the SMS by it."""
        if not message_ids:
            return
        self.env["sms.tracker"].flush_model(["sms_uuid", "sms_provider_message_id"])
        self.env.cr.execute(
            SQL(
                """UPDATE sms_tracker SET sms_provider_message_id = given.message_id
                     FROM unnest(%s::varchar[], %s::varchar[]) AS given(uuid, message_id)
                    WHERE sms_tracker.sms_uuid = given.uuid""",
                list(message_ids),
                list(message_ids.values()),
            )
        )
        self.env["sms.tracker"].invalidate_model(["sms_provider_message_id"])

    @api.model
    def _sms_provider_outcome(self, provider_state):
        """(SMS state, failure type) a provider's answer leads to, in Odoo's terms; the
        failure type is "unknown" for a refusal Odoo has no type for (its trackers then keep
        the provider's own word)."""
        if provider_state in self.IAP_TO_SMS_STATE_SUCCESS:
            return self.IAP_TO_SMS_STATE_SUCCESS[provider_state], False
        if provider_state == "blacklisted":
            return "canceled", "sms_blacklist"
        return "error", self.IAP_TO_SMS_FAILURE_TYPE.get(provider_state) or "unknown"

    def _sms_update_traces(self, sms_state, failure_type=False, failure_reason=False):
        """The traces of these mailing SMS follow their new state, in one query.

        What the trackers would do for them (``sms.tracker._action_update_from_sms_state``),
        without searching the trackers by uuid and reading them and their traces first: the
        trackers of mailing SMS carry no notification, only their trace, which also holds
        the SMS id.
        """
        return (
            self.env["mailing.trace"]
            .sudo()
            ._sms_update_status_of_sms(
                self.ids, sms_trace_status(sms_state, failure_type), failure_type, failure_reason
            )
        )

    def _sms_get_trackers(self):
        """The trackers of these SMS in one search (``sms_tracker_id`` computes them one by
        one); they keep the context of ``self``."""
        return self.env["sms.tracker"].search([("sms_uuid", "in", self.mapped("uuid"))])

    def _sms_move_forward(self, sms_ids, state, failure_type, to_delete=False):
        """Leave the queue: only SMS still queued move (a result never goes backwards);
        returns those that moved."""
        self.flush_model()
        self.env.cr.execute(
            SQL(
                """UPDATE sms_sms
                      SET state = %(state)s, failure_type = %(failure_type)s,
                          to_delete = to_delete OR %(to_delete)s, sms_lease_until = NULL
                    WHERE id = ANY(%(ids)s) AND state = 'outgoing'
                RETURNING id""",
                state=state,
                failure_type=failure_type or None,
                to_delete=to_delete,
                ids=list(sms_ids),
            )
        )
        moved = self.browse([row[0] for row in self.env.cr.fetchall()])
        moved.invalidate_recordset(["state", "failure_type", "to_delete", "sms_lease_until"])
        return moved.with_context(sms_skip_msg_notification=True)

    def _sms_release(self):
        """Claimed SMS that did not leave: back in the queue at once, their claim's attempt
        taken back."""
        self.flush_model()
        self.env.cr.execute(
            SQL(
                """UPDATE sms_sms
                      SET sms_attempt_count = GREATEST(COALESCE(sms_attempt_count, 1) - 1, 0),
                          sms_lease_until = NULL
                    WHERE id = ANY(%s) AND state = 'outgoing'""",
                self.ids,
            )
        )
        self.invalidate_recordset(["sms_lease_until", "sms_attempt_count"])

    def _sms_postpone(self, throttled, retry_after, reason):
        """No answer: back in the queue after a back-off, same uuid; after the last attempt,
        an error with the reason. A throttled call (HTTP 429) does not count as an attempt."""
        self.flush_model()
        delay = self._sms_get_param(PARAM_RETRY_DELAY)
        max_attempts = self._sms_get_param(PARAM_MAX_ATTEMPTS)
        self.env.cr.execute(
            SQL(
                """UPDATE sms_sms
                      SET sms_attempt_count = CASE WHEN %(throttled)s
                              THEN GREATEST(COALESCE(sms_attempt_count, 1) - 1, 0)
                              ELSE sms_attempt_count END,
                          sms_lease_until = (now() AT TIME ZONE 'UTC') + make_interval(
                              secs => CASE WHEN %(throttled)s THEN GREATEST(%(retry_after)s, %(delay)s)
                                      ELSE %(delay)s * power(2, LEAST(
                                          GREATEST(COALESCE(sms_attempt_count, 1) - 1, 0),
                                          %(doublings)s)) END)
                    WHERE id = ANY(%(ids)s) AND state = 'outgoing'
                RETURNING id, sms_attempt_count""",
                throttled=throttled,
                retry_after=retry_after,
                delay=delay,
                doublings=MAX_BACKOFF_DOUBLINGS,
                ids=self.ids,
            )
        )
        rows = self.env.cr.fetchall()
        self.invalidate_recordset(["sms_lease_until", "sms_attempt_count"])
        exhausted = self.browse([sms_id for sms_id, count in rows if count >= max_attempts])
        if exhausted and not throttled:
            moved = self._sms_move_forward(exhausted.ids, "error", "sms_server")
            moved.sms_tracker_id._action_update_from_sms_state(
                "error",
                failure_type="sms_server",
                failure_reason=self.env._(
                    "%(reason)s Gave up after %(count)s attempts under the same id.",
                    reason=reason,
                    count=max_attempts,
                ),
            )

    # ------------------------------------------------------------
    # CHECKS WHEN CLAIMED
    # ------------------------------------------------------------

    def _sms_cancel_stale_mailing_sms(self):
        """Cancel the mailing SMS of ``self`` that must no longer go out (RELIABILITY rows 10,
        14: number blacklisted, recipient opted out or deleted since queued); returns them.

        Runs on every claimed batch: plain rows from two indexed queries, one query per
        recipient model for existence and one for opt-outs, no record of the batch loaded.
        """
        if not self:
            return self.browse()
        self.flush_recordset(["mailing_id", "state", "number"])
        self.env["mailing.trace"].flush_model(["sms_id_int", "trace_type", "model", "res_id"])
        self.env.cr.execute(
            SQL(
                """SELECT id, number, mailing_id FROM sms_sms
                    WHERE id = ANY(%s) AND state = 'outgoing' AND mailing_id IS NOT NULL""",
                self.ids,
            )
        )
        sms_rows = self.env.cr.fetchall()
        if not sms_rows:
            return self.browse()
        self.env.cr.execute(
            SQL(
                """SELECT sms_id_int, model, res_id FROM mailing_trace
                    WHERE sms_id_int = ANY(%s) AND trace_type = 'sms'""",
                [row[0] for row in sms_rows],
            )
        )
        recipient_by_sms_id = {
            sms_id: (model, res_id) for sms_id, model, res_id in self.env.cr.fetchall()
        }
        mailing_by_sms_id = {sms_id: mailing_id for sms_id, _number, mailing_id in sms_rows}
        res_ids_by_key = {}  # (mailing id, model): recipient ids
        for sms_id, (model, res_id) in recipient_by_sms_id.items():
            res_ids_by_key.setdefault((mailing_by_sms_id[sms_id], model), []).append(res_id)
        gone, opted_out = set(), set()  # (mailing id, model, res_id)
        for (mailing_id, model), res_ids in res_ids_by_key.items():
            existing = self._sms_existing_ids(model, res_ids)
            gone.update((mailing_id, model, res_id) for res_id in set(res_ids) - existing)
            mailing = self.env["mailing.mailing"].sudo().browse(mailing_id)
            opt_out_ids = mailing._sms_get_opt_out_ids(res_ids)
            opted_out.update((mailing_id, model, res_id) for res_id in opt_out_ids)
        blacklisted = self.env["mailing.mailing"]._sms_get_blacklisted_numbers(
            {number for _sms_id, number, _mailing_id in sms_rows if number}
        )
        failure_by_sms_id = {}
        for sms_id, number, mailing_id in sms_rows:
            model, res_id = recipient_by_sms_id.get(sms_id, (None, None))
            if (mailing_id, model, res_id) in gone:
                failure_by_sms_id[sms_id] = "unknown"
            elif (mailing_id, model, res_id) in opted_out:
                failure_by_sms_id[sms_id] = "sms_optout"
            elif number in blacklisted:
                failure_by_sms_id[sms_id] = "sms_blacklist"
        canceled = self.browse()
        for failure_type, sms_ids in _group_ids(failure_by_sms_id).items():
            to_cancel = self.browse(sms_ids)
            to_cancel._update_sms_state_and_trackers("canceled", failure_type=failure_type)
            canceled |= to_cancel
        return canceled

    def _sms_existing_ids(self, model_name, res_ids):
        """The ``res_ids`` of ``model_name`` that still exist (all of them for a model that
        is gone or has no table: nothing to compare with)."""
        model = self.env.get(model_name)
        if model is None or model._abstract or not model._auto:
            return set(res_ids)
        model.flush_model()
        self.env.cr.execute(
            SQL("SELECT id FROM %s WHERE id = ANY(%s)", SQL.identifier(model._table), res_ids)
        )
        return {row[0] for row in self.env.cr.fetchall()}

    def _sms_hold_quiet_hours(self, now):
        """Hold the SMS of ``self`` due in their recipient's quiet hours until these end
        (issue 9); returns them. Holding is not an attempt: the claim's count is undone."""
        self.fetch(["mailing_id", "number", "partner_id"])  # not the bodies
        windows = {mailing: mailing._sms_get_quiet_window() for mailing in self.mailing_id}
        if not any(windows.values()):
            return self.browse()
        until_by_id = {}
        for sms in self:
            window = windows.get(sms.mailing_id)
            zones = window and recipient_timezones(sms.number, sms.partner_id.tz)
            until = zones and quiet_until_all(now, zones, *window)
            if until:
                until_by_id[sms.id] = until
        if not until_by_id:
            return self.browse()
        self.flush_model()
        self.env.cr.execute(
            SQL(
                """UPDATE sms_sms
                      SET sms_quiet_until = held.until, sms_lease_until = NULL,
                          sms_attempt_count = GREATEST(COALESCE(sms_attempt_count, 1) - 1, 0)
                     FROM unnest(%s::int[], %s::timestamp[]) AS held(id, until)
                    WHERE sms_sms.id = held.id""",
                list(until_by_id),
                list(until_by_id.values()),
            )
        )
        held = self.browse(list(until_by_id))
        held.invalidate_recordset(["sms_quiet_until", "sms_lease_until", "sms_attempt_count"])
        return held

    # ------------------------------------------------------------
    # LINKS
    # ------------------------------------------------------------

    def _update_body_short_links(self):
        """{sms id: body} where each short link of a mailing SMS carries the SMS id (C9).

        ``<base>/r/<code>`` becomes ``<base>/r/<code>/s/<sms id>`` so that a click is
        counted on the recipient's trace; the opt-out link is not a short link and stays.
        The campaign builder tags links the same way when it writes the SMS.
        """
        result = {}
        for sms in self:
            pattern = sms.mailing_id and sms.body and sms.mailing_id._sms_short_link_pattern()
            result[sms.id] = tag_short_links(pattern, sms.body, sms.id) if pattern else sms.body
        return result
