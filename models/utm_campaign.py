# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
from odoo import api, fields, models


class UtmCampaign(models.Model):
    _inherit = "utm.campaign"

    mailing_sms_ids = fields.One2many(
        "mailing.mailing",
        "campaign_id",
        domain=[("mailing_type", "=", "sms")],
        string="SMS Mailings",
        groups="mass_mailing.group_mass_mailing_user",
    )
    mailing_sms_count = fields.Integer(
        "Number of SMS Mailings",
        compute="_compute_mailing_sms_count",
        groups="mass_mailing.group_mass_mailing_user",
    )
    ab_testing_mailings_sms_count = fields.Integer(
        "A/B Test SMS Mailings #", compute="_compute_mailing_sms_count"
    )
    ab_testing_sms_winner_selection = fields.Selection(
        [("manual", "Manual"), ("clicks_ratio", "Highest Click Rate")],
        string="SMS Winner Selection",
        default="clicks_ratio",
        help="How the winner of an SMS A/B test is chosen before the final send.",
    )

    @api.depends("mailing_sms_ids")
    def _compute_mailing_sms_count(self):
        groups = self.env["mailing.mailing"]._read_group(
            [("campaign_id", "in", self.ids), ("mailing_type", "=", "sms")],
            ["campaign_id", "ab_testing_enabled"],
            ["__count"],
        )
        totals, ab_totals = {}, {}
        for campaign, ab_testing, count in groups:
            totals[campaign] = totals.get(campaign, 0) + count
            if ab_testing:
                ab_totals[campaign] = ab_totals.get(campaign, 0) + count
        for campaign in self:
            origin = campaign._origin
            campaign.mailing_sms_count = totals.get(origin, 0)
            campaign.ab_testing_mailings_sms_count = ab_totals.get(origin, 0)

    @api.model
    def _cron_process_mass_mailing_ab_testing(self):
        """Also pick the winners of SMS A/B tests (C1)."""
        campaigns = super()._cron_process_mass_mailing_ab_testing()
        sms_campaigns = self.search(
            [
                ("ab_testing_schedule_datetime", "<=", fields.Datetime.now()),
                ("ab_testing_sms_winner_selection", "!=", "manual"),
                ("ab_testing_completed", "=", False),
            ]
        )
        for campaign in sms_campaigns:
            mailings = campaign.mailing_sms_ids.filtered("ab_testing_enabled")
            if mailings.filtered(lambda m: m.state == "done"):
                mailings.action_send_winner_mailing()
        return campaigns | sms_campaigns
