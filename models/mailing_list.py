# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
from odoo import fields, models
from odoo.tools import SQL


class MailingList(models.Model):
    _inherit = "mailing.list"

    contact_count_sms = fields.Integer(
        "Number of SMS Recipients",
        compute="_compute_mailing_list_statistics",
        help="Subscribed contacts with a mobile number (SPEC G4).",
    )

    # ------------------------------------------------------------
    # STATISTICS AND ACTIONS OF THE SMS APP (SPEC G4, L2)
    # ------------------------------------------------------------

    def _get_contact_statistics_fields(self):
        values = super()._get_contact_statistics_fields()
        values["contact_count_sms"] = """
            SUM(CASE WHEN (COALESCE(c.mobile, '') != '' AND COALESCE(r.opt_out, FALSE) = FALSE)
                THEN 1 ELSE 0 END) AS contact_count_sms"""
        return values

    def action_view_contacts_sms(self):
        action = self.env["ir.actions.actions"]._for_xml_id(
            "mass_mailing_sms.mailing_contact_action_sms"
        )
        action["domain"] = [("list_ids", "in", self.ids)]
        action["context"] = {"default_list_ids": self.ids}
        return action

    def action_view_contacts_sms_valid(self):
        action = self.action_view_contacts_sms()
        action["context"] = dict(action["context"], search_default_filter_sms_reachable=1)
        return action

    def action_view_mailings_sms(self):
        action = self.env["ir.actions.actions"]._for_xml_id(
            "mass_mailing_sms.mailing_mailing_action_sms"
        )
        action["domain"] = [("contact_list_ids", "in", self.ids), ("mailing_type", "=", "sms")]
        action["context"] = {"default_mailing_type": "sms", "default_contact_list_ids": self.ids}
        return action

    def action_send_mailing_sms(self):
        """Open a new SMS mailing to these lists (COMPAT tier B)."""
        action = self.env["ir.actions.actions"]._for_xml_id(
            "mass_mailing_sms.mailing_mailing_action_sms"
        )
        action.update(
            {
                "context": {
                    **self.env.context,
                    "default_contact_list_ids": self.ids,
                    "default_mailing_type": "sms",
                    "default_model_id": self.env["ir.model"]._get_id("mailing.list"),
                },
                "target": "current",
                "view_type": "form",
                "views": [
                    (self.env.ref("mass_mailing_sms.mailing_mailing_view_form_sms").id, "form")
                ],
            }
        )
        return action

    def _mailing_get_opt_out_list_sms(self, mailing):
        """Contacts opted out of every list of ``mailing`` they are subscribed to (SPEC O2).

        A contact still subscribed to one of the mailing's lists receives the SMS.
        """
        list_ids = (self or mailing.contact_list_ids).ids
        if not list_ids:
            return []
        # the SMS queue re-checks one batch of recipients at a time (context key)
        only_ids = self.env.context.get("mailing_sms_opt_out_res_ids")
        self.env["mailing.subscription"].flush_model(["contact_id", "list_id", "opt_out"])
        self.env.cr.execute(
            SQL(
                """SELECT contact_id FROM mailing_subscription
                    WHERE list_id = ANY(%s) %s
                    GROUP BY contact_id
                   HAVING bool_and(opt_out)""",
                list_ids,
                SQL("AND contact_id = ANY(%s)", list(only_ids)) if only_ids else SQL(),
            )
        )
        return [row[0] for row in self.env.cr.fetchall()]

    # ------------------------------------------------------------
    # SMS OPT-OUT LINK (SPEC O2): from here to the end, used by mailing.trace._sms_opt_out
    # ------------------------------------------------------------

    def _sms_get_subscriptions_for_number(self, number, contact=None):
        """Subscriptions to these lists of the contacts reachable at ``number`` (E.164).

        The contact the SMS went to, plus the other contacts of these lists with the same
        mobile written another way: leaving the lists is about the number, not one record
        (the sending path sends one SMS per number, so a twin would get the next one).
        """
        subscriptions = self.env["mailing.subscription"]
        if contact:
            subscriptions |= contact.subscription_ids.filtered(lambda s: s.list_id in self)
        digits = "".join(char for char in (number or "") if char.isdigit())
        if not self or len(digits) < 6:
            return subscriptions
        self.env["mailing.subscription"].flush_model(["contact_id", "list_id"])
        self.env["mailing.contact"].flush_model(["mobile"])
        self.env.cr.execute(
            SQL(
                """SELECT subscription.id
                     FROM mailing_subscription subscription
                     JOIN mailing_contact contact ON contact.id = subscription.contact_id
                    WHERE subscription.list_id = ANY(%s)
                      AND regexp_replace(contact.mobile, '[^0-9]', '', 'g') LIKE %s""",
                self.ids,
                f"%{digits[-8:]}",
            )
        )
        candidates = subscriptions.browse([row[0] for row in self.env.cr.fetchall()])
        return subscriptions | candidates.filtered(
            lambda s: s.contact_id._phone_format(fname="mobile") == number
        )
