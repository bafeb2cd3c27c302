# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..tools.quiet_hours import check_times_of_day
from ..tools.sms_http import DEFAULT_IDEMPOTENCY_HEADER, check_template
from ..tools.sms_providers import SMS_PROVIDERS
from ..tools.sms_senders import SenderChoice
from ..tools.standard_webhooks import is_valid_secret

SMS_STOP_COUNTRY_CODES = ("US", "CA")  # where a STOP reply opts out by default (issue 29)


class ResCompany(models.Model):
    """The company's SMS provider (issue 26), and the quiet hours of its SMS mailings (issue
    9), in each recipient's local time."""

    _inherit = "res.company"

    # Odoo 19's name (COMPAT "Forward"): a database keeps its choice when it upgrades
    sms_provider = fields.Selection(
        [("iap", "Odoo IAP"), ("twilio", "Twilio"), ("http", "HTTP Provider (JSON)")],
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
    # the generic HTTP provider (issue 29), readable by administrators only
    sms_http_url = fields.Char(
        "SMS HTTP Send URL",
        groups="base.group_system",
        help="Where each SMS is posted as JSON (https://api.provider.example/sms/send).",
    )
    sms_http_authorization = fields.Char(
        "SMS HTTP Authorization",
        groups="base.group_system",
        help='Value of the Authorization header of each request ("Bearer <key>", "App <key>").',
    )
    sms_http_body_template = fields.Text(
        "SMS HTTP Body Template",
        groups="base.group_system",
        default=lambda self: self._default_sms_http_body_template(),
        help="The JSON body of one SMS; {to}, {from}, {text} and {sms_id} in its strings are "
        "replaced by the number, the sender, the text and our id of the SMS.",
    )
    sms_http_message_id_path = fields.Char(
        "SMS HTTP Message Id Path",
        groups="base.group_system",
        help="Where the provider's id of the message is in its answer: keys and list "
        "positions joined by dots (messages.0.messageId).",
    )
    sms_http_status_path = fields.Char(
        "SMS HTTP Status Path",
        groups="base.group_system",
        help="Where the message's status is in the answer (messages.0.status.name): a status "
        "such as failed or rejected marks the SMS refused; empty: any 2xx answer is Sent.",
    )
    sms_http_idempotency_header = fields.Char(
        "SMS HTTP Idempotency Header",
        groups="base.group_system",
        default=DEFAULT_IDEMPOTENCY_HEADER,
        help="Header carrying our id of the SMS on every attempt, so that the provider "
        "answers a repeat without sending a second message.",
    )
    sms_http_webhook_secret = fields.Char(
        "SMS HTTP Webhook Secret",
        groups="base.group_system",
        help="The secret the provider signs its delivery reports and inbound messages with "
        "(Standard Webhooks: whsec_ followed by Base64).",
    )
    sms_http_report_id_path = fields.Char(
        "SMS HTTP Report Message Id Path",
        groups="base.group_system",
        default="messageId",
        help="Where a delivery report names the message: the provider's id, or ours.",
    )
    sms_http_report_status_path = fields.Char(
        "SMS HTTP Report Status Path",
        groups="base.group_system",
        default="status",
        help="Where a delivery report gives the status: delivered (Delivered), failed, "
        "rejected, undelivered, expired... (Not Delivered), anything else (Sent).",
    )
    sms_http_inbound_from_path = fields.Char(
        "SMS HTTP Inbound Sender Path",
        groups="base.group_system",
        default="from",
        help="Where an inbound message gives the number that sent it.",
    )
    sms_http_inbound_text_path = fields.Char(
        "SMS HTTP Inbound Text Path",
        groups="base.group_system",
        default="text",
        help="Where an inbound message gives its text.",
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

    @api.model
    def _default_sms_http_body_template(self):
        return '{"to": "{to}", "from": "{from}", "text": "{text}", "reference": "{sms_id}"}'

    @api.constrains("sms_http_body_template")
    def _check_sms_http_body_template(self):
        for company in self.sudo():
            template = company.sms_http_body_template
            problem = template and check_template(template)
            if problem:
                raise ValidationError(
                    self.env._(
                        "The JSON body template of the HTTP provider is not usable: "
                        "%(problem)s. Write a JSON object whose strings name {to} and {text}, "
                        'e.g. {"to": "{to}", "text": "{text}"}.',
                        problem=problem,
                    )
                )

    @api.constrains("sms_http_webhook_secret")
    def _check_sms_http_webhook_secret(self):
        for company in self.sudo():
            secret = company.sms_http_webhook_secret
            if secret and not is_valid_secret(secret):
                raise ValidationError(
                    self.env._(
                        "The webhook secret is not one a provider gives: it reads whsec_ "
                        "followed by at least 16 bytes in Base64 (whsec_MfKQ9r8GKYqrTwjUPD8ILPZI"
                        "o2LaLaSw)."
                    )
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
