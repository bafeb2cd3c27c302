# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
import logging
import secrets
import string

from odoo import api, fields, models
from odoo.tools import SQL, index_exists

_logger = logging.getLogger(__name__)

# Opt-out codes: 10 characters of [0-9A-Za-z] = 59.5 bits of randomness from the OS's
# secure generator. A link is only valid with the mailing id it was sent with, so an
# attacker guessing codes for a 100,000-recipient mailing hits one in 8.4e12 tries.
SMS_CODE_ALPHABET = string.ascii_letters + string.digits
SMS_CODE_LENGTH = 10

# Trace statuses of SMS in the order they can only move forward; failures are final
# unless a retry puts the trace back to "outgoing" (see _sms_update_status).
SMS_STATUS_IGNORED_WHEN = {
    "outgoing": {"outgoing", "process", "pending", "sent"},
    "process": {"process", "pending", "sent"},
    "pending": {"pending", "sent"},
    "sent": {"sent"},
    "bounce": {"bounce", "sent"},
    "error": {"error", "sent", "bounce"},
    "cancel": {"cancel", "process", "pending", "sent"},
}


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
        ]
    )

    def init(self):
        super().init()
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
        return "".join(secrets.choice(SMS_CODE_ALPHABET) for _i in range(SMS_CODE_LENGTH))

    def set_opened(self, domain=None):
        """SMS have no "opened" status (SPEC G3): a click on an SMS link only counts a click."""
        traces = self + (self.search(domain) if domain else self.browse())
        super(MailingTrace, traces.filtered(lambda t: t.trace_type != "sms")).set_opened()
        return traces

    def _sms_update_status(self, status, failure_type=False, failure_reason=False):
        """Move SMS traces to ``status``, never backwards (COMPAT: forward-only statuses)."""
        traces = self.filtered(lambda t: t.trace_status not in SMS_STATUS_IGNORED_WHEN[status])
        if not traces:
            return traces
        values = {
            "trace_status": status,
            "failure_type": failure_type or False,
            "failure_reason": failure_reason or False,
        }
        if status in ("pending", "sent"):
            traces.filtered(lambda t: not t.sent_datetime).sent_datetime = fields.Datetime.now()
        traces.write(values)
        return traces

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
