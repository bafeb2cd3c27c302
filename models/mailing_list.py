# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
from odoo import models
from odoo.tools import SQL


class MailingList(models.Model):
    _inherit = "mailing.list"

    def _mailing_get_opt_out_list_sms(self, mailing):
        """Contacts opted out of every list of ``mailing`` they are subscribed to (SPEC O2).

        A contact still subscribed to one of the mailing's lists receives the SMS.
        """
        list_ids = (self or mailing.contact_list_ids).ids
        if not list_ids:
            return []
        self.env["mailing.subscription"].flush_model(["contact_id", "list_id", "opt_out"])
        self.env.cr.execute(
            SQL(
                """SELECT contact_id FROM mailing_subscription
                    WHERE list_id = ANY(%s)
                    GROUP BY contact_id
                   HAVING bool_and(opt_out)""",
                list_ids,
            )
        )
        return [row[0] for row in self.env.cr.fetchall()]
