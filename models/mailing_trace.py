# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
import logging
import secrets
import string

from odoo import api, fields, models
from odoo.tools import SQL, create_index, index_exists

from ..tools.table_storage import set_fillfactor

_logger = logging.getLogger(__name__)

# Opt-out codes: 10 characters of [0-9A-Za-z] = 59.5 bits of randomness from the OS's
# secure generator. A link is only valid with the mailing id it was sent with, so an
# attacker guessing codes for a 100,000-recipient mailing hits one in 8.4e12 tries.
SMS_CODE_ALPHABET = string.ascii_letters + string.digits
SMS_CODE_LENGTH = 10
SMS_CODE_BYTE_LIMIT = 256 - 256 % len(SMS_CODE_ALPHABET)  # 248: 4 x 62

# Forward-only statuses of SMS traces (COMPAT): a new status is ignored when the trace
# already is in one of these. Delivered ("sent") and bounced are final; an error can still
# become pending/delivered (a provider's late report tells what really happened) or go back
# to outgoing when the marketer retries it. A click on a short link marks the trace "open"
# as in Odoo (it proves the SMS arrived, so it counts as delivered): no report moves it back.
_CLICKED = {"open", "reply"}
SMS_STATUS_IGNORED_WHEN = {
    "outgoing": {"outgoing", "process", "pending", "sent", "bounce", "cancel"} | _CLICKED,
    "process": {"process", "pending", "sent", "bounce"} | _CLICKED,
    "pending": {"pending", "sent", "bounce"} | _CLICKED,
    "sent": {"sent"} | _CLICKED,
    "bounce": {"bounce", "sent"} | _CLICKED,
    "error": {"error", "sent", "bounce"} | _CLICKED,
    "cancel": {"cancel", "process", "pending", "sent", "bounce"} | _CLICKED,
}
TRACE_FILLFACTOR = 50  # see init()
# what a status update writes, to drop from the cache after it
SMS_STATUS_FIELDS = [
    "trace_status",
    "failure_type",
    "failure_reason",
    "sent_datetime",
    "write_date",
]


class MailingTrace(models.Model):
    """SMS statistics: one trace per recipient of an SMS mailing (SPEC G3)."""

    _inherit = "mailing.trace"

    trace_type = fields.Selection(selection_add=[("sms", "SMS")], ondelete={"sms": "set default"})
    sms_id_int = fields.Integer(
        "SMS ID",
        index="btree_not_null",
        help="Id of the sms.sms sent for this trace; kept when the SMS itself is deleted.",
    )
    sms_id = fields.Many2one("sms.sms", "SMS", compute="_compute_sms_id")
    sms_tracker_ids = fields.One2many("sms.tracker", "mailing_trace_id", "SMS Trackers")
    sms_number = fields.Char("Number", help="Number the SMS went to, in E.164 when valid.")
    sms_country_guessed = fields.Boolean(
        "Country Guessed",
        help="The number had no country code: it was read with the recipient's country, "
        "else its contact's, else the company's.",
    )
    sms_code = fields.Char(
        "Opt-out Code",
        copy=False,
        index="btree_not_null",
        help="Random code of this recipient's opt-out link.",
    )
    failure_type = fields.Selection(
        selection_add=[
            ("sms_number_missing", "Missing Number"),
            ("sms_number_format", "Wrong Number Format"),
            ("sms_credit", "Insufficient Credit"),
            ("sms_country_not_supported", "Country Not Supported"),
            ("sms_registration_needed", "Country-specific Registration Required"),
            ("sms_server", "Server Error"),
            ("sms_acc", "Unregistered Account"),
            ("sms_blacklist", "Blacklisted"),
            ("sms_duplicate", "Duplicate"),
            ("sms_optout", "Opted Out"),
            ("sms_expired", "Expired"),
            ("sms_invalid_destination", "Invalid Destination"),
            ("sms_not_allowed", "Not Allowed"),
            ("sms_not_delivered", "Not Delivered"),
            ("sms_rejected", "Rejected"),
            ("sms_frequency_cap", "Frequency Cap Reached"),
        ]
    )

    def init(self):
        super().init()
        # the answers of the provider and the delivery reports rewrite the status of each SMS
        # trace once or twice: with room left on its page, without touching its indexes
        set_fillfactor(self.env.cr, self._table, TRACE_FILLFACTOR)
        # duplicate checks look numbers up within a mailing, batch after batch
        create_index(
            self.env.cr,
            "mailing_trace_sms_number_index",
            self._table,
            ["mass_mailing_id", "sms_number"],
            where="trace_type = 'sms'",
        )
        # One SMS trace per recipient record and mailing, whatever the code path (RELIABILITY).
        index_name = "mailing_trace_sms_recipient_uniq"
        if index_exists(self.env.cr, index_name):
            return
        self.env.cr.execute(
            SQL(
                """SELECT 1 FROM mailing_trace WHERE trace_type = 'sms'
                    GROUP BY mass_mailing_id, model, res_id HAVING COUNT(*) > 1 LIMIT 1"""
            )
        )
        if self.env.cr.rowcount:
            _logger.warning(
                "%s not created: some SMS mailings have several traces for one recipient",
                index_name,
            )
            return
        self.env.cr.execute(
            SQL(
                "CREATE UNIQUE INDEX %s ON mailing_trace (mass_mailing_id, model, res_id)"
                " WHERE trace_type = 'sms'",
                SQL.identifier(index_name),
            )
        )

    def _compute_sms_id(self):
        existing = (
            self.env["sms.sms"].sudo().browse(self.filtered("sms_id_int").mapped("sms_id_int"))
        )
        existing_ids = set(existing.exists().ids)
        for trace in self:
            trace.sms_id = trace.sms_id_int if trace.sms_id_int in existing_ids else False

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("trace_type") == "sms" and not vals.get("sms_code"):
                vals["sms_code"] = self._sms_generate_code()
        return super().create(vals_list)

    @api.model
    def _sms_generate_code(self):
        """A new opt-out code: SMS_CODE_LENGTH characters drawn uniformly from the OS's
        secure generator (random bytes above the largest multiple of 62 are dropped, so
        that no character is likelier than another)."""
        code = []
        while len(code) < SMS_CODE_LENGTH:
            for byte in secrets.token_bytes(2 * SMS_CODE_LENGTH):
                if byte < SMS_CODE_BYTE_LIMIT:
                    code.append(SMS_CODE_ALPHABET[byte % len(SMS_CODE_ALPHABET)])
                    if len(code) == SMS_CODE_LENGTH:
                        break
        return "".join(code)

    def _sms_update_status(self, status, failure_type=False, failure_reason=False):
        """Move SMS traces to ``status``, never backwards (COMPAT: forward-only statuses).

        One query whatever the number of traces; returns the traces that moved.
        """
        if not self:
            return self
        self.flush_recordset()
        rows = self._sms_update_status_rows(
            SQL("id = ANY(%s)", self.ids), status, failure_type, failure_reason
        )
        moved = self.browse([row[0] for row in rows])
        moved.invalidate_recordset(SMS_STATUS_FIELDS)
        return moved

    @api.model
    def _sms_update_status_of_sms(self, sms_ids, status, failure_type=False, failure_reason=False):
        """``_sms_update_status`` for the traces of the SMS ``sms_ids``, found by their SMS id
        in the same query: the dispatcher's answers reach the traces without reading the
        trackers first (those of mailing SMS only point to their trace). Returns the mailings
        whose traces moved."""
        if not sms_ids:
            return self.env["mailing.mailing"]
        self.flush_model()
        rows = self._sms_update_status_rows(
            SQL("sms_id_int = ANY(%s) AND trace_type = 'sms'", list(sms_ids)),
            status,
            failure_type,
            failure_reason,
        )
        self.invalidate_model(SMS_STATUS_FIELDS)
        return self.env["mailing.mailing"].browse({row[1] for row in rows})

    @api.model
    def _sms_update_status_rows(self, where, status, failure_type=False, failure_reason=False):
        """The forward-only UPDATE of the traces matching ``where``; returns the
        (id, mass_mailing_id) of those that moved."""
        ignored = SMS_STATUS_IGNORED_WHEN[status]
        # a delivery report said it failed: a late "accepted" is older news
        late_success = status in ("process", "pending")
        self.env.cr.execute(
            SQL(
                """UPDATE mailing_trace
                      SET trace_status = %(status)s,
                          failure_type = %(failure_type)s,
                          failure_reason = %(failure_reason)s,
                          sent_datetime = CASE WHEN %(sets_sent)s
                                               THEN COALESCE(sent_datetime, %(now)s)
                                               ELSE sent_datetime END,
                          write_date = %(now)s
                    WHERE %(where)s
                      AND (trace_status IS NULL OR trace_status != ALL(%(ignored)s))
                      AND NOT (%(late_success)s AND trace_status = 'error'
                               AND failure_type = ANY(%(delivery_errors)s))
                RETURNING id, mass_mailing_id""",
                status=status,
                failure_type=failure_type or None,
                failure_reason=failure_reason or None,
                sets_sent=status in ("pending", "sent"),
                now=self.env.cr.now(),
                where=where,
                ignored=sorted(ignored),
                late_success=late_success,
                delivery_errors=sorted(self.env["sms.sms"].DELIVERY_ERRORS),
            )
        )
        return self.env.cr.fetchall()

    @api.model
    def _sms_find_for_click(self, code, sms_id):
        """The SMS trace of ``sms_id`` if the short link ``code`` was made for its mailing."""
        link_code = self.env["link.tracker.code"].search([("code", "=", code)], limit=1)
        if not link_code or not link_code.link_id.mass_mailing_id:
            return self.browse()
        return self.search(
            [
                ("sms_id_int", "=", sms_id),
                ("trace_type", "=", "sms"),
                ("mass_mailing_id", "=", link_code.link_id.mass_mailing_id.id),
            ],
            limit=1,
        )


# ----------------------------------------------------------------------------------------
# SMS OPT-OUT LINK (SPEC O2, O3, O4, C6)
# The recipient's side of a trace, used by the public pages of controllers/sms_optout.py.
# Everything from here to the end of the file belongs to this section: add other trace
# code above it.
# ----------------------------------------------------------------------------------------

SMS_OPT_OUT_UNDO_HOURS = 24  # how long the result page offers to take an opt-out back
SMS_CODE_MAX_LENGTH = 64  # longer input is not a code: answered like any unknown one
SMS_CLICKABLE_STATUSES = ("process", "pending", "sent", "open", "reply")  # reached the provider
SMS_MASK_CHAR = "\u2022"


class MailingTraceSmsOptOut(models.Model):
    """Opt-out from the ``STOP SMS:`` link: what was done, so that it shows and can be undone."""

    _inherit = "mailing.trace"

    sms_opt_out_datetime = fields.Datetime(
        "SMS Opt-out Date",
        readonly=True,
        copy=False,
        help="When the recipient opted out with the link of this SMS (empty if undone).",
    )
    sms_opt_out_blacklist = fields.Boolean(
        "Blacklisted by Opt-out",
        readonly=True,
        copy=False,
        help="The opt-out put the number on the phone blacklist; undoing it takes it off.",
    )
    sms_opt_out_subscription_ids = fields.Many2many(
        "mailing.subscription",
        "mailing_trace_sms_opt_out_subscription_rel",
        "trace_id",
        "subscription_id",
        string="Opted-out Subscriptions",
        readonly=True,
        copy=False,
        help="List subscriptions the opt-out marked opted out; undoing it subscribes them again.",
    )

    @api.model
    def _sms_find_by_code(self, mailing_id, code):
        """The SMS trace of mailing ``mailing_id`` whose opt-out code is ``code``, or nothing.

        An unknown mailing, an unknown code and a code of another mailing all run the same
        single indexed query and return the same empty recordset, so callers answer the same
        way. Codes shorter than SMS_CODE_LENGTH (links of older versions) were guessable and
        are refused. Only traces that had an SMS match: other codes were never sent.
        """
        if not isinstance(code, str) or not SMS_CODE_LENGTH <= len(code) <= SMS_CODE_MAX_LENGTH:
            code = ""  # never generated: same query, no match
        if not isinstance(mailing_id, int) or not 0 < mailing_id < 2**31:
            mailing_id = 0
        return self.search(
            [
                ("sms_code", "=", code),
                ("mass_mailing_id", "=", mailing_id),
                ("trace_type", "=", "sms"),
                ("sms_id_int", "!=", False),
            ],
            limit=1,
        )

    def _sms_filter_clickable(self):
        """Traces whose SMS reached the provider: only those can have been clicked (C9)."""
        return self.filtered(
            lambda t: t.trace_type == "sms" and t.trace_status in SMS_CLICKABLE_STATUSES
        )

    def _sms_get_sanitized_number(self):
        self.ensure_one()
        if not self.sms_number:
            return False
        return self.browse()._phone_format(number=self.sms_number) or False

    def _sms_masked_number(self):
        """The number with all digits hidden but a few, e.g. ``+32 4•• •• •• 56``.

        The country code, the first digit after it and the last two digits stay: enough for
        the recipient to recognise the number, too little for anyone else to learn it.
        """
        self.ensure_one()
        number = self.sms_number or ""
        formatted = (
            self.browse()._phone_format(number=number, force_format="INTERNATIONAL") or number
        )
        prefix, rest = "", formatted
        if formatted.startswith("+") and " " in formatted:
            prefix, rest = formatted.split(" ", 1)
            prefix += " "
        positions = [index for index, char in enumerate(rest) if char.isdigit()]
        shown = set()
        if len(positions) >= 4:
            shown.update(positions[-2:])
        if len(positions) >= 6:
            shown.add(positions[0])
        return prefix + "".join(
            SMS_MASK_CHAR if char.isdigit() and index not in shown else char
            for index, char in enumerate(rest)
        )

    def _sms_opt_out_lists(self):
        """Mailing lists an opt-out of this trace leaves; empty when it blacklists (O2, O3)."""
        self.ensure_one()
        mailing = self.mass_mailing_id
        if self.model != "mailing.contact" or not mailing.mailing_on_mailing_list:
            return self.env["mailing.list"]
        return mailing.contact_list_ids

    def _sms_opt_out_record(self):
        """The recipient record of this trace, if it still exists."""
        self.ensure_one()
        if not self.model or self.model not in self.env or not self.res_id:
            return None
        return self.env[self.model].browse(self.res_id).exists()

    def _sms_opt_out_can_undo(self):
        self.ensure_one()
        limit = fields.Datetime.subtract(fields.Datetime.now(), hours=SMS_OPT_OUT_UNDO_HOURS)
        return bool(self.sms_opt_out_datetime) and self.sms_opt_out_datetime >= limit

    def _sms_opt_out(self, blacklist=False, reason_id=False):
        """Stop the SMS of this trace's recipient, from its opt-out link (SPEC O2, O3).

        For a mailing sent to lists, the subscriptions of this number to those lists (and to
        no other) are marked opted out; for any other mailing, or when ``blacklist`` is set,
        the number goes on the phone blacklist. The trace keeps what changed, which marks
        the opt-out in the mailing's statistics and lets the recipient undo it.

        :param bool blacklist: also blacklist the number, for every SMS;
        :param reason_id: id of a ``mailing.subscription.optout`` picked by the recipient;
        :return: True
        """
        self.ensure_one()
        reason = self._sms_opt_out_reason(reason_id)
        number = self._sms_get_sanitized_number()
        lists = self._sms_opt_out_lists()
        subscriptions = self.env["mailing.subscription"]
        if lists:
            record = self._sms_opt_out_record()
            subscriptions = lists._sms_get_subscriptions_for_number(
                number, contact=record or None
            ).filtered(lambda s: not s.opt_out)
            if subscriptions:
                subscriptions.write({"opt_out": True, "opt_out_reason_id": reason.id or False})
        blacklisted = False
        if number and (blacklist or not lists):
            blacklisted = self._sms_opt_out_blacklist_number(number, reason)
        self.write(
            {
                "sms_opt_out_datetime": fields.Datetime.now(),
                "sms_opt_out_blacklist": self.sms_opt_out_blacklist or blacklisted,
                "sms_opt_out_subscription_ids": [
                    fields.Command.link(subscription.id) for subscription in subscriptions
                ],
            }
        )
        self._sms_opt_out_log(subscriptions, blacklisted, reason)
        return True

    def _sms_opt_out_undo(self):
        """Take this trace's opt-out back; False once SMS_OPT_OUT_UNDO_HOURS have passed."""
        self.ensure_one()
        if not self._sms_opt_out_can_undo():
            return False
        subscriptions = self.sms_opt_out_subscription_ids.filtered("opt_out")
        if subscriptions:
            subscriptions.write({"opt_out": False, "opt_out_reason_id": False})
        number = self._sms_get_sanitized_number()
        unblacklisted = bool(self.sms_opt_out_blacklist and number)
        if unblacklisted:
            self.env["phone.blacklist"].sudo()._remove(
                [number],
                message=self.env._(
                    "Taken off the blacklist: the recipient undid the opt-out from the SMS "
                    "mailing “%(mailing)s”.",
                    mailing=self.mass_mailing_id.subject,
                ),
            )
        self.write(
            {
                "sms_opt_out_datetime": False,
                "sms_opt_out_blacklist": False,
                "sms_opt_out_subscription_ids": [fields.Command.clear()],
            }
        )
        self._sms_opt_out_log_undo(subscriptions, unblacklisted)
        return True

    def _sms_opt_out_reason(self, reason_id):
        try:
            reason_id = int(reason_id or 0)
        except (TypeError, ValueError):
            reason_id = 0
        return self.env["mailing.subscription.optout"].browse(reason_id).exists()

    def _sms_opt_out_blacklist_number(self, number, reason):
        """Blacklist ``number``; False if it already was (then an undo leaves it there)."""
        blacklist_sudo = self.env["phone.blacklist"].sudo()
        if blacklist_sudo.search_count([("number", "=", number)], limit=1):
            return False
        message = self.env._(
            "Blacklisted from the opt-out link of the SMS mailing “%(mailing)s”.",
            mailing=self.mass_mailing_id.subject,
        )
        if reason:
            message += " " + self.env._("Reason: %(reason)s", reason=reason.name)
        blacklist_sudo._sms_add_for_recipient(number, message)
        return True

    @api.model
    def _sms_lists_by_contact(self, subscriptions):
        """[(contact, its lists among ``subscriptions``)], for the chatter notes."""
        return [
            (contact, subscriptions.filtered(lambda s, c=contact: s.contact_id == c).list_id)
            for contact in subscriptions.contact_id
        ]

    def _sms_opt_out_log(self, subscriptions, blacklisted, reason):
        """Note the opt-out on the chatter of the recipient and of the contacts it changed."""
        mailing_name = self.mass_mailing_id.subject
        number = self.sms_number
        reason_text = " " + self.env._("Reason: %(reason)s", reason=reason.name) if reason else ""
        bodies = {}  # record: [texts]
        for contact, lists in self._sms_lists_by_contact(subscriptions):
            bodies.setdefault(contact, []).append(
                self.env._(
                    "Opted out of the mailing lists %(lists)s with the opt-out link of the SMS "
                    "mailing “%(mailing)s” (number %(number)s).",
                    lists=", ".join(lists.mapped("name")),
                    mailing=mailing_name,
                    number=number,
                )
                + reason_text
            )
        record = self._sms_opt_out_record()
        if blacklisted and record is not None:
            bodies.setdefault(record, []).append(
                self.env._(
                    "Number %(number)s blacklisted with the opt-out link of the SMS mailing "
                    "“%(mailing)s”.",
                    number=number,
                    mailing=mailing_name,
                )
                + reason_text
            )
        self._sms_opt_out_post(bodies)

    def _sms_opt_out_log_undo(self, subscriptions, unblacklisted):
        mailing_name = self.mass_mailing_id.subject
        bodies = {}
        for contact, lists in self._sms_lists_by_contact(subscriptions):
            bodies.setdefault(contact, []).append(
                self.env._(
                    "Subscribed again to the mailing lists %(lists)s: the recipient undid the "
                    "opt-out from the SMS mailing “%(mailing)s”.",
                    lists=", ".join(lists.mapped("name")),
                    mailing=mailing_name,
                )
            )
        record = self._sms_opt_out_record()
        if unblacklisted and record is not None:
            bodies.setdefault(record, []).append(
                self.env._(
                    "Number %(number)s taken off the blacklist: the recipient undid the opt-out "
                    "from the SMS mailing “%(mailing)s”.",
                    number=self.sms_number,
                    mailing=mailing_name,
                )
            )
        self._sms_opt_out_post(bodies)

    def _sms_opt_out_post(self, bodies):
        for record, texts in bodies.items():
            if record and hasattr(record, "_message_log"):
                record._message_log(body=" ".join(texts))

    def _sms_opt_out_page_values(self):
        """What the public opt-out page shows about this trace; never the full number."""
        self.ensure_one()
        mailing = self.mass_mailing_id
        company = (mailing.user_id or mailing.create_uid).company_id or self.env.company
        lists = self._sms_opt_out_lists()
        number = self._sms_get_sanitized_number()
        is_blacklisted = bool(number) and bool(
            self.env["phone.blacklist"].sudo().search_count([("number", "=", number)], limit=1)
        )
        return {
            "res_company": company,
            "company_name": company.name,
            "masked_number": self._sms_masked_number(),
            "lists_mode": bool(lists),
            # names of private lists are internal: the recipient only sees public ones
            "list_names": ", ".join(lists.filtered("is_public").mapped("name")),
            "is_blacklisted": is_blacklisted,
            "opted_out": self._sms_opt_out_can_undo(),
            "undo_hours": SMS_OPT_OUT_UNDO_HOURS,
            "opt_out_reasons": self.env["mailing.subscription.optout"].search([]),
        }
