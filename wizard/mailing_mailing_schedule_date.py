# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
from odoo import fields, models


class MailingMailingScheduleDate(models.TransientModel):
    """Schedule of an SMS mailing: the cost estimate in the dialog as well (issue 9)."""

    _inherit = "mailing.mailing.schedule.date"

    mailing_type = fields.Selection(related="mass_mailing_id.mailing_type")
    sms_estimate_recipients = fields.Integer(related="mass_mailing_id.sms_estimate_recipients")
    sms_estimate_parts = fields.Integer(related="mass_mailing_id.sms_estimate_parts")
    sms_estimate_encoding = fields.Selection(related="mass_mailing_id.sms_estimate_encoding")
    sms_estimate_total_parts = fields.Integer(related="mass_mailing_id.sms_estimate_total_parts")
