# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
from odoo import fields, models


class MailingContact(models.Model):
    """List contacts carry a mobile, sanitized and checked against the phone blacklist."""

    _name = "mailing.contact"
    _inherit = ["mailing.contact", "mail.thread.phone"]  # noqa: RUF012

    mobile = fields.Char(help="Number SMS mailings sent to this contact's lists use.")
