# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
import re
from typing import ClassVar

from odoo import api, fields, models
from odoo.exceptions import ValidationError

# a Twilio sender: a number in E.164, or an alphanumeric sender ID (letters required)
E164_PATTERN = re.compile(r"^\+[1-9]\d{6,14}$")
ALPHANUMERIC_PATTERN = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")


class SmsTwilioNumber(models.Model):
    """A sender of the company's Twilio account (Odoo 19's model name, COMPAT "Forward"):
    without a Messaging Service, SMS leave from the first one."""

    _name = "sms.twilio.number"
    _description = "Twilio Sender Number"
    _order = "sequence, id"

    name = fields.Char(
        "Number",
        required=True,
        help="A number of the Twilio account in international format (+14155550123), or an "
        "alphanumeric sender ID where the country allows one.",
    )
    sequence = fields.Integer(default=10)
    country_id = fields.Many2one("res.country")
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company, ondelete="cascade"
    )

    _sql_constraints: ClassVar[list] = [
        ("name_company_uniq", "UNIQUE(name, company_id)", "This sender is already listed."),
    ]

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("name"):
                vals["name"] = self._sms_clean_number(vals["name"])
        return super().create(vals_list)

    def write(self, vals):
        if vals.get("name"):
            vals["name"] = self._sms_clean_number(vals["name"])
        return super().write(vals)

    @api.model
    def _sms_clean_number(self, name):
        name = name.strip()
        if name.startswith(("+", "00")) or name[:1].isdigit():
            name = re.sub(r"[\s().-]", "", name)
            if name.startswith("00"):
                name = "+" + name[2:]
        return name

    @api.constrains("name")
    def _check_name(self):
        for sender in self:
            if not (E164_PATTERN.match(sender.name) or ALPHANUMERIC_PATTERN.match(sender.name)):
                raise ValidationError(
                    self.env._(
                        "“%(name)s” is not a sender Twilio accepts: a number in international "
                        "format (+14155550123) or a name of at most 11 letters and digits.",
                        name=sender.name,
                    )
                )
