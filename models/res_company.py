# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
from odoo import api, fields, models

from ..tools.quiet_hours import check_times_of_day
from ..tools.sms_providers import SMS_PROVIDERS
from ..tools.sms_senders import SenderChoice

SMS_STOP_COUNTRY_CODES = ("US", "CA")  # where a STOP reply opts out by default (issue 29)


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

    # issue 29: the compliance wording of marketing SMS
    sms_brand_prefix = fields.Char(
        "SMS Brand Prefix",
        help="Put before the text of every SMS of a mailing, with its punctuation and space "
        '("Acme: "), so that recipients know who texts them.',
    )
    sms_stop_country_ids = fields.Many2many(
        "res.country",
        "res_company_sms_stop_country_rel",
        "company_id",
        "country_id",
        "Reply-STOP Countries",
        default=lambda self: self._default_sms_stop_countries(),
        help='Recipients in these countries read "Reply STOP to opt out" at the end of a '
        "mailing's SMS (their replies reach Odoo: Twilio's inbound messages); the others "
        "get the opt-out link.",
    )

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

    @api.model
    def _default_sms_stop_countries(self):
        """The United States and Canada, where carriers expect STOP replies to work."""
        return self.env["res.country"].search([("code", "in", SMS_STOP_COUNTRY_CODES)])

    @api.model
    def _sms_init_stop_countries(self):
        """The default Reply-STOP countries for the companies that existed before them (at
        install and upgrade: a many2many default only reaches new companies)."""
        countries = self._default_sms_stop_countries()
        companies = self.with_context(active_test=False).search([])
        companies.filtered(lambda company: not company.sms_stop_country_ids).write(
            {"sms_stop_country_ids": [(6, 0, countries.ids)]}
        )

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
