# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
from odoo import api, fields, models
from odoo.exceptions import ValidationError


class ResCompany(models.Model):
    """Quiet hours of the company's SMS mailings (issue 9), in each recipient's local time."""

    _inherit = "res.company"

    sms_quiet_hours = fields.Boolean(
        "SMS Quiet Hours",
        help="Marketing SMS due in this window (recipient's local time, from the country of "
        "the number) wait and go out when it ends.",
    )
    sms_quiet_hours_start = fields.Float("Quiet Hours From", default=21.0)
    sms_quiet_hours_end = fields.Float("Quiet Hours To", default=9.0)

    @api.constrains("sms_quiet_hours_start", "sms_quiet_hours_end")
    def _check_sms_quiet_hours(self):
        for company in self:
            for hours in (company.sms_quiet_hours_start, company.sms_quiet_hours_end):
                if not 0 <= hours < 24:
                    raise ValidationError(
                        self.env._("Quiet hours are times of day, from 00:00 to 23:59.")
                    )
