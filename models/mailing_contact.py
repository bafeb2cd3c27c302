# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
from odoo import fields, models


class MailingContact(models.Model):
    _inherit = "mailing.contact"

    mobile = fields.Char(help="Number SMS mailings sent to this contact's lists use.")
