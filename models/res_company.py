# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
from odoo import api, fields, models

from ..tools.quiet_hours import check_times_of_day
from ..tools.sms_providers import SMS_PROVIDERS
from ..tools.sms_senders import SenderChoice


class ResCompany(models.Model):
    """The company's SMS provider (issue 26), and the quiet hours of its SMS mailings (issue
    9), in each recipient's local time."""

    _inherit = "res.company"

    # Odoo 19's name (COMPAT "Forward"): a database keeps its choice when it upgrades
    sms_provider = fields.Selection(
        [("iap", "Odoo IAP"), ("twilio", "Twilio")],
        "SMS Provider",
        default="iap",
        required=True,
        help="Service every SMS of this company is sent through: mailings, chatter, templates.",
    )

    # Twilio's account: Odoo 19's names (COMPAT "Forward"), readable by administrators only
    sms_twilio_account_sid = fields.Char("SMS Twilio Account SID", groups="base.group_system")
    sms_twilio_auth_token = fields.Char("SMS Twilio Auth Token", groups="base.group_system")
    sms_twilio_messaging_service_sid = fields.Char(
        "SMS Twilio Messaging Service SID",
        groups="base.group_system",
        help="Twilio picks the sender from this service's pool; without one, each SMS leaves "
        "from the sender of its recipient's country, else from the default sender.",
    )
    # the senders of the provider account (Twilio's or the HTTP provider's), issue 29
    sms_twilio_number_ids = fields.One2many("sms.twilio.number", "company_id", "SMS Senders")

    sms_help_message = fields.Text(
        "SMS Help Answer",
        translate=True,
        help="Answered to a recipient who texts HELP or INFO back; empty: a default naming the "
        "company and how to stop.",
    )

    sms_quiet_hours = fields.Boolean(
        "SMS Quiet Hours",
        help="Marketing SMS due in this window (recipient's local time, from the country of "
        "the number) wait and go out when it ends.",
    )
    sms_quiet_hours_start = fields.Float("Quiet Hours From", default=21.0)
    sms_quiet_hours_end = fields.Float("Quiet Hours To", default=9.0)

    @api.constrains("sms_quiet_hours_start", "sms_quiet_hours_end")
    def _check_sms_quiet_hours(self):
        for company in self:
            check_times_of_day(self.env, company.sms_quiet_hours_start, company.sms_quiet_hours_end)

    def _sms_get_help_message(self):
        """What a HELP reply gets back: the company's text, or a default naming it."""
        self.ensure_one()
        return self.sms_help_message or self.env._(
            "%(company)s: marketing messages. Reply STOP to stop receiving them, START to "
            "receive them again.",
            company=self.name,
        )

    def _get_sms_api_class(self):
        """The class that talks to this company's SMS provider (Odoo 19's name, COMPAT); its
        interface is described in ``tools/sms_providers.py``."""
        return SMS_PROVIDERS[self.sms_provider or "iap"]

    def _sms_sender_choice(self):
        """Which of the company's senders each recipient number gets (``SenderChoice``)."""
        self.ensure_one()
        return SenderChoice(
            [
                (sender.name, set(sender.country_ids.mapped("code")), sender.is_default)
                for sender in self.sudo().sms_twilio_number_ids
            ]
        )

    def _sms_picks_senders(self):
        """Whether SMS leave from the company's senders, chosen per country: not through Odoo
        IAP, nor through a Twilio Messaging Service, which pick their own."""
        self.ensure_one()
        company = self.sudo()
        if company.sms_provider == "twilio":
            return not company.sms_twilio_messaging_service_sid
        return company.sms_provider != "iap"

    def _sms_sender_summary(self):
        """Which sender SMS leave from, per country, in words ("" for Odoo IAP, which picks
        it): shown in the estimate of a mailing and the test dialog."""
        self.ensure_one()
        company = self.sudo()
        if company.sms_provider == "iap":
            return ""
        if not company._sms_picks_senders():
            return self.env._("Twilio's Messaging Service picks the sender")
        if not company.sms_twilio_number_ids:
            return self.env._("No sender: add one in Settings")
        choice = company._sms_sender_choice()
        served = []
        for sender in company.sms_twilio_number_ids:
            countries = sender.country_ids.filtered(
                lambda country, name=sender.name: choice.by_country.get(country.code) == name
            )
            if countries:
                served.append(f"{sender.name} ({', '.join(countries.mapped('name'))})")
        if not served:
            return self.env._("%(sender)s for every country", sender=choice.default)
        served.append(self.env._("%(sender)s for the other countries", sender=choice.default))
        return "; ".join(served)

    def _sms_test_connection(self):
        """What the company's provider says of its account, in plain words (``UserError``
        when something is wrong)."""
        self.ensure_one()
        return self._get_sms_api_class()(self.with_company(self).env)._sms_test_connection()
