# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
from typing import ClassVar

from markupsafe import Markup

from odoo import api, fields, models
from odoo.tools import SQL


class MailingSmsReply(models.Model):
    """An SMS a recipient sent back (issue 27): a keyword (STOP, START, HELP) acted upon, or
    any other text kept as a reply of the mailing whose SMS last reached the number. Each
    provider message is handled once (``provider_message_id`` is unique)."""

    _name = "mailing.sms.reply"
    _description = "SMS Reply"
    _order = "received_datetime desc, id desc"
    _rec_name = "number"

    number = fields.Char("From", required=True, readonly=True, index=True)
    body = fields.Text("Message", readonly=True)
    received_datetime = fields.Datetime(
        "Received", required=True, readonly=True, default=fields.Datetime.now
    )
    kind = fields.Selection(
        [
            ("reply", "Reply"),
            ("opt_out", "Opt-out (STOP)"),
            ("opt_in", "Opt-in (START)"),
            ("help", "Help"),
        ],
        required=True,
        readonly=True,
        default="reply",
    )
    mailing_id = fields.Many2one(
        "mailing.mailing", readonly=True, index="btree_not_null", ondelete="set null"
    )
    trace_id = fields.Many2one("mailing.trace", "Last SMS", readonly=True, ondelete="set null")
    model = fields.Char("Recipient Model", readonly=True)
    res_id = fields.Many2oneReference("Recipient ID", model_field="model", readonly=True)
    recipient_name = fields.Char("Recipient", compute="_compute_recipient_name")
    company_id = fields.Many2one("res.company", readonly=True, index=True)
    provider_message_id = fields.Char("Provider Message ID", readonly=True, copy=False)

    _sql_constraints: ClassVar[list] = [
        (
            "provider_message_uniq",
            "UNIQUE(provider_message_id)",
            "This provider message was already received.",
        ),
    ]

    @api.depends("model", "res_id")
    def _compute_recipient_name(self):
        for reply in self:
            record = reply._sms_recipient()
            reply.recipient_name = record.display_name if record else False

    def _sms_recipient(self):
        self.ensure_one()
        if not self.model or not self.res_id or self.model not in self.env:
            return None
        return self.env[self.model].browse(self.res_id).exists() or None

    def action_open_recipient(self):
        self.ensure_one()
        record = self._sms_recipient()
        if not record:
            return False
        return {
            "type": "ir.actions.act_window",
            "res_model": record._name,
            "res_id": record.id,
            "views": [(False, "form")],
        }

    # ------------------------------------------------------------
    # RECEIVING
    # ------------------------------------------------------------

    @api.model
    def _sms_receive(self, company, message_id, number, body):
        """Act on an inbound SMS once: returns the text to answer with (HELP) or "".

        The row is inserted first, under the provider's unique message id: the same message
        delivered again (or twice at once) finds it there and does nothing.
        """
        kind = self.env["mailing.sms.keyword"]._sms_action_of(body) or "reply"
        self.flush_model()
        self.env.cr.execute(
            SQL(
                """INSERT INTO mailing_sms_reply
                        (number, body, received_datetime, kind, company_id, provider_message_id,
                         create_uid, create_date, write_uid, write_date)
                   VALUES (%(number)s, %(body)s, %(now)s, %(kind)s, %(company)s, %(message_id)s,
                           %(uid)s, %(now)s, %(uid)s, %(now)s)
                   ON CONFLICT (provider_message_id) DO NOTHING
                   RETURNING id""",
                number=number,
                body=body,
                now=fields.Datetime.now(),
                kind=kind,
                company=company.id,
                message_id=message_id,
                uid=self.env.uid,
            )
        )
        row = self.env.cr.fetchone()
        if not row:
            return ""  # already handled
        reply = self.browse(row[0])
        trace = self.env["mailing.trace"].search(
            [("trace_type", "=", "sms"), ("sms_number", "=", number)], order="id desc", limit=1
        )
        if trace:
            reply.write(
                {
                    "trace_id": trace.id,
                    "mailing_id": trace.mass_mailing_id.id,
                    "model": trace.model,
                    "res_id": trace.res_id,
                }
            )
        return getattr(reply, f"_sms_receive_{kind}")(company)

    def _sms_receive_opt_out(self, company):
        blacklist = self.env["phone.blacklist"].sudo()
        blacklisted_now = not blacklist.search_count([("number", "=", self.number)], limit=1)
        if blacklisted_now:
            blacklist._sms_add_for_recipient(
                self.number,
                self.env._("STOP reply: “%(text)s” texted back.", text=self.body),
            )
        if self.trace_id and not self.trace_id.sms_opt_out_datetime:
            self.trace_id.sudo().write(
                {
                    "sms_opt_out_datetime": fields.Datetime.now(),
                    "sms_opt_out_blacklist": blacklisted_now,
                }
            )
        self._sms_post_on_recipient(self.env._("Opted out of SMS by texting back “%(text)s”."))
        return ""

    def _sms_receive_opt_in(self, company):
        entry = self.env["phone.blacklist"].sudo().search([("number", "=", self.number)], limit=1)
        if entry.sms_recipient_opt_out:
            entry._remove(
                [self.number],
                message=self.env._("START reply: “%(text)s” texted back.", text=self.body),
            )
            entry.sms_recipient_opt_out = False
            self._sms_post_on_recipient(self.env._("Opted in to SMS again by texting “%(text)s”."))
        elif entry:
            entry.message_post(
                body=self.env._(
                    "“%(text)s” was texted back, but a user blacklisted this number: it stays "
                    "blacklisted.",
                    text=self.body,
                ),
                subtype_xmlid="mail.mt_note",
            )
        return ""

    def _sms_receive_help(self, company):
        return company._sms_get_help_message()

    def _sms_receive_reply(self, company):
        self._sms_post_on_recipient(self.env._("SMS reply: %(text)s"))
        return ""

    def _sms_post_on_recipient(self, template):
        """Note ``template`` (with ``%(text)s``) on the chatter of the last SMS's recipient."""
        record = self._sms_recipient()
        if record is None or not hasattr(record, "message_post"):
            return
        text = self.body or ""
        record.sudo().message_post(
            body=Markup("<p>%s</p>") % (template % {"text": text}),
            message_type="sms",
            subtype_xmlid="mail.mt_note",
        )
