# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
import re
from typing import ClassVar

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..tools.sms_senders import is_valid_sender


class SmsTwilioNumber(models.Model):
    """A sender of the company's SMS provider account (issue 29): a number or an alphanumeric
    sender ID, with the countries it serves. Odoo 19's model name (COMPAT "Forward"), also
    used by the HTTP provider: an SMS leaves from the sender of its recipient's country, else
    from the default one (the first when none is marked)."""

    _name = "sms.twilio.number"
    _description = "SMS Sender"
    _order = "sequence, id"

    name = fields.Char(
        "Sender",
        required=True,
        help="A number of the provider account in international format (+14155550123), or "
        "an alphanumeric sender ID (1 to 11 letters, digits and spaces, not only digits) "
        "where the country allows one.",
    )
    sequence = fields.Integer(default=10)
    country_ids = fields.Many2many(
        "res.country",
        "sms_twilio_number_res_country_rel",
        "sender_id",
        "country_id",
        "Countries",
        help="SMS to numbers of these countries leave from this sender; the first sender "
        "of the list naming a country serves it.",
    )
    # Odoo 19's single country: the first of the countries, kept for an upgrade
    country_id = fields.Many2one("res.country", "Main Country", readonly=True)
    is_default = fields.Boolean(
        "Default",
        help="SMS to the countries no sender names leave from this one (without a default: "
        "from the first sender of the list).",
    )
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
        senders = super().create(vals_list)
        senders._sms_sync_countries(vals_list)
        senders.filtered("is_default")._sms_keep_one_default()
        return senders

    def write(self, vals):
        if vals.get("name"):
            vals["name"] = self._sms_clean_number(vals["name"])
        result = super().write(vals)
        self._sms_sync_countries([vals] * len(self))
        if vals.get("is_default"):
            self._sms_keep_one_default()
        return result

    def _sms_sync_countries(self, vals_list):
        """Odoo 19's ``country_id`` and our ``country_ids`` name the same countries: a
        country given alone joins the list, the list's first country is the main one."""
        for sender, vals in zip(self, vals_list, strict=True):
            if vals.get("country_id") and "country_ids" not in vals:
                sender.country_ids |= sender.country_id
            if "country_ids" in vals or vals.get("country_id"):
                first = sender.country_ids.sorted("id")[:1]
                if sender.country_id != first:
                    super(SmsTwilioNumber, sender).write({"country_id": first.id})

    def _sms_keep_one_default(self):
        """One default sender per company: marking one unmarks the company's others."""
        for sender in self:
            others = sender.company_id.sms_twilio_number_ids.filtered("is_default") - sender
            if others:
                super(SmsTwilioNumber, others).write({"is_default": False})

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
            if not is_valid_sender(sender.name):
                raise ValidationError(
                    self.env._(
                        "“%(name)s” cannot be a sender: use a number in international format "
                        "(+14155550123), or a sender name of 1 to 11 letters, digits and "
                        "spaces that is not only digits (ACME, Shop 24).",
                        name=sender.name,
                    )
                )
