# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
from odoo import api, fields, models


class MailingMailing(models.Model):
    """SMS as a second channel of mass mailings (SPEC G2)."""

    _inherit = "mailing.mailing"

    mailing_type = fields.Selection(selection_add=[("sms", "SMS")], ondelete={"sms": "set default"})
    body_plaintext = fields.Text(
        "SMS Body",
        help="Text of the SMS; placeholders like {{ object.name }} are filled per recipient.",
    )

    @api.depends("mailing_type")
    def _compute_medium_id(self):
        super()._compute_medium_id()
        sms_mailings = self.filtered(lambda m: m.mailing_type == "sms" and not m.medium_id)
        if sms_mailings:
            sms_mailings.medium_id = self.env["utm.medium"]._fetch_or_create_utm_medium(
                "sms", module="mass_mailing_sms"
            )
