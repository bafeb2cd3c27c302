# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
"""What an SMS mailing checks and estimates before it goes out: readiness, cost estimate,
quiet hours and frequency cap (issue 9); the pacing lives with the queue (``mailing.sms.pacing``)."""

import logging
from datetime import timedelta

from odoo import fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL, str2bool

from ..tools.sms_text import (
    PLACEHOLDER_PATTERN,
    TEXT_URL,
    sms_is_gsm7,
    sms_parts_count,
)
from .res_config_settings import (
    PARAM_FREQUENCY_CAP,
    PARAM_FREQUENCY_CAP_COUNT,
    PARAM_FREQUENCY_CAP_HOURS,
)

_logger = logging.getLogger(__name__)

SMS_MAX_PARTS = 10  # longer texts are refused (RELIABILITY row 7)
SMS_ESTIMATE_SAMPLE = 10  # recipients whose text is written to estimate the parts (issue 9)
# trace statuses of SMS that went out or will: they count towards the frequency cap
SMS_CAP_STATUSES = ("outgoing", "process", "pending", "sent", "open", "reply")
# advisory lock (pg_advisory_xact_lock(class, hashtext(number))) a build step holds on each
# number it checks against the frequency cap, until it commits (issue 16.5)
SMS_LOCK_NUMBER = 5160703


class MailingSmsProtections(models.AbstractModel):
    """SMS Mailing Protections, for ``mailing.mailing`` (which inherits it)."""

    _name = "mailing.sms.protections"
    _description = "SMS Mailing Protections"

    def _sms_check_ready_to_send(self):
        """Reject at send/schedule time what would fail for everyone (RELIABILITY rows 6, 12).

        A mailing whose build is under way passed it when its first chunk was built (its text
        and recipients' model no longer change): the next chunks skip it, and the sample of
        recipients it would write texts for (a query per chunk at a million recipients).
        """
        for mailing in self.filtered(lambda m: m.mailing_type == "sms" and not m.sms_build_pending):
            if not (mailing.body_plaintext or "").strip():
                raise UserError(
                    self.env._(
                        'The SMS mailing "%(name)s" has no text to send.', name=mailing.subject
                    )
                )
            parts = mailing._sms_estimate_parts()
            if parts > SMS_MAX_PARTS:
                raise UserError(
                    self.env._(
                        'The text of "%(name)s" takes %(parts)s SMS per recipient, more than the '
                        "%(limit)s allowed: shorten it (an SMS part holds 153 characters, or 67 "
                        "when the text has emojis or characters outside the GSM alphabet).",
                        name=mailing.subject,
                        parts=parts,
                        limit=SMS_MAX_PARTS,
                    )
                )
            mailing._sms_get_number_sources()

    def _sms_estimate_parts(self):
        """SMS parts of the longest text as sent: written for a sample of recipients, links
        at their short length, opt-out line included."""
        self.ensure_one()
        return self._sms_estimate_texts(self._sms_sample_recipients())["parts"]

    def _sms_estimate(self):
        """{recipients, parts, unicode, total}: what the next send will cost (issue 9); parts
        of the longest text, total parts with each recipient's footer (issue 29)."""
        self.ensure_one()
        query = self._sms_try_remaining_recipients_query()
        recipients, sample_ids = self._sms_count_remaining_recipients(query) if query else (0, [])
        texts = self._sms_estimate_texts(sample_ids)
        total = recipients * texts["parts"]
        link_parts, stop_parts = (texts["parts_by_footer"] + [0, 0])[:2]
        if recipients and stop_parts and stop_parts != link_parts:
            share = self._sms_stop_share(query)
            if share is not None:
                stop = round(recipients * share)
                total = stop * stop_parts + (recipients - stop) * link_parts
        return {"recipients": recipients, "total": total, **texts}

    def _sms_stop_share(self, query):
        """The share of the remaining recipients whose footer is "Reply STOP" (their number's
        country), read from their stored sanitized numbers; None when the model has none."""
        sanitized = self._sms_get_number_sources()[0]
        model = self.env[self.mailing_model_real]
        if not sanitized or not model._fields[sanitized].store:
            return None
        compliance = self._sms_compliance()
        model.flush_model([sanitized])
        self.env.cr.execute(
            SQL(
                "SELECT %s FROM %s WHERE id IN (SELECT id FROM (%s) AS remaining)",
                SQL.identifier(sanitized),
                SQL.identifier(model._table),
                query,
            )
        )
        rows = stop = 0
        while batch := self.env.cr.fetchmany(10000):
            rows += len(batch)
            stop += sum(1 for (number,) in batch if number and compliance.replies_stop(number))
        return stop / rows if rows else None

    def _sms_estimate_texts(self, sample_ids):
        """{parts, unicode, parts_by_footer} of the text written for ``sample_ids`` (as
        written without) with the brand prefix and each footer a recipient may get (the
        opt-out link's first, then "Reply STOP"): parts of the longest."""
        template = self.body_plaintext or ""
        if not template.strip():
            # nothing written yet: no part, whatever the opt-out line (Send refuses it)
            return {"parts": 0, "unicode": False, "parts_by_footer": []}
        placeholders = self.get_sms_link_replacements_placeholders()
        compliance = self._sms_compliance()
        footers = compliance.footers(self._sms_sample_opt_out_url())
        texts = [template]
        if sample_ids and PLACEHOLDER_PATTERN.search(template):
            try:
                texts = list(self._sms_render_template(template, sample_ids).values()) or texts
            except Exception:  # noqa: BLE001 - the send reports broken records one by one
                _logger.debug("SMS mailing %s: sample not rendered", self.id, exc_info=True)
        parts_by_footer = [0] * (len(footers) or 1)
        unicode = False
        for text in texts:
            text = compliance.prefixed(TEXT_URL.sub(placeholders["link"], text or ""))
            for index, footer in enumerate(footers or [""]):
                full = f"{text.rstrip()}\n{footer}" if footer else text
                parts_by_footer[index] = max(parts_by_footer[index], sms_parts_count(full))
                unicode = unicode or not sms_is_gsm7(full)
        return {
            "parts": max(parts_by_footer),
            "unicode": unicode,
            "parts_by_footer": parts_by_footer if footers else [],
        }

    def _sms_try_remaining_recipients_query(self):
        """``_sms_remaining_recipients_query``, or None while the recipients cannot be read
        (a domain being edited): the estimate then counts the text as written."""
        try:
            return self._sms_remaining_recipients_query()
        except Exception:  # noqa: BLE001 - any error of a domain: nothing to estimate yet
            _logger.debug("SMS mailing %s: recipients not readable", self.id, exc_info=True)
            return None

    def _sms_sample_recipients(self, query=None):
        """The first few recipients not traced yet, whose text the estimate writes; without
        ``query``, the next few the build takes (as cheap at a million recipients as at ten)."""
        if query is None:
            try:
                return self._sms_get_remaining_ids(limit=SMS_ESTIMATE_SAMPLE)
            except Exception:  # noqa: BLE001 - any error of a domain: nothing to sample yet
                _logger.debug("SMS mailing %s: recipients not readable", self.id, exc_info=True)
                return []
        return self._sms_fetch_remaining(query, SQL("TRUE"), SMS_ESTIMATE_SAMPLE)

    def _sms_count_remaining_recipients(self, query):
        """(recipients not traced yet, the first few of them), without reading every id."""
        self.env.cr.execute(SQL("SELECT COUNT(*) FROM (%s) AS remaining", query))
        count = self.env.cr.fetchone()[0]
        sample_ids = self._sms_sample_recipients(query)
        if self.ab_testing_enabled and not self.ab_testing_is_winner_mailing and count:
            count = max(int(count * self.ab_testing_pc / 100), 1)  # the share a test sends to
        return count, sample_ids

    def _sms_get_quiet_window(self):
        """(start, end) hours of the quiet window that applies to this mailing, or None."""
        self.ensure_one()
        if self.mailing_type != "sms" or self.sms_quiet_hours == "none":
            return None
        if self.sms_quiet_hours == "custom":
            start, end = self.sms_quiet_hours_start, self.sms_quiet_hours_end
        else:
            company = self.user_id.company_id or self.env.company
            if not company.sms_quiet_hours:
                return None
            start, end = company.sms_quiet_hours_start, company.sms_quiet_hours_end
        return (start, end) if start != end else None

    def _sms_get_frequency_cap(self):
        """(SMS per number, hours) of the frequency cap, or None when it is off."""
        params = self.env["ir.config_parameter"].sudo()
        if not str2bool(params.get_param(PARAM_FREQUENCY_CAP) or "0"):
            return None
        try:
            count = int(params.get_param(PARAM_FREQUENCY_CAP_COUNT) or 2)
            hours = int(params.get_param(PARAM_FREQUENCY_CAP_HOURS) or 24)
        except ValueError:
            return None
        return (count, hours) if count > 0 and hours > 0 else None

    def _sms_get_capped_numbers(self, numbers):
        """The ``numbers`` that already received as many marketing SMS from other mailings
        as the frequency cap allows within its hours: two queries per batch, on indexes."""
        cap = self._sms_get_frequency_cap()
        if not cap or not numbers:
            return set()
        self._sms_lock_numbers(numbers)
        count, hours = cap
        since = fields.Datetime.now() - timedelta(hours=hours)
        # mailings that may hold such SMS: still sending, or done within the window
        self.env["mailing.mailing"].flush_model(["mailing_type", "state", "sent_date"])
        self.env.cr.execute(
            SQL(
                """SELECT id FROM mailing_mailing
                    WHERE mailing_type = 'sms' AND id != %(mailing)s
                      AND (state IN ('in_queue', 'sending') OR sent_date >= %(since)s)""",
                mailing=self.id,
                since=since,
            )
        )
        recent_ids = [row[0] for row in self.env.cr.fetchall()]
        if not recent_ids:
            return set()
        self.env["mailing.trace"].flush_model()
        self.env.cr.execute(
            SQL(
                """SELECT sms_number FROM mailing_trace
                    WHERE mass_mailing_id = ANY(%(mailings)s) AND sms_number = ANY(%(numbers)s)
                      AND trace_type = 'sms' AND trace_status = ANY(%(statuses)s)
                      AND create_date >= %(since)s
                 GROUP BY sms_number HAVING COUNT(*) >= %(count)s""",
                mailings=recent_ids,
                numbers=list(numbers),
                statuses=list(SMS_CAP_STATUSES),
                since=since,
                count=count,
            )
        )
        return {row[0] for row in self.env.cr.fetchall()}

    def _sms_lock_numbers(self, numbers):
        """Wait until the build steps of other mailings that hold ``numbers`` committed, so
        that their SMS count against the cap (the step reads in READ COMMITTED, see
        ``_sms_next_build_step``). Locks are taken in the order of the numbers, the same for
        every build: two builds never wait for each other."""
        self.env.cr.execute(
            SQL(
                "SELECT pg_advisory_xact_lock(%s, hashtext(number))"
                " FROM unnest(%s::varchar[]) AS number",
                SMS_LOCK_NUMBER,
                sorted(numbers),
            )
        )
