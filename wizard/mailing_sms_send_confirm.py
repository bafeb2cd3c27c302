# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
from odoo import fields, models


class MailingSmsSendConfirm(models.TransientModel):
    """Send Now of an SMS mailing: the confirmation (SPEC A4) with what the send will cost
    and the protections that apply (issue 9)."""

    _name = "mailing.sms.send.confirm"
    _description = "Confirm Sending an SMS Mailing"

    mailing_id = fields.Many2one("mailing.mailing", required=True, ondelete="cascade")
    sms_estimate_recipients = fields.Integer(related="mailing_id.sms_estimate_recipients")
    sms_estimate_parts = fields.Integer(related="mailing_id.sms_estimate_parts")
    sms_estimate_encoding = fields.Selection(related="mailing_id.sms_estimate_encoding")
    sms_estimate_total_parts = fields.Integer(related="mailing_id.sms_estimate_total_parts")
    sms_quiet_window = fields.Char(related="mailing_id.sms_quiet_window")
    sms_frequency_cap = fields.Char(compute="_compute_sms_frequency_cap")

    def _compute_sms_frequency_cap(self):
        for wizard in self:
            cap = wizard.mailing_id._sms_get_frequency_cap()
            wizard.sms_frequency_cap = cap and self.env._(
                "at most %(count)s SMS per number every %(hours)s hours",
                count=cap[0],
                hours=cap[1],
            )

    def action_send(self):
        self.ensure_one()
        return self.mailing_id.action_launch()
