# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
from typing import ClassVar

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..tools.sms_keywords import normalize_keyword


class MailingSmsKeyword(models.Model):
    """A word a recipient texts back to act on their SMS subscription (issue 27): the whole
    message, whatever its case, accents or punctuation. Every keyword applies to every
    number; the language only groups them."""

    _name = "mailing.sms.keyword"
    _description = "SMS Reply Keyword"
    _order = "action, lang_id, name"

    name = fields.Char(
        "Keyword",
        required=True,
        help="The whole reply, compared without case, accents or punctuation.",
    )
    action = fields.Selection(
        [
            ("opt_out", "Opt out (blacklist the number)"),
            ("opt_in", "Opt in again"),
            ("help", "Help (answer automatically)"),
        ],
        required=True,
        default="opt_out",
    )
    lang_id = fields.Many2one(
        "res.lang",
        "Language",
        context={"active_test": False},
        help="The language the word belongs to; it is understood from every number.",
    )
    active = fields.Boolean(default=True)

    _sql_constraints: ClassVar[list] = [
        ("name_uniq", "UNIQUE(name)", "This keyword already exists."),
    ]

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("name"):
                vals["name"] = normalize_keyword(vals["name"])
        return super().create(vals_list)

    def write(self, vals):
        if vals.get("name"):
            vals["name"] = normalize_keyword(vals["name"])
        return super().write(vals)

    @api.constrains("name")
    def _check_name(self):
        for keyword in self:
            if not keyword.name:
                raise ValidationError(self.env._("A keyword needs at least a letter or a digit."))

    @api.model
    def _sms_action_of(self, body):
        """The action of the keyword ``body`` is, or False for any other text."""
        text = normalize_keyword(body)
        if not text:
            return False
        keyword = self.sudo().search([("name", "=", text)], limit=1)
        return keyword.action or False
