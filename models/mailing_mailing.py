# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
import logging
import re
import threading
from datetime import timedelta
from uuid import uuid4

import phonenumbers

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.osv import expression
from odoo.tools import SQL, split_every, str2bool

from ..tools.quiet_hours import format_window
from .res_config_settings import (
    PARAM_FREQUENCY_CAP,
    PARAM_FREQUENCY_CAP_COUNT,
    PARAM_FREQUENCY_CAP_HOURS,
)

_logger = logging.getLogger(__name__)

SMS_BATCH_SIZE = 1000  # recipients turned into SMS and traces per transaction step
# technical rows of the queue, the SMS (deleted once sent) and their trackers, are inserted
# without author: each author column costs a foreign-key check per row (issue 7); traces,
# which marketers see, keep theirs
SMS_ROWS_WITHOUT_AUTHOR = ("sms.sms", "sms.tracker")
# a run that inserted at least this many rows refreshes the planner's statistics of the tables
# it filled when they hold much more than the statistics say (see _sms_refresh_statistics)
SMS_ANALYZE_MIN_ROWS = 5000
SMS_ANALYZE_TABLES = ("mailing_trace", "sms_sms", "sms_tracker")
# traces whose SMS has not left our queue or the provider's yet: the mailing is still sending
SMS_WAITING_STATUSES = ("outgoing", "process")
SMS_MAX_PARTS = 10  # longer texts are refused (RELIABILITY row 7)
SMS_ESTIMATE_SAMPLE = 10  # recipients whose text is written to estimate the parts (issue 9)
# trace statuses of SMS that went out or will: they count towards the frequency cap
SMS_CAP_STATUSES = ("outgoing", "process", "pending", "sent", "open", "reply")
# GSM 03.38: one septet a character for the basic set, two for the extension set
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")
TEXT_URL = re.compile(r"https?://\S+")
INTERNATIONAL_PREFIX = re.compile(r"^\s*(\+|00)")  # a number that names its own country
PLACEHOLDER_PATTERN = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)


def sanitize_number(number, country_code):
    """E.164 form of ``number`` or False; one parse for the common case of a valid number.

    Numbers that phonenumbers does not take at once (``00`` prefixes, missing ``+``,
    countries whose metadata Odoo patches) go through Odoo's own ``phone_format``.
    """
    try:
        parsed = phonenumbers.parse(number, country_code or None)
    except phonenumbers.NumberParseException:
        return False
    if phonenumbers.is_valid_number(parsed):
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return False


def set_fillfactor(cr, table, fillfactor):
    """Leave ``100 - fillfactor`` % of each new page of ``table`` free, so that an update
    of columns no index uses rewrites the row in place of adding an entry to every index
    (PostgreSQL's "HOT" updates). Pages written before keep their layout."""
    cr.execute(
        SQL(
            "SELECT 1 FROM pg_class WHERE relname = %s AND relkind = 'r'"
            " AND %s = ANY(COALESCE(reloptions, '{}'))",
            table,
            f"fillfactor={fillfactor}",
        )
    )
    if not cr.rowcount:
        cr.execute(SQL("ALTER TABLE %s SET (fillfactor = %s)", SQL.identifier(table), fillfactor))


def tag_short_links(pattern, body, sms_id):
    """``body`` with each short link matched by ``pattern`` followed by ``/s/<sms_id>``."""
    return pattern.sub(lambda link: f"{link[1]}/s/{sms_id}", body)


def sms_is_gsm7(text):
    """True when every character of ``text`` is in the GSM-7 alphabet."""
    return all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text)


def sms_parts_count(text):
    """Number of SMS parts ``text`` takes: GSM-7 (160 alone, 153 a part beyond) as long as
    every character is in GSM-7, else Unicode (70 alone, 67 a part beyond); none for an
    empty text (the counter of the form says the same)."""
    if not text:
        return 0
    if sms_is_gsm7(text):
        length = sum(2 if char in GSM7_EXTENSION else 1 for char in text)
        single, multi = 160, 153
    else:
        length = len(text.encode("utf-16-le")) // 2
        single, multi = 70, 67
    return 1 if length <= single else -(-length // multi)


class MailingMailing(models.Model):
    """SMS as a second channel of mass mailings (SPEC G2).

    The sending path reads top to bottom: recipients -> numbers -> filters (opt-out,
    missing, malformed, blacklisted, duplicate) -> bodies (render, short links, opt-out
    line) -> sms.sms + mailing.trace -> SMS queue.
    """

    _inherit = "mailing.mailing"

    mailing_type = fields.Selection(selection_add=[("sms", "SMS")], ondelete={"sms": "set default"})
    body_plaintext = fields.Text(
        "SMS Body",
        compute="_compute_body_plaintext",
        store=True,
        readonly=False,
        copy=True,
        help="Text of the SMS; placeholders like {{ object.name }} are filled per recipient.",
    )
    sms_subject = fields.Char(
        "Title",
        related="subject",
        readonly=False,
        help="Internal title of the SMS mailing, shown in lists and reports.",
    )
    sms_template_id = fields.Many2one(
        "sms.template",
        "SMS Template",
        ondelete="set null",
        domain="[('model', '=', mailing_model_real)]",
        help="Start from this template: choosing it fills the SMS body.",
    )
    sms_allow_unsubscribe = fields.Boolean(
        "Include opt-out link",
        help="Adds a short link to a page where the recipient can stop receiving SMS.",
    )
    sms_force_send = fields.Boolean(
        "Send Directly",
        help="Hand the SMS to the provider at once instead of leaving them to the SMS queue.",
    )
    sms_has_insufficient_credit = fields.Boolean(
        "Insufficient SMS credits",
        compute="_compute_sms_has_iap_failure",
        help="Some SMS of this mailing could not be sent for lack of credits.",
    )
    sms_has_unregistered_account = fields.Boolean(
        "Unregistered SMS account",
        compute="_compute_sms_has_iap_failure",
        help="Some SMS of this mailing could not be sent because the SMS account is not registered.",
    )
    sms_country_guessed_count = fields.Integer(
        "Numbers Without Country Code",
        compute="_compute_sms_country_guessed_count",
        help="Recipients whose number had no country code and was read with their country, "
        "their contact's or the company's (RELIABILITY row 3).",
    )
    # issue 9: what a send will cost, before it starts
    sms_estimate_recipients = fields.Integer(
        "Recipients (estimate)",
        compute="_compute_sms_estimate",
        help="Recipients the next send targets, before opt-outs, duplicates and invalid "
        "numbers are removed.",
    )
    sms_estimate_parts = fields.Integer(
        "SMS Parts per Message",
        compute="_compute_sms_estimate",
        help="Parts the longest text takes, written for a sample of recipients, with links "
        "at their short length and the opt-out line.",
    )
    sms_estimate_encoding = fields.Selection(
        [("gsm7", "GSM-7"), ("unicode", "Unicode")],
        "SMS Encoding",
        compute="_compute_sms_estimate",
        help="GSM-7: 160 characters, 153 a part when longer. Unicode (emojis, characters "
        "outside the GSM alphabet): 70, 67 a part when longer.",
    )
    sms_estimate_total_parts = fields.Integer(
        "Estimated SMS Parts",
        compute="_compute_sms_estimate",
        help="Recipients x parts per message: what the provider will bill at most.",
    )
    # issue 9: quiet hours, in the recipient's local time
    sms_quiet_hours = fields.Selection(
        [
            ("company", "Company Setting"),
            ("custom", "Custom Window"),
            ("none", "Send at Any Time"),
        ],
        "Quiet Hours",
        default="company",
        required=True,
        help="SMS due in the window (recipient's local time, from the country of the number) "
        "wait in the queue and go out when it ends.",
    )
    sms_quiet_hours_start = fields.Float("Quiet From", default=21.0)
    sms_quiet_hours_end = fields.Float("Quiet To", default=9.0)
    sms_quiet_window = fields.Char(
        "Quiet Window", compute="_compute_sms_quiet_window", help="The window that applies."
    )
    sms_quiet_count = fields.Integer(
        "Held for Quiet Hours",
        compute="_compute_sms_quiet_count",
        help="SMS waiting in the queue for their recipient's quiet hours to end.",
    )
    sms_quiet_until = fields.Datetime(
        "Held Until",
        compute="_compute_sms_quiet_count",
        help="When the last SMS held for quiet hours goes out.",
    )
    sms_frequency_capped_count = fields.Integer(
        "Skipped by the Frequency Cap",
        compute="_compute_sms_frequency_capped_count",
        help="Recipients skipped: their number already received the most marketing SMS the "
        "frequency cap allows.",
    )
    ab_testing_sms_winner_selection = fields.Selection(
        related="campaign_id.ab_testing_sms_winner_selection",
        readonly=False,
        copy=True,
        default="clicks_ratio",
    )

    # ------------------------------------------------------------
    # COMPUTE
    # ------------------------------------------------------------

    @api.depends("mailing_type")
    def _compute_medium_id(self):
        super()._compute_medium_id()
        sms_mailings = self.filtered(lambda m: m.mailing_type == "sms" and not m.medium_id)
        if sms_mailings:
            sms_mailings.medium_id = self.env["utm.medium"]._fetch_or_create_utm_medium(
                "sms", module="mass_mailing_sms"
            )

    @api.depends("sms_template_id")
    def _compute_body_plaintext(self):
        for mailing in self:
            if mailing.sms_template_id:
                mailing.body_plaintext = mailing.sms_template_id.body
            else:
                mailing.body_plaintext = mailing.body_plaintext  # keep what was written

    def _compute_sms_has_iap_failure(self):
        self.sms_has_insufficient_credit = False
        self.sms_has_unregistered_account = False
        sms_mailings = self.filtered(lambda m: m.mailing_type == "sms" and m.id)
        if not sms_mailings:
            return
        groups = (
            self.env["mailing.trace"]
            .sudo()
            ._read_group(
                [
                    ("mass_mailing_id", "in", sms_mailings.ids),
                    ("trace_type", "=", "sms"),
                    ("trace_status", "=", "error"),
                    ("failure_type", "in", ("sms_credit", "sms_acc")),
                ],
                ["mass_mailing_id", "failure_type"],
            )
        )
        for mailing, failure_type in groups:
            if failure_type == "sms_credit":
                mailing.sms_has_insufficient_credit = True
            else:
                mailing.sms_has_unregistered_account = True

    def _compute_sms_country_guessed_count(self):
        groups = (
            self.env["mailing.trace"]
            .sudo()
            ._read_group(
                [("mass_mailing_id", "in", self.ids), ("sms_country_guessed", "=", True)],
                ["mass_mailing_id"],
                ["__count"],
            )
        )
        counts = dict(groups)
        for mailing in self:
            mailing.sms_country_guessed_count = counts.get(mailing._origin, 0)

    @api.depends(
        "mailing_type",
        "state",
        "body_plaintext",
        "sms_allow_unsubscribe",
        "mailing_model_real",
        "mailing_domain",
        "contact_list_ids",
        "ab_testing_enabled",
        "ab_testing_pc",
    )
    def _compute_sms_estimate(self):
        for mailing in self:
            estimate = {"recipients": 0, "parts": 0, "unicode": False}
            # a sent mailing has nothing left to estimate (its form hides the estimate)
            if (
                mailing.mailing_type == "sms"
                and mailing.mailing_model_real
                and mailing.state != "done"
            ):
                estimate = mailing._sms_estimate()
            mailing.sms_estimate_recipients = estimate["recipients"]
            mailing.sms_estimate_parts = estimate["parts"]
            mailing.sms_estimate_encoding = "unicode" if estimate["unicode"] else "gsm7"
            mailing.sms_estimate_total_parts = estimate["recipients"] * estimate["parts"]

    @api.depends("sms_quiet_hours", "sms_quiet_hours_start", "sms_quiet_hours_end", "user_id")
    def _compute_sms_quiet_window(self):
        for mailing in self:
            window = mailing._sms_get_quiet_window()
            mailing.sms_quiet_window = format_window(*window) if window else False

    def _compute_sms_quiet_count(self):
        self.sms_quiet_count = 0
        self.sms_quiet_until = False
        sms_mailings = self.filtered(lambda m: m.mailing_type == "sms" and m.id)
        if not sms_mailings:
            return
        groups = (
            self.env["sms.sms"]
            .sudo()
            ._read_group(
                [
                    ("mailing_id", "in", sms_mailings.ids),
                    ("state", "=", "outgoing"),
                    ("sms_quiet_until", ">", fields.Datetime.now()),
                ],
                ["mailing_id"],
                ["__count", "sms_quiet_until:max"],
            )
        )
        for mailing, count, until in groups:
            mailing.sms_quiet_count = count
            mailing.sms_quiet_until = until

    def _compute_sms_frequency_capped_count(self):
        groups = (
            self.env["mailing.trace"]
            .sudo()
            ._read_group(
                [
                    ("mass_mailing_id", "in", self.ids),
                    ("trace_type", "=", "sms"),
                    ("failure_type", "=", "sms_frequency_cap"),
                ],
                ["mass_mailing_id"],
                ["__count"],
            )
        )
        counts = dict(groups)
        for mailing in self:
            mailing.sms_frequency_capped_count = counts.get(mailing._origin, 0)

    # ------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            mailing_type = vals.get("mailing_type") or self.env.context.get("default_mailing_type")
            if mailing_type == "sms" and not vals.get("subject") and vals.get("sms_subject"):
                vals["subject"] = vals["sms_subject"]
        return super().create(vals_list)

    def write(self, vals):
        if vals.get("state") == "done" and self.env.context.get("mass_mailing_sms_queue"):
            # The email queue marks a mailing done once every recipient has a trace; an SMS
            # mailing stays "sending" until its SMS have left our queue (SPEC G3).
            waiting = self._sms_filter_waiting()
            if waiting:
                super(MailingMailing, waiting).write({"state": "sending"})
                others = self - waiting
                return super(MailingMailing, others).write(vals) if others else True
        return super().write(vals)

    @api.onchange("mailing_type", "mailing_model_id")
    def _onchange_sms_mailing_model_id(self):
        """Warn as soon as the marketer picks recipients that cannot receive SMS (RELIABILITY 12)."""
        if self.mailing_type != "sms" or not self.mailing_model_real:
            return None
        try:
            self._sms_get_number_sources()
        except UserError as error:
            return {"warning": {"title": self.env._("No phone number"), "message": str(error)}}
        return None

    @api.onchange("sms_quiet_hours")
    def _onchange_sms_quiet_hours(self):
        """A custom window starts from the company's."""
        company = self.user_id.company_id or self.env.company
        if self.sms_quiet_hours == "custom" and company.sms_quiet_hours:
            self.sms_quiet_hours_start = company.sms_quiet_hours_start
            self.sms_quiet_hours_end = company.sms_quiet_hours_end

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_test(self):
        if self.mailing_type != "sms":
            return super().action_test()
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Test SMS Marketing"),
            "res_model": "mailing.sms.test",
            "view_mode": "form",
            "target": "new",
            "context": dict(self.env.context, default_mailing_id=self.id, dialog_size="medium"),
        }

    def action_put_in_queue(self):
        self._sms_check_ready_to_send()
        return super().action_put_in_queue()

    def action_schedule(self):
        self._sms_check_ready_to_send()
        return super().action_schedule()

    def action_sms_confirm_send(self):
        """Send Now of an SMS mailing: a confirmation showing what the send will cost (A4,
        issue 9)."""
        self.ensure_one()
        self._sms_check_ready_to_send()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Send the SMS Text Message?"),
            "res_model": "mailing.sms.send.confirm",
            "view_mode": "form",
            "target": "new",
            "context": {"default_mailing_id": self.id, "dialog_size": "medium"},
        }

    def action_retry_failed(self):
        """Retry SMS that failed on our side or the provider's, never those it accepted (C2)."""
        sms_mailings = self.filtered(lambda m: m.mailing_type == "sms")
        if sms_mailings:
            sms_mailings._sms_retry_failed()
        other_mailings = self - sms_mailings
        if other_mailings:
            return super(MailingMailing, other_mailings).action_retry_failed()
        return True

    def _action_view_traces_filtered(self, view_filter):
        """SMS recipients are listed with the number each SMS went to (SPEC A1, A2)."""
        action = super()._action_view_traces_filtered(view_filter)
        if self.mailing_type == "sms":
            action["name"] = self.env._("SMS Sent")
            action["views"] = [
                (self.env.ref("mass_mailing_sms.mailing_trace_view_tree_sms").id, "list"),
                (self.env.ref("mass_mailing_sms.mailing_trace_view_form_sms").id, "form"),
            ]
        return action

    def action_view_traces_delivered(self):
        """The SMS a delivery report (or a click) confirmed: Odoo's "Delivered" (SPEC C3)."""
        return self._action_view_traces_filtered("sms_delivered")

    def action_buy_sms_credits(self):
        url = self.env["iap.account"].sudo().get_credits_url(service_name="sms")
        return {"type": "ir.actions.act_url", "url": url, "target": "new"}

    def action_send_mail(self, res_ids=None):
        if self and all(mailing.mailing_type == "sms" for mailing in self):
            return self.action_send_sms(res_ids=res_ids)
        return super().action_send_mail(res_ids=res_ids)

    def _action_send_mail(self, res_ids=None):
        sms_mailings = self.filtered(lambda m: m.mailing_type == "sms")
        other_mailings = self - sms_mailings
        not_ready = self.browse()
        for mailing in sms_mailings:
            # called by the queue cron: a mailing that cannot be sent goes back to draft
            # with a note instead of failing the cron for every other mailing
            try:
                mailing._sms_check_ready_to_send()
            except UserError as error:
                _logger.warning("SMS mailing %s not sent: %s", mailing.id, error)
                mailing._message_log(body=str(error))
                mailing.state = "draft"
                not_ready |= mailing
        sms_mailings -= not_ready
        if sms_mailings:
            sms_mailings._sms_send(res_ids=res_ids)  # checked just above
        if other_mailings:
            return super(MailingMailing, other_mailings)._action_send_mail(res_ids=res_ids)
        return True

    # ------------------------------------------------------------
    # SENDING: checks
    # ------------------------------------------------------------

    def _sms_check_ready_to_send(self):
        """Reject at send/schedule time what would fail for everyone (RELIABILITY rows 6, 12)."""
        for mailing in self.filtered(lambda m: m.mailing_type == "sms"):
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
        """{recipients, parts, unicode}: what the next send will cost (issue 9)."""
        self.ensure_one()
        query = self._sms_try_remaining_recipients_query()
        recipients, sample_ids = self._sms_count_remaining_recipients(query) if query else (0, [])
        return {"recipients": recipients, **self._sms_estimate_texts(sample_ids)}

    def _sms_estimate_texts(self, sample_ids):
        """{parts, unicode} of the text written for ``sample_ids`` (as written without)."""
        template = self.body_plaintext or ""
        if not template.strip():
            # nothing written yet: no part, whatever the opt-out line (Send refuses it)
            return {"parts": 0, "unicode": False}
        placeholders = self.get_sms_link_replacements_placeholders()
        texts = [template]
        if sample_ids and PLACEHOLDER_PATTERN.search(template):
            try:
                texts = list(self._sms_render_template(template, sample_ids).values()) or texts
            except Exception:  # noqa: BLE001 - the send reports broken records one by one
                _logger.debug("SMS mailing %s: sample not rendered", self.id, exc_info=True)
        parts, unicode = 0, False
        for text in texts:
            text = TEXT_URL.sub(placeholders["link"], text or "")
            if self.sms_allow_unsubscribe:
                text = text.rstrip() + placeholders["unsubscribe"]
            parts = max(parts, sms_parts_count(text))
            unicode = unicode or not sms_is_gsm7(text)
        return {"parts": parts, "unicode": unicode}

    def _sms_try_remaining_recipients_query(self):
        """``_sms_remaining_recipients_query``, or None while the recipients cannot be read
        (a domain being edited): the estimate then counts the text as written."""
        try:
            return self._sms_remaining_recipients_query()
        except Exception:  # noqa: BLE001 - any error of a domain: nothing to estimate yet
            _logger.debug("SMS mailing %s: recipients not readable", self.id, exc_info=True)
            return None

    def _sms_sample_recipients(self, query=None):
        """The first few recipients not traced yet, whose text the estimate writes."""
        query = query or self._sms_try_remaining_recipients_query()
        if not query:
            return []
        self.env.cr.execute(SQL("%s ORDER BY recipient.id LIMIT %s", query, SMS_ESTIMATE_SAMPLE))
        return [row[0] for row in self.env.cr.fetchall()]

    def _sms_count_remaining_recipients(self, query):
        """(recipients not traced yet, the first few of them), without reading every id."""
        self.env.cr.execute(SQL("SELECT COUNT(*) FROM (%s) AS remaining", query))
        count = self.env.cr.fetchone()[0]
        sample_ids = self._sms_sample_recipients(query)
        if self.ab_testing_enabled and not self.ab_testing_is_winner_mailing and count:
            count = max(int(count * self.ab_testing_pc / 100), 1)  # the share a test sends to
        return count, sample_ids

    # ------------------------------------------------------------
    # SENDING: protections (issue 9)
    # ------------------------------------------------------------

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

    def _sms_get_number_sources(self):
        """Where the numbers of the target model come from; UserError if it has none."""
        self.ensure_one()
        model = self.env[self.mailing_model_real]
        sanitized = "phone_sanitized" if "phone_sanitized" in model._fields else False
        number_fields = [
            fname for fname in model._phone_get_number_fields() if fname in model._fields
        ]
        # one contact per record: a many2many to contacts alone is not a number (COMPAT,
        # test_mass_mailing's test_mass_sms_partner_only_m2m expects the UserError below)
        partner_fields = [
            fname
            for fname in model._mail_get_partner_fields()
            if fname in model._fields
            and model._fields[fname].type == "many2one"
            and model._fields[fname].comodel_name == "res.partner"
        ]
        if not (sanitized or number_fields or partner_fields):
            raise UserError(
                self.env._(
                    "%(model)s records have no phone number: choose recipients with a mobile or "
                    "phone field (or linked to a contact) to send them SMS.",
                    model=self.env["ir.model"]._get(model._name).display_name,
                )
            )
        return sanitized, number_fields, partner_fields

    # ------------------------------------------------------------
    # SENDING: from recipients to SMS and traces
    # ------------------------------------------------------------

    def action_send_sms(self, res_ids=None):
        """Create one trace per recipient (and an SMS for those who can get one), then queue.

        Recipients that already have a trace in the mailing are skipped, so running it twice
        (or the queue cron twice) sends nothing twice; a unique index backs this up.

        :param list res_ids: recipients to send to; default: those not yet traced.
        """
        self._sms_check_ready_to_send()
        return self._sms_send(res_ids=res_ids)

    def _sms_send(self, res_ids=None):
        """``action_send_sms`` once the mailings are known to be ready to send."""
        auto_commit = not getattr(threading.current_thread(), "testing", False)
        for mailing in self:
            context_user = mailing.user_id or mailing.write_uid or self.env.user
            mailing = mailing.with_context(
                **self.env["res.users"].with_user(context_user).context_get()
            )
            recipient_ids = res_ids or mailing._get_remaining_recipients()
            sms_ids = []
            opt_out_ids = mailing._sms_get_opt_out_ids()
            # links of the text shortened once for the whole run, not once per batch
            template = mailing._sms_shorten_template_links(mailing.body_plaintext or "")
            inserted = analyzed = 0  # rows this run inserted, when statistics were last checked
            for batch_ids in split_every(SMS_BATCH_SIZE, recipient_ids, list):
                sms_ids += mailing._sms_send_batch(batch_ids, opt_out_ids, template=template).ids
                inserted += len(batch_ids)
                if inserted >= max(SMS_ANALYZE_MIN_ROWS, 2 * analyzed):
                    mailing._sms_refresh_statistics(inserted)
                    analyzed = inserted
                if auto_commit:
                    # each batch is its own transaction: SMS and traces are saved before
                    # anything reaches the provider (RELIABILITY "exactly-once" 2, 6)
                    self.env.cr.commit()  # pylint: disable=invalid-commit
            if inserted > analyzed:
                mailing._sms_refresh_statistics(inserted)
            mailing._sms_dispatch(self.env["sms.sms"].browse(sms_ids))
            mailing._sms_update_mailing_state()
        return True

    def _get_remaining_recipients(self):
        """SMS recipients not traced yet, in one query (no list of every id in the domain)."""
        if self.mailing_type != "sms" or self.ab_testing_enabled:
            return super()._get_remaining_recipients()
        self.env.cr.execute(SQL("%s ORDER BY recipient.id", self._sms_remaining_recipients_query()))
        return [row[0] for row in self.env.cr.fetchall()]

    def _sms_remaining_recipients_query(self):
        """SELECT of the ids of recipients targeted and not traced yet in this mailing."""
        model = self.env[self.mailing_model_real]
        query = model._search(self._get_recipients_domain())
        self.env["mailing.trace"].flush_model(["mass_mailing_id", "model", "res_id"])
        return SQL(
            """SELECT recipient.id FROM %(table)s AS recipient
                WHERE recipient.id IN %(recipients)s
                  AND NOT EXISTS (SELECT 1 FROM mailing_trace AS trace
                                   WHERE trace.mass_mailing_id = %(mailing)s
                                     AND trace.model = %(model)s
                                     AND trace.res_id = recipient.id)""",
            table=SQL.identifier(model._table),
            recipients=query.subselect(),
            mailing=self._origin.id or 0,
            model=model._name,
        )

    def _sms_send_batch(self, res_ids, opt_out_ids, template=None):
        """Build traces and SMS for one batch of recipient ids; returns the SMS created.

        ``template`` is the text with its links already shortened (computed when not given).

        A fixed number of queries per batch, whatever its size: records and numbers are
        read together, checks are set operations, SMS, trackers and traces are inserted
        in one statement each (issue 7).
        """
        self.ensure_one()
        records = self.env[self.mailing_model_real].browse(res_ids).exists()
        records -= records.browse(self._sms_get_traced_ids(records.ids))
        if not records:
            return self.env["sms.sms"]
        recipients = self._sms_get_recipients_numbers(records)
        numbers = {info["sanitized"] for info in recipients.values() if info["sanitized"]}
        blacklisted = self._sms_get_blacklisted_numbers(numbers)
        seen = self._sms_get_seen_numbers(numbers)  # {number: (model, res_id) that got it}
        capped = self._sms_get_capped_numbers(numbers - set(seen) - blacklisted)

        skipped = {}  # res_id: (status, failure_type)
        duplicate_of = {}  # res_id: (model, res_id) of the recipient who keeps the SMS
        to_send_ids = []
        for res_id in records.ids:
            info = recipients[res_id]
            number = info["sanitized"]
            if res_id in opt_out_ids:
                skipped[res_id] = ("cancel", "sms_optout")
            elif not info["number"]:
                skipped[res_id] = ("cancel", "sms_number_missing")
            elif not number:
                skipped[res_id] = ("bounce", "sms_number_format")
            elif number in blacklisted:
                skipped[res_id] = ("cancel", "sms_blacklist")
            elif number in seen:
                skipped[res_id] = ("cancel", "sms_duplicate")
                duplicate_of[res_id] = seen[number]
            elif number in capped:
                skipped[res_id] = ("cancel", "sms_frequency_cap")
            else:
                seen[number] = (records._name, res_id)
                to_send_ids.append(res_id)

        bodies, render_errors = self._sms_render_bodies(
            records.browse(to_send_ids), template=template
        )
        traces_values = [
            self._sms_prepare_trace_values(res_id, recipients[res_id], status, failure_type)
            for res_id, (status, failure_type) in skipped.items()
        ]
        duplicate_reasons = self._sms_get_duplicate_reasons(duplicate_of)
        for values in traces_values:
            if values["res_id"] in duplicate_reasons:
                values["failure_reason"] = duplicate_reasons[values["res_id"]]
        for res_id, error in render_errors.items():
            values = self._sms_prepare_trace_values(res_id, recipients[res_id], "error", "unknown")
            values["failure_reason"] = error
            traces_values.append(values)

        send_ids = [res_id for res_id in to_send_ids if res_id in bodies]
        sms_ids = self._sms_reserve_ids("sms_sms", len(send_ids))
        link_pattern = self._sms_short_link_pattern()
        base_url = self.get_base_url()
        sms_values, tracker_values = [], []
        for res_id, sms_id in zip(send_ids, sms_ids, strict=True):
            trace_values = self._sms_prepare_trace_values(res_id, recipients[res_id], "outgoing")
            body = bodies[res_id]
            if link_pattern:  # each short link carries the SMS id (C9)
                body = tag_short_links(link_pattern, body, sms_id)
            if self.sms_allow_unsubscribe:
                body = self._sms_add_unsubscribe_line(body, trace_values["sms_code"], base_url)
            sms_uuid = uuid4().hex
            sms_values.append(
                {
                    "id": sms_id,
                    "uuid": sms_uuid,
                    "body": body,
                    "number": recipients[res_id]["sanitized"],
                    "partner_id": recipients[res_id]["partner"].id or None,
                    "mailing_id": self.id,
                    "state": "outgoing",
                }
            )
            trace_values["sms_id_int"] = sms_id
            traces_values.append(trace_values)
            tracker_values.append({"sms_uuid": sms_uuid})

        self._sms_insert_rows("sms.sms", sms_values)
        trace_ids = self._sms_insert_rows("mailing.trace", traces_values)
        # trackers of the traces that got an SMS (inserted last, in the same order)
        sms_trace_ids = trace_ids[len(trace_ids) - len(tracker_values) :]
        for values, trace_id in zip(tracker_values, sms_trace_ids, strict=True):
            values["mailing_trace_id"] = trace_id
        self._sms_insert_rows("sms.tracker", tracker_values)
        sms_records = self.env["sms.sms"].browse(sms_ids)
        self._sms_notify_created(sms_records)
        return sms_records

    def _sms_refresh_statistics(self, inserted):
        """ANALYZE the tables a run fills when it inserted more rows than PostgreSQL's
        statistics say they hold (as PostgreSQL advises after a bulk load).

        Autovacuum refreshes them about a minute after a table grew; until then the planner
        takes a table that went from a few rows to 100,000 for a small one and picks plans
        that read every queued SMS or trace per batch (claims, re-checks, duplicate checks),
        so that a large campaign slowed down as it went (issue 7). A table whose statistics
        already count at least half as many rows is left alone: its plans do not change.
        """
        self.env.cr.execute(
            SQL(
                "SELECT relname FROM pg_class WHERE relname = ANY(%s) AND relkind = 'r'"
                " AND reltuples < %s",
                list(SMS_ANALYZE_TABLES),
                inserted / 2,
            )
        )
        for (table,) in self.env.cr.fetchall():
            # a table this user does not own is skipped with a warning, not an error
            self.env.cr.execute(SQL("ANALYZE %s", SQL.identifier(table)))

    def _sms_notify_created(self, sms_records):
        """Hook called with the SMS this mailing inserted in bulk (the tests' gateway mock
        records them, as it records the SMS created through the ORM)."""

    def _sms_short_link_pattern(self):
        """Regex of this database's short links (``<base>/r/<code>``), to tag them per SMS."""
        base_url = self[:1].get_base_url() or ""
        if not base_url:
            return None
        return re.compile(rf"({re.escape(base_url.rstrip('/') + '/r/')}[\w-]+)(?![\w/-])")

    def _sms_reserve_ids(self, table, count):
        """``count`` new ids of ``table``, so that SMS bodies can name their SMS at insert."""
        if not count:
            return []
        self.env.cr.execute(
            SQL(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                table,
                count,
            )
        )
        return [row[0] for row in self.env.cr.fetchall()]

    def _sms_insert_rows(self, model_name, vals_list):
        """Insert rows of ``model_name`` in one statement; returns their ids in order.

        Used on the sending path only, for records without side effects (SMS, traces,
        trackers): columns not given take the model's defaults, computed once per call, so
        values that must differ per row (uuid, codes) are always passed explicitly.
        """
        if not vals_list:
            return []
        model = self.env[model_name].sudo()
        columns = [
            name
            for name, field in model._fields.items()
            if field.store and field.column_type and name != "id"
        ]
        given = set().union(*vals_list)
        defaults = model.default_get([name for name in columns if name not in given])
        now = self.env.cr.now()
        magic = {"create_date": now, "write_date": now}
        if model_name not in SMS_ROWS_WITHOUT_AUTHOR:
            magic.update(create_uid=self.env.uid, write_uid=self.env.uid)
        if model_name == "mailing.trace":
            magic["campaign_id"] = self.campaign_id.id or None
        names = [
            name for name in ("id", *columns) if name in given or name in defaults or name in magic
        ]
        arrays = []  # one array per column: the statement's size does not grow with the rows
        for name in names:
            field = model._fields[name]
            default = magic.get(name, defaults.get(name))
            values = [vals.get(name, default) for vals in vals_list]
            if field.type != "boolean":
                values = [None if value is False else value for value in values]
            column_type = "int4" if name == "id" else field.column_type[1]
            arrays.append(SQL("%s::%s[]", values, SQL(column_type)))
        model.flush_model()
        self.env.cr.execute(
            SQL(
                "INSERT INTO %s (%s) SELECT * FROM unnest(%s) RETURNING id",
                SQL.identifier(model._table),
                SQL(", ").join(SQL.identifier(name) for name in names),
                SQL(", ").join(arrays),
            )
        )
        ids = [row[0] for row in self.env.cr.fetchall()]
        model.invalidate_model()
        return ids

    def _sms_prepare_trace_values(self, res_id, recipient, status, failure_type=False):
        return {
            "trace_type": "sms",
            "mass_mailing_id": self.id,
            "model": self.mailing_model_real,
            "res_id": res_id,
            "sms_number": recipient["sanitized"] or recipient["number"] or False,
            "sms_country_guessed": bool(
                recipient["sanitized"]
                and recipient["number"]
                and not INTERNATIONAL_PREFIX.match(recipient["number"])
            ),
            "sms_code": self.env["mailing.trace"]._sms_generate_code(),
            "trace_status": status,
            "failure_type": failure_type,
        }

    def _sms_get_duplicate_reasons(self, duplicate_of):
        """{res_id: text naming the recipient who got the SMS instead} (RELIABILITY row 20)."""
        kept_ids = {}
        for model, res_id in duplicate_of.values():
            kept_ids.setdefault(model, set()).add(res_id)
        names = {}
        for model, res_ids in kept_ids.items():
            for kept in self.env[model].sudo().browse(list(res_ids)).exists():
                names[model, kept.id] = kept.display_name
        return {
            res_id: self.env._(
                "Same number as %(recipient)s, who receives the SMS.",
                recipient=names.get(kept, "#%s" % kept[1]),
            )
            for res_id, kept in duplicate_of.items()
        }

    def _sms_get_traced_ids(self, res_ids):
        """Recipients of this batch that already have a trace in this mailing."""
        self.env["mailing.trace"].flush_model(["mass_mailing_id", "model", "res_id"])
        self.env.cr.execute(
            SQL(
                """SELECT res_id FROM mailing_trace
                    WHERE mass_mailing_id = %s AND model = %s AND res_id = ANY(%s)""",
                self.id,
                self.mailing_model_real,
                list(res_ids),
            )
        )
        return [row[0] for row in self.env.cr.fetchall()]

    def _sms_get_recipients_numbers(self, records):
        """{res_id: {number, sanitized (E.164 or False), partner}} for ``records``.

        The number comes from the record's own phone fields first, then from its contacts;
        numbers without country code are read with the record's country, else its
        contact's, else the company's (RELIABILITY row 3).
        """
        sanitized_fname, number_fields, partner_fields = self._sms_get_number_sources()
        fast = self._sms_read_own_numbers(records, sanitized_fname, number_fields)
        if fast is not None:
            return fast
        countries = records._phone_get_country()
        company_country = self.env.company.country_id
        no_partner = self.env["res.partner"]
        formatted = {}  # (number, country id): E.164 or False, parsed once per batch

        def sanitize(number, country):
            country = country or company_country
            key = (number, country.id)
            if key not in formatted:
                formatted[key] = sanitize_number(number, country.code) or (
                    records._phone_format_number(number, country)
                )
            return formatted[key]

        result = {}
        for record in records:
            partners = no_partner
            for fname in partner_fields:
                partners |= record[fname]
            partner = partners[:1]
            if not partner and record._name == "res.partner":
                partner = record
            number = next((record[fname] for fname in number_fields if record[fname]), False)
            sanitized = sanitized_fname and record[sanitized_fname]
            country = countries.get(record.id) or partner.country_id
            if number and not sanitized:
                sanitized = sanitize(number, country)
            if not number:
                for candidate in partners:
                    number = candidate.mobile or candidate.phone
                    if number:
                        partner = candidate
                        sanitized = candidate.phone_sanitized or sanitize(
                            number, country or candidate.country_id
                        )
                        break
            result[record.id] = {"number": number, "sanitized": sanitized, "partner": partner}
        return result

    def _sms_read_own_numbers(self, records, sanitized_fname, number_fields):
        """Fast path of ``_sms_get_recipients_numbers`` for models whose numbers and country
        are plain columns and that have no contact to fall back on (mailing list contacts,
        most imported models): one query for the batch. None when it does not apply.
        """
        model = self.env[records._name]
        country_fname = model._phone_get_country_field()
        fnames = [*number_fields, sanitized_fname, country_fname]
        fnames = [fname for fname in fnames if fname]
        if model._mail_get_partner_fields() or not all(
            model._fields[fname].store and model._fields[fname].column_type for fname in fnames
        ):
            return None
        model.flush_model(fnames)
        self.env.cr.execute(
            SQL(
                "SELECT id, %s FROM %s WHERE id = ANY(%s)",
                SQL(", ").join(SQL.identifier(fname) for fname in fnames),
                SQL.identifier(model._table),
                records.ids,
            )
        )
        rows = self.env.cr.fetchall()
        country_ids = {row[-1] for row in rows if country_fname and row[-1]}
        codes = {
            country.id: country.code for country in self.env["res.country"].browse(country_ids)
        }
        company_code = self.env.company.country_id.code
        no_partner = self.env["res.partner"]
        is_partner = records._name == "res.partner"  # the recipient is the contact itself
        formatted = {}
        result = {}
        for row in rows:
            values = dict(zip(fnames, row[1:], strict=True))
            number = next((values[fname] for fname in number_fields if values[fname]), False)
            sanitized = sanitized_fname and values[sanitized_fname]
            if number and not sanitized:
                code = (country_fname and codes.get(values[country_fname])) or company_code
                if (number, code) not in formatted:
                    formatted[number, code] = sanitize_number(number, code) or (
                        model._phone_format_number(
                            number, self.env["res.country"].search([("code", "=", code)], limit=1)
                        )
                    )
                sanitized = formatted[number, code]
            partner = records.browse(row[0]) if is_partner else no_partner
            result[row[0]] = {"number": number, "sanitized": sanitized, "partner": partner}
        return result

    def _sms_get_blacklisted_numbers(self, numbers):
        """The ``numbers`` (E.164) on the active phone blacklist, in one query."""
        if not numbers:
            return set()
        self.env["phone.blacklist"].flush_model(["number", "active"])
        self.env.cr.execute(
            SQL(
                "SELECT number FROM phone_blacklist WHERE active AND number = ANY(%s)",
                list(numbers),
            )
        )
        return {row[0] for row in self.env.cr.fetchall()}

    def _sms_get_seen_numbers(self, numbers):
        """{number: (model, res_id)} of ``numbers`` this mailing (or its A/B test siblings)
        already sent to."""
        if not numbers:
            return {}
        mailing_ids = {self.id}
        if self.ab_testing_enabled and self.campaign_id:
            mailing_ids.update(self._get_ab_testing_siblings_mailings().ids)
        self.env["mailing.trace"].flush_model()
        self.env.cr.execute(
            SQL(
                """SELECT DISTINCT ON (sms_number) sms_number, model, res_id FROM mailing_trace
                    WHERE mass_mailing_id = ANY(%s) AND trace_type = 'sms'
                      AND sms_number = ANY(%s) AND trace_status NOT IN ('cancel', 'bounce')
                 ORDER BY sms_number, id""",
                list(mailing_ids),
                list(numbers),
            )
        )
        return {number: (model, res_id) for number, model, res_id in self.env.cr.fetchall()}

    def _sms_get_opt_out_ids(self):
        """Recipient ids opted out, from the target model's hook (COMPAT)."""
        self.ensure_one()
        model = self.env[self.mailing_model_name]
        if hasattr(model, "_mailing_get_opt_out_list_sms"):
            return set(model._mailing_get_opt_out_list_sms(self))
        return set()

    def _sms_render_bodies(self, records, template=None):
        """({res_id: body}, {res_id: error}): one broken record does not stop the others."""
        self.ensure_one()
        if not records:
            return {}, {}
        if template is None:
            template = self._sms_shorten_template_links(self.body_plaintext or "")
        if not PLACEHOLDER_PATTERN.search(template):
            return dict.fromkeys(records.ids, template), {}
        try:
            bodies = self._sms_render_template(template, records.ids)
        except Exception:  # noqa: BLE001 - isolate the failing records below
            bodies, errors = {}, {}
            for res_id in records.ids:
                try:
                    bodies.update(self._sms_render_template(template, [res_id]))
                except Exception as error:  # noqa: BLE001
                    _logger.info("SMS mailing %s: cannot render for record %s", self.id, res_id)
                    errors[res_id] = self.env._(
                        "The SMS text could not be written: %(error)s", error=error
                    )
            return self._sms_shorten_rendered_links(bodies), errors
        return self._sms_shorten_rendered_links(bodies), {}

    def _sms_render_template(self, template, res_ids):
        return self.env["mail.render.mixin"]._render_template(
            template, self.mailing_model_real, res_ids, engine="inline_template"
        )

    def _sms_shorten_template_links(self, template):
        """Shorten the links written in the body once per mailing (C9)."""
        if not template:
            return template
        # links built from placeholders are only known after rendering
        protected = {}

        def protect(match):
            key = f"\x00{len(protected)}\x00"
            protected[key] = match.group(0)
            return key

        masked = PLACEHOLDER_PATTERN.sub(protect, template)
        masked = re.sub(r"https?://\S*\x00\d+\x00\S*", protect, masked)
        shortened = self._sms_shorten_text_links(masked)
        # last protected first: a protected link may hold an earlier protected placeholder
        for key, value in reversed(protected.items()):
            shortened = shortened.replace(key, value)
        return shortened

    def _sms_shorten_rendered_links(self, bodies):
        cache = {}
        result = {}
        for res_id, body in bodies.items():
            if body not in cache:
                cache[body] = self._sms_shorten_text_links(body)
            result[res_id] = cache[body]
        return result

    def _sms_shorten_text_links(self, text):
        if not text or "http" not in text:
            return text
        return self.env["mail.render.mixin"]._shorten_links_text(
            text, self._get_link_tracker_values()
        )

    def get_sms_link_replacements_placeholders(self):
        """What a link and the opt-out line look like once in an SMS (COMPAT tier B), for
        counters that estimate the length of the text actually sent."""
        base_url = self[:1].get_base_url().rstrip("/")
        mailing_id = self[:1].id or 0
        return {
            "link": f"{base_url}/r/xxxx/s/xxxxxx",
            "unsubscribe": "\nSTOP SMS: %s/sms/%s/%s" % (base_url, mailing_id, "x" * 10),
        }

    def _sms_get_unsubscribe_url(self, code, base_url=None):
        return "%s/sms/%s/%s" % ((base_url or self.get_base_url()).rstrip("/"), self.id, code)

    def _sms_add_unsubscribe_line(self, body, code, base_url=None):
        """The opt-out line, on its own line, never shortened (COMPAT)."""
        url = self._sms_get_unsubscribe_url(code, base_url=base_url)
        return "%s\nSTOP SMS: %s" % (body.rstrip(), url)

    def _sms_dispatch(self, sms_records):
        """Leave the SMS to the queue, or send them at once when asked (F1 "Send Directly")."""
        if not sms_records:
            return
        if self.sms_force_send:
            # the SMS queue wakes at once; never sent from this transaction (RELIABILITY 6)
            sms_records.sudo()._sms_send_directly()
        else:
            self.env.ref("sms.ir_cron_sms_scheduler_action").sudo()._trigger()

    def _sms_filter_waiting(self):
        """SMS mailings with SMS still in our queue or held by the provider."""
        sms_mailings = self.filtered(lambda m: m.mailing_type == "sms" and m.id)
        if not sms_mailings:
            return sms_mailings
        # called after every batch the provider answers: stop at the first waiting trace
        # instead of counting them all
        self.env["mailing.trace"].flush_model(["mass_mailing_id", "trace_status"])
        self.env.cr.execute(
            SQL(
                """SELECT mailing.id FROM unnest(%s::int[]) AS mailing(id)
                    WHERE EXISTS (SELECT 1 FROM mailing_trace AS trace
                                   WHERE trace.mass_mailing_id = mailing.id
                                     AND trace.trace_status = ANY(%s))""",
                sms_mailings.ids,
                list(SMS_WAITING_STATUSES),
            )
        )
        waiting_ids = {row[0] for row in self.env.cr.fetchall()}
        return sms_mailings.filtered(lambda m: m.id in waiting_ids)

    def _sms_update_mailing_state(self):
        """sending while SMS wait in a queue, done once none does (SPEC G3)."""
        waiting = self._sms_filter_waiting()
        waiting.filtered(lambda m: m.state != "sending").state = "sending"
        for mailing in (self - waiting).filtered(lambda m: m.state != "done"):
            mailing.write(
                {
                    "state": "done",
                    "sent_date": fields.Datetime.now(),
                    "kpi_mail_required": not mailing.sent_date,
                }
            )

    @api.model
    def _process_mass_mailing_queue(self):
        return super(
            MailingMailing, self.with_context(mass_mailing_sms_queue=True)
        )._process_mass_mailing_queue()

    def _sms_retry_failed(self):
        """Send again the SMS the provider refused, under their own id; never one it accepted.

        * refused when handed over (credit, account, server, country...): the same SMS goes
          back to the queue, same uuid, so the provider can recognise a repeat;
        * failed in a delivery report (expired, not delivered): the provider accepted it,
          it stays as it is;
        * never got an SMS (its text could not be written): the trace is removed and the
          recipient is rebuilt by the next run of the mailing.
        """
        failed_traces = (
            self.env["mailing.trace"]
            .sudo()
            .search(
                [
                    ("mass_mailing_id", "in", self.ids),
                    ("trace_type", "=", "sms"),
                    ("trace_status", "=", "error"),
                    ("failure_type", "not in", list(self.env["sms.sms"].DELIVERY_ERRORS)),
                ]
            )
        )
        without_sms = failed_traces.filtered(lambda t: not t.sms_id_int)
        sms_sudo = (
            self.env["sms.sms"]
            .sudo()
            .browse((failed_traces - without_sms).mapped("sms_id_int"))
            .exists()
            .filtered(lambda s: s.state == "error" and not s.to_delete)
        )
        without_sms.unlink()
        if sms_sudo:
            # trackers move the traces back to outgoing as well
            sms_sudo.action_set_outgoing()
            self.env.ref("sms.ir_cron_sms_scheduler_action").sudo()._trigger()
        if without_sms:
            self.action_put_in_queue()
        else:
            self._sms_update_mailing_state()

    # ------------------------------------------------------------
    # DEFAULTS AND STATISTICS
    # ------------------------------------------------------------

    def _get_default_mailing_domain(self):
        domain = super()._get_default_mailing_domain()
        model = self.env[self.mailing_model_name]
        if self.mailing_type == "sms" and "phone_sanitized_blacklisted" in model._fields:
            domain = expression.AND([domain, [("phone_sanitized_blacklisted", "=", False)]])
        return domain

    def _get_pretty_mailing_type(self):
        if self.mailing_type == "sms":
            return self.env._("SMS Text Message")
        return super()._get_pretty_mailing_type()

    def _prepare_statistics_email_values(self):
        values = super()._prepare_statistics_email_values()
        if self.mailing_type != "sms":
            return values
        values["kpi_data"][0] = {
            "kpi_fullname": self.env._(
                "Report for %(expected)i %(mailing_type)s Sent",
                expected=self.expected,
                mailing_type=self._get_pretty_mailing_type(),
            ),
            "kpi_col1": {
                "value": f"{self.received_ratio}%",
                "col_subtitle": self.env._("DELIVERED (%(count)i)", count=self.delivered),
            },
            "kpi_col2": {
                "value": f"{self.clicks_ratio}%",
                "col_subtitle": self.env._("CLICKED (%(count)i)", count=self.clicked),
            },
            "kpi_col3": {
                "value": f"{self.bounced_ratio}%",
                "col_subtitle": self.env._("BOUNCED (%(count)i)", count=self.bounced),
            },
            "kpi_action": None,
            "kpi_name": self.mailing_type,
        }
        return values

    # ------------------------------------------------------------
    # A/B TESTING (C1)
    # ------------------------------------------------------------

    def _get_ab_testing_siblings_mailings(self):
        if self.mailing_type != "sms":
            return super()._get_ab_testing_siblings_mailings()
        return self.campaign_id.mailing_sms_ids.filtered("ab_testing_enabled")

    def _get_ab_testing_winner_selection(self):
        if self.mailing_type != "sms":
            return super()._get_ab_testing_winner_selection()
        field = self._fields["ab_testing_sms_winner_selection"].related_field
        return {
            "value": self.ab_testing_sms_winner_selection,
            "description": dict(field._description_selection(self.env)).get(
                self.ab_testing_sms_winner_selection
            ),
        }

    def _get_default_ab_testing_campaign_values(self, values=None):
        campaign_values = super()._get_default_ab_testing_campaign_values(values)
        values = values or {}
        mailing_type = values.get("mailing_type") or self.mailing_type
        if mailing_type == "sms":
            campaign_values.pop("mailing_mail_ids", None)
            campaign_values["mailing_sms_ids"] = [(4, mailing.id) for mailing in self]
            campaign_values["ab_testing_sms_winner_selection"] = (
                values.get("ab_testing_sms_winner_selection")
                or self.ab_testing_sms_winner_selection
            )
        return campaign_values
