# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
from odoo import fields, models


class PhoneBlacklist(models.Model):
    """Who put a number on the blacklist: the recipient (a STOP reply or the opt-out link)
    may take it off again by texting START; a marketer's entry stays (issue 27)."""

    _inherit = "phone.blacklist"

    sms_recipient_opt_out = fields.Boolean(
        "Opted Out by the Recipient",
        readonly=True,
        help="The recipient asked for it (STOP reply or opt-out link): a START reply takes the "
        "number off the blacklist. Numbers blacklisted by a user stay blacklisted.",
    )

    def _sms_add_for_recipient(self, number, message):
        """Blacklist ``number`` at the recipient's request; an entry a user made stays theirs.
        Returns the entry."""
        existing = self.with_context(active_test=False).search([("number", "=", number)], limit=1)
        was_active = existing.active
        entry = self._add([number], message=message)
        entry = entry or existing
        if not was_active:
            entry.sms_recipient_opt_out = True
        return entry
