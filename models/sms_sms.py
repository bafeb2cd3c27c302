# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
import re
from typing import ClassVar

from odoo import fields, models
from odoo.tools import SQL

from odoo.addons.sms.models.sms_sms import SmsSms as BaseSmsSms


class SmsSms(models.Model):
    _inherit = "sms.sms"

    # provider answers that have their own failure type on SMS of mailings (RELIABILITY row 16)
    IAP_TO_SMS_FAILURE_TYPE: ClassVar[dict[str, str]] = {
        **BaseSmsSms.IAP_TO_SMS_FAILURE_TYPE,
        "registration_needed": "sms_registration_needed",
        "duplicate_message": "sms_duplicate",
        "incompatible_content": "sms_rejected",
    }

    mailing_id = fields.Many2one("mailing.mailing", index="btree_not_null")
    mailing_trace_ids = fields.One2many("mailing.trace", "sms_id_int", "Statistics")
    failure_type = fields.Selection(selection_add=[("sms_rejected", "Rejected")])

    def _update_body_short_links(self):
        """{sms id: body} where each short link of a mailing SMS carries the SMS id (C9).

        ``<base>/r/<code>`` becomes ``<base>/r/<code>/s/<sms id>`` so that a click is
        counted on the recipient's trace; the opt-out link is not a short link and stays.
        """
        result = {}
        for sms in self:
            if not sms.mailing_id or not sms.body:
                result[sms.id] = sms.body
                continue
            short_prefix = re.escape(sms.mailing_id.get_base_url().rstrip("/") + "/r/")
            pattern = rf"({short_prefix}[\w-]+)(?![\w/-])"
            result[sms.id] = re.sub(pattern, rf"\1/s/{sms.id}", sms.body)
        return result

    def _sms_write_bodies(self, body_by_id):
        """Write changed bodies in one query."""
        changed = [
            (sms.id, body_by_id[sms.id]) for sms in self if body_by_id.get(sms.id) != sms.body
        ]
        if not changed:
            return
        self.env.cr.execute(
            SQL(
                """UPDATE sms_sms SET body = data.body
                     FROM (SELECT unnest(%s::int[]) AS id, unnest(%s::text[]) AS body) AS data
                    WHERE sms_sms.id = data.id""",
                [sms_id for sms_id, _body in changed],
                [body for _sms_id, body in changed],
            )
        )
        self.invalidate_recordset(["body"])
