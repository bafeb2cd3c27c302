# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
import json
from datetime import datetime, timedelta, timezone
from typing import ClassVar

from odoo import fields, models
from odoo.tools import SQL

PACING_WINDOW = 60  # seconds: "at most N SMS per minute" holds for any 60 seconds
PACING_KEY = "sms_queue"


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
        "Recent Grants", help="[[time (seconds since 1970), SMS granted], ...] of the last minute."
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
        """Grant up to ``wanted`` SMS within ``per_minute``; returns (granted, when the limit
        allows more if it allows none now). The lock is held until the caller commits."""
        now = now or fields.Datetime.now()
        now_ts = _epoch(now)
        row_id, grants = self._sms_lock()
        recent = [[at, count] for at, count in grants if at > now_ts - PACING_WINDOW]
        granted = max(0, min(wanted, per_minute - sum(count for _at, count in recent)))
        if granted:
            recent.append([now_ts, granted])
        if granted or recent != grants:
            self._sms_save(row_id, recent)
        if granted or not recent:
            return granted, None
        oldest = min(at for at, _count in recent)
        return 0, datetime.fromtimestamp(oldest + PACING_WINDOW, timezone.utc).replace(
            tzinfo=None
        ) + timedelta(seconds=1)

    def _sms_give_back(self, count):
        """Return ``count`` SMS of the grant this transaction just took (not all were sent)."""
        if count <= 0:
            return
        row_id, grants = self._sms_lock()
        if grants:
            grants[-1][1] = max(grants[-1][1] - count, 0)
            self._sms_save(row_id, [grant for grant in grants if grant[1]])
