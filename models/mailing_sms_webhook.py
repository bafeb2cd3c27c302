# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
from datetime import timedelta
from typing import ClassVar

from odoo import api, fields, models
from odoo.tools import SQL

# a signed webhook is refused once its timestamp is 5 minutes away from now: its id only has
# to be remembered while it could still pass (5 minutes, and 5 of clock skew), with margin
WEBHOOK_ID_KEPT = timedelta(minutes=15)


class MailingSmsWebhook(models.Model):
    """The ids of the webhooks the HTTP provider delivered (Standard Webhooks'
    ``webhook-id``), so that a webhook delivered again acts once (issue 29)."""

    _name = "mailing.sms.webhook"
    _description = "SMS Webhook Received"
    _log_access = False

    name = fields.Char("Webhook Id", required=True, readonly=True)
    company_id = fields.Many2one("res.company", required=True, readonly=True, ondelete="cascade")
    received = fields.Datetime(required=True, readonly=True, index=True)

    _sql_constraints: ClassVar[list] = [
        ("name_company_uniq", "UNIQUE(name, company_id)", "This webhook was received already."),
    ]

    @api.model
    def _sms_first_time(self, company, webhook_id):
        """Record ``webhook_id``: True the first time, False when it was received already
        (also while another request holding it is still running). Forgets old ids."""
        now = fields.Datetime.now()
        self.env.cr.execute(
            SQL("DELETE FROM mailing_sms_webhook WHERE received < %s", now - WEBHOOK_ID_KEPT)
        )
        self.env.cr.execute(
            SQL(
                """INSERT INTO mailing_sms_webhook (name, company_id, received)
                   VALUES (%s, %s, %s) ON CONFLICT DO NOTHING RETURNING id""",
                webhook_id[:200],
                company.id,
                now,
            )
        )
        return bool(self.env.cr.fetchone())
