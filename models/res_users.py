# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
from odoo import api, models, modules


class ResUsers(models.Model):
    _inherit = "res.users"

    @api.model
    def _get_activity_groups(self):
        """Show SMS mailings' activities apart from the email ones in the systray (COMPAT B)."""
        groups = super()._get_activity_groups()
        mailing_group = next((g for g in groups if g.get("model") == "mailing.mailing"), None)
        if not mailing_group:
            return groups
        activities = self.env["mail.activity"].search(
            [("res_model", "=", "mailing.mailing"), ("user_id", "=", self.env.uid)]
        )
        mailings = (
            self.env["mailing.mailing"].browse(activities.mapped("res_id"))._filtered_access("read")
        )
        sms_ids = set(mailings.filtered(lambda m: m.mailing_type == "sms").ids)
        if not sms_ids:
            return groups
        sms_group = dict(
            mailing_group,
            name=self.env._("SMS Marketing"),
            icon=modules.module.get_module_icon("mass_mailing_sms"),
            domain=[("mailing_type", "=", "sms")],
        )
        mailing_group["domain"] = [("mailing_type", "!=", "sms")]
        for group in (mailing_group, sms_group):
            for counter in ("total_count", "today_count", "overdue_count", "planned_count"):
                group[counter] = 0
        for activity in activities.filtered(lambda a: a.res_id in mailings.ids):
            group = sms_group if activity.res_id in sms_ids else mailing_group
            group[f"{activity.state}_count"] += 1
            if activity.state in ("today", "overdue"):
                group["total_count"] += 1
        if not any(mailing_group[c] for c in ("today_count", "overdue_count", "planned_count")):
            groups.remove(mailing_group)
        groups.append(sms_group)
        return groups
