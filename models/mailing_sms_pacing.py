# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
import json
from datetime import datetime, timedelta, timezone
from typing import ClassVar, NamedTuple
from uuid import uuid4

from odoo import fields, models
from odoo.tools import SQL

PACING_WINDOW = 60  # seconds: "at most N SMS per minute" holds for any 60 seconds
PACING_KEY = "sms_queue"


class PacingGrant(NamedTuple):
    count: int
    paced_until: datetime | None = None
    token: str | None = None


def _utcnow():
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _epoch(moment):
    return moment.replace(tzinfo=timezone.utc).timestamp()


class MailingSmsPacing(models.Model):
    """The SMS rate limit shared by every worker of the SMS queue (issue 9).

    One row lists the SMS granted during the last minute. A worker locks it, takes what
    the limit still allows and records it, in the transaction that claims the SMS: a second
    worker waits for the lock, and under Odoo's repeatable-read isolation gets a
    serialization failure (retried by the claim) rather than a stale count.
    """

    _name = "mailing.sms.pacing"
    _description = "SMS Pacing"
    _log_access = False

    name = fields.Char(required=True)
    sms_grants = fields.Json(
        "Recent Grants",
        help="[[time (seconds since 1970), SMS granted, grant token], ...] of the last minute.",
    )

    _sql_constraints: ClassVar[list] = [("name_uniq", "UNIQUE(name)", "One pacing row per key.")]

    def init(self):
        super().init()
        self.env.cr.execute(
            SQL(
                """INSERT INTO mailing_sms_pacing (name, sms_grants) VALUES (%s, '[]')
                   ON CONFLICT (name) DO NOTHING""",
                PACING_KEY,
            )
        )

    def _sms_lock(self):
        self.env.cr.execute(
            SQL(
                "SELECT id, sms_grants FROM mailing_sms_pacing WHERE name = %s FOR UPDATE",
                PACING_KEY,
            ),
            log_exceptions=False,
        )
        row = self.env.cr.fetchone()
        if not row:  # removed by hand: recreated
            self.init()
            return self._sms_lock()
        return row[0], list(row[1] or [])

    def _sms_save(self, row_id, grants):
        self.env.cr.execute(
            SQL(
                "UPDATE mailing_sms_pacing SET sms_grants = %s::jsonb WHERE id = %s",
                json.dumps(grants),
                row_id,
            ),
            log_exceptions=False,
        )

    def _sms_take(self, wanted, per_minute, now=None):
        """Grant up to ``wanted`` SMS within ``per_minute``; returns a ``PacingGrant``
        (``paced_until``: when the limit allows more, if it allows none now). The lock is
        held until the caller commits. Times keep their microseconds: a grant rounded down
        to its second would leave the window up to a second early."""
        now_ts = _epoch(now or _utcnow())
        row_id, grants = self._sms_lock()
        recent = [grant for grant in grants if grant[0] > now_ts - PACING_WINDOW]
        granted = max(0, min(wanted, per_minute - sum(grant[1] for grant in recent)))
        token = None
        if granted:
            token = uuid4().hex[:12]
            recent.append([now_ts, granted, token])
        if granted or recent != grants:
            self._sms_save(row_id, recent)
        if granted or not recent:
            return PacingGrant(granted, None, token)
        oldest = min(grant[0] for grant in recent)
        paced_until = datetime.fromtimestamp(oldest + PACING_WINDOW, timezone.utc)
        return PacingGrant(0, paced_until.replace(tzinfo=None) + timedelta(seconds=1), None)

    def _sms_give_back(self, token, count):
        """Return ``count`` SMS of the grant ``token`` (not all of it was claimed)."""
        if not token or count <= 0:
            return
        row_id, grants = self._sms_lock()
        for grant in grants:
            if grant[2:] == [token]:
                grant[1] = max(grant[1] - count, 0)
        self._sms_save(row_id, [grant for grant in grants if grant[1]])

    def _sms_restamp(self, token, now=None):
        """The provider answered the SMS of grant ``token``: the grant counts from now on.

        It was stamped when the SMS were claimed; the provider got them somewhere between
        then and its answer. Counting the minute from the answer keeps any 60 seconds at
        the provider within the limit even when one call is slower than the next."""
        if not token:
            return
        now_ts = _epoch(now or _utcnow())
        row_id, grants = self._sms_lock()
        for grant in grants:
            if grant[2:] == [token]:
                grant[0] = max(grant[0], now_ts)
        self._sms_save(row_id, grants)
