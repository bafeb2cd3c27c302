# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
from odoo import models


class UtmMedium(models.Model):
    _inherit = "utm.medium"

    @property
    def SELF_REQUIRED_UTM_MEDIUMS_REF(self):
        """The SMS medium (SPEC F2) is used by every SMS mailing: keep it undeletable."""
        return super().SELF_REQUIRED_UTM_MEDIUMS_REF | {
            "mass_mailing_sms.utm_medium_sms": "SMS Text Message",
        }
