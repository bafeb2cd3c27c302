# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
from odoo import fields, models

# ir.config_parameter keys of the protections that apply to every company (issue 9)
PARAM_FREQUENCY_CAP = "mass_mailing_sms.sms_frequency_cap"
PARAM_FREQUENCY_CAP_COUNT = "mass_mailing_sms.sms_frequency_cap_count"
PARAM_FREQUENCY_CAP_HOURS = "mass_mailing_sms.sms_frequency_cap_hours"
PARAM_PACING = "mass_mailing_sms.sms_pacing"
PARAM_PACING_PER_MINUTE = "mass_mailing_sms.sms_pacing_per_minute"


class ResConfigSettings(models.TransientModel):
    """The company's SMS provider (issue 26) and the protections of SMS marketing (issue 9):
    quiet hours per company, frequency cap and pacing for the whole database (the SMS queue
    and the provider account are shared)."""

    _inherit = "res.config.settings"

    sms_provider = fields.Selection(related="company_id.sms_provider", readonly=False)
    sms_twilio_account_sid = fields.Char(
        related="company_id.sms_twilio_account_sid", readonly=False, groups="base.group_system"
    )
    sms_twilio_auth_token = fields.Char(
        related="company_id.sms_twilio_auth_token", readonly=False, groups="base.group_system"
    )
    sms_twilio_messaging_service_sid = fields.Char(
        related="company_id.sms_twilio_messaging_service_sid",
        readonly=False,
        groups="base.group_system",
    )
    sms_twilio_number_count = fields.Integer(compute="_compute_sms_twilio_number_count")
    sms_help_message = fields.Text(related="company_id.sms_help_message", readonly=False)
    sms_http_url = fields.Char(
        related="company_id.sms_http_url", readonly=False, groups="base.group_system"
    )
    sms_http_authorization = fields.Char(
        related="company_id.sms_http_authorization", readonly=False, groups="base.group_system"
    )
    sms_http_body_template = fields.Text(
        related="company_id.sms_http_body_template", readonly=False, groups="base.group_system"
    )
    sms_http_message_id_path = fields.Char(
        related="company_id.sms_http_message_id_path",
        readonly=False,
        groups="base.group_system",
    )
    sms_http_status_path = fields.Char(
        related="company_id.sms_http_status_path", readonly=False, groups="base.group_system"
    )
    sms_http_webhook_secret = fields.Char(
        related="company_id.sms_http_webhook_secret", readonly=False, groups="base.group_system"
    )
    sms_http_report_id_path = fields.Char(
        related="company_id.sms_http_report_id_path", readonly=False, groups="base.group_system"
    )
    sms_http_report_status_path = fields.Char(
        related="company_id.sms_http_report_status_path", readonly=False, groups="base.group_system"
    )
    sms_http_inbound_from_path = fields.Char(
        related="company_id.sms_http_inbound_from_path", readonly=False, groups="base.group_system"
    )
    sms_http_inbound_text_path = fields.Char(
        related="company_id.sms_http_inbound_text_path", readonly=False, groups="base.group_system"
    )
    sms_http_idempotency_header = fields.Char(
        related="company_id.sms_http_idempotency_header",
        readonly=False,
        groups="base.group_system",
    )
    sms_brand_prefix = fields.Char(related="company_id.sms_brand_prefix", readonly=False)
    sms_stop_country_ids = fields.Many2many(
        related="company_id.sms_stop_country_ids", readonly=False
    )
    sms_twilio_inbound_url = fields.Char(compute="_compute_sms_twilio_inbound_url")
    sms_http_status_url = fields.Char(compute="_compute_sms_twilio_inbound_url")
    sms_http_inbound_url = fields.Char(compute="_compute_sms_twilio_inbound_url")

    sms_quiet_hours = fields.Boolean(related="company_id.sms_quiet_hours", readonly=False)
    sms_quiet_hours_start = fields.Float(related="company_id.sms_quiet_hours_start", readonly=False)
    sms_quiet_hours_end = fields.Float(related="company_id.sms_quiet_hours_end", readonly=False)
    sms_frequency_cap = fields.Boolean(
        "SMS Frequency Cap",
        config_parameter=PARAM_FREQUENCY_CAP,
        help="Skip recipients whose number already received this many marketing SMS recently.",
    )
    sms_frequency_cap_count = fields.Integer(
        "SMS per Number", config_parameter=PARAM_FREQUENCY_CAP_COUNT, default=2
    )
    sms_frequency_cap_hours = fields.Integer(
        "Within Hours", config_parameter=PARAM_FREQUENCY_CAP_HOURS, default=24
    )
    sms_pacing = fields.Boolean(
        "SMS Pacing",
        config_parameter=PARAM_PACING,
        help="Hand marketing SMS to the provider at a limited rate, whatever the number of "
        "workers sending them.",
    )
    sms_pacing_per_minute = fields.Integer(
        "SMS per Minute", config_parameter=PARAM_PACING_PER_MINUTE, default=600
    )

    def _compute_sms_twilio_number_count(self):
        for settings in self:
            settings.sms_twilio_number_count = len(settings.company_id.sms_twilio_number_ids)

    def _compute_sms_twilio_inbound_url(self):
        for settings in self:
            base_url = settings.company_id.get_base_url()
            settings.sms_http_status_url = f"{base_url}/sms/http/status"
            settings.sms_http_inbound_url = f"{base_url}/sms/http/inbound"
            settings.sms_twilio_inbound_url = (
                f"{settings.company_id.get_base_url()}/sms/twilio/inbound"
            )

    def action_sms_test_connection(self):
        """Settings' "Test connection": what the company's provider says of its account."""
        self.ensure_one()
        # what the form shows is what gets tested: Odoo saves the settings before the call
        message = self.company_id._sms_test_connection()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"title": self.env._("SMS Provider"), "message": message, "type": "success"},
        }

    def action_sms_twilio_numbers(self):
        """The senders of the company's Twilio account, in an editable list."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mass_mailing_sms.sms_twilio_number_action"
        )
        action["domain"] = [("company_id", "=", self.company_id.id)]
        action["context"] = {"default_company_id": self.company_id.id}
        return action
