# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
import logging

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.osv import expression

from ..tools.quiet_hours import check_times_of_day, format_window

_logger = logging.getLogger(__name__)


class MailingMailing(models.Model):
    """SMS as a second channel of mass mailings (SPEC G2): fields, statistics, actions.

    The sending path lives in the mixins it inherits, one concern each (README
    "Architecture"): ``mailing.sms.protections`` (checks, estimate, quiet hours, frequency
    cap), ``mailing.sms.recipients`` (who, which numbers, who is skipped),
    ``mailing.sms.texts`` (rendered text, short links, opt-out line) and
    ``mailing.sms.campaign`` (traces + SMS in batches, hand-off to the SMS queue).
    """

    _name = "mailing.mailing"
    _inherit = [  # noqa: RUF012 - Odoo reads the list
        "mailing.mailing",
        "mailing.sms.protections",
        "mailing.sms.recipients",
        "mailing.sms.texts",
        "mailing.sms.campaign",
    ]

    mailing_type = fields.Selection(selection_add=[("sms", "SMS")], ondelete={"sms": "set default"})
    body_plaintext = fields.Text(
        "SMS Body",
        compute="_compute_body_plaintext",
        store=True,
        readonly=False,
        copy=True,
        help="Text of the SMS; placeholders like {{ object.name }} are filled per recipient.",
    )
    sms_subject = fields.Char(
        "Title",
        related="subject",
        readonly=False,
        help="Internal title of the SMS mailing, shown in lists and reports.",
    )
    sms_template_id = fields.Many2one(
        "sms.template",
        "SMS Template",
        ondelete="set null",
        domain="[('model', '=', mailing_model_real)]",
        help="Start from this template: choosing it fills the SMS body.",
    )
    sms_allow_unsubscribe = fields.Boolean(
        "Include opt-out link",
        help="Adds a short link to a page where the recipient can stop receiving SMS.",
    )
    sms_force_send = fields.Boolean(
        "Send Directly",
        help="Hand the SMS to the provider at once instead of leaving them to the SMS queue.",
    )
    sms_build_pending = fields.Boolean(
        "Recipients Left to Build",
        copy=False,
        readonly=True,
        help="The SMS and traces of this mailing are being built (the mailing queue builds a "
        "large campaign chunk by chunk): it stays sending until every recipient is built "
        "and every SMS sent.",
    )
    sms_has_insufficient_credit = fields.Boolean(
        "Insufficient SMS credits",
        compute="_compute_sms_has_iap_failure",
        help="Some SMS of this mailing could not be sent for lack of credits.",
    )
    sms_has_unregistered_account = fields.Boolean(
        "Unregistered SMS account",
        compute="_compute_sms_has_iap_failure",
        help="Some SMS of this mailing could not be sent because the SMS account is not registered.",
    )
    sms_account_failure_reason = fields.Char(
        "SMS Provider Refusal",
        compute="_compute_sms_has_iap_failure",
        help="Why the company's own SMS provider (not Odoo IAP) refused the account.",
    )
    sms_reply_count = fields.Integer(
        "SMS Replies",
        compute="_compute_sms_reply_count",
        help="Texts recipients sent back to this mailing's SMS (keywords aside).",
    )
    sms_country_guessed_count = fields.Integer(
        "Numbers Without Country Code",
        compute="_compute_sms_country_guessed_count",
        help="Recipients whose number had no country code and was read with their country, "
        "their contact's or the company's (RELIABILITY row 3).",
    )
    # issue 9: what a send will cost, before it starts
    sms_estimate_recipients = fields.Integer(
        "Recipients (estimate)",
        compute="_compute_sms_estimate",
        help="Recipients the next send targets, before opt-outs, duplicates and invalid "
        "numbers are removed.",
    )
    sms_estimate_parts = fields.Integer(
        "SMS Parts per Message",
        compute="_compute_sms_estimate",
        help="Parts the longest text takes, written for a sample of recipients, with links "
        "at their short length and the opt-out line.",
    )
    sms_estimate_encoding = fields.Selection(
        [("gsm7", "GSM-7"), ("unicode", "Unicode")],
        "SMS Encoding",
        compute="_compute_sms_estimate",
        help="GSM-7: 160 characters, 153 a part when longer. Unicode (emojis, characters "
        "outside the GSM alphabet): 70, 67 a part when longer.",
    )
    sms_estimate_total_parts = fields.Integer(
        "Estimated SMS Parts",
        compute="_compute_sms_estimate",
        help="Recipients x parts per message: what the provider will bill at most.",
    )
    # what the part counter of the text adds to it (issue 29): the brand prefix, and the
    # longest opt-out footer a recipient may get
    sms_counter_prefix = fields.Char(compute="_compute_sms_counter_texts")
    sms_counter_footer = fields.Char(compute="_compute_sms_counter_texts")
    sms_estimate_senders = fields.Char(
        "Senders",
        compute="_compute_sms_estimate_senders",
        help="The sender each SMS leaves from, by its recipient's country (issue 29).",
    )
    # issue 9: quiet hours, in the recipient's local time
    sms_quiet_hours = fields.Selection(
        [
            ("company", "Company Setting"),
            ("custom", "Custom Window"),
            ("none", "Send at Any Time"),
        ],
        "Quiet Hours",
        default="company",
        required=True,
        help="SMS due in the window (recipient's local time, from the country of the number) "
        "wait in the queue and go out when it ends.",
    )
    sms_quiet_hours_start = fields.Float("Quiet From", default=21.0)
    sms_quiet_hours_end = fields.Float("Quiet To", default=9.0)
    sms_quiet_window = fields.Char(
        "Quiet Window", compute="_compute_sms_quiet_window", help="The window that applies."
    )
    sms_quiet_count = fields.Integer(
        "Held for Quiet Hours",
        compute="_compute_sms_quiet_count",
        help="SMS waiting in the queue for their recipient's quiet hours to end.",
    )
    sms_quiet_until = fields.Datetime(
        "Held Until",
        compute="_compute_sms_quiet_count",
        help="When the last SMS held for quiet hours goes out.",
    )
    sms_frequency_capped_count = fields.Integer(
        "Skipped by the Frequency Cap",
        compute="_compute_sms_frequency_capped_count",
        help="Recipients skipped: their number already received the most marketing SMS the "
        "frequency cap allows.",
    )
    ab_testing_sms_winner_selection = fields.Selection(
        related="campaign_id.ab_testing_sms_winner_selection",
        readonly=False,
        copy=True,
        default="clicks_ratio",
    )

    # ------------------------------------------------------------
    # COMPUTE
    # ------------------------------------------------------------

    @api.depends("mailing_type")
    def _compute_medium_id(self):
        super()._compute_medium_id()
        sms_mailings = self.filtered(lambda m: m.mailing_type == "sms" and not m.medium_id)
        if sms_mailings:
            sms_mailings.medium_id = self.env["utm.medium"]._fetch_or_create_utm_medium(
                "sms", module="mass_mailing_sms"
            )

    @api.depends("sms_template_id")
    def _compute_body_plaintext(self):
        for mailing in self:
            if mailing.sms_template_id:
                mailing.body_plaintext = mailing.sms_template_id.body
            else:
                mailing.body_plaintext = mailing.body_plaintext  # keep what was written

    def _compute_sms_has_iap_failure(self):
        self.sms_has_insufficient_credit = False
        self.sms_has_unregistered_account = False
        self.sms_account_failure_reason = False
        sms_mailings = self.filtered(lambda m: m.mailing_type == "sms" and m.id)
        if not sms_mailings:
            return
        own_provider = self.env.company.sms_provider not in (False, "iap")
        groups = (
            self.env["mailing.trace"]
            .sudo()
            ._read_group(
                [
                    ("mass_mailing_id", "in", sms_mailings.ids),
                    ("trace_type", "=", "sms"),
                    ("trace_status", "=", "error"),
                    ("failure_type", "in", ("sms_credit", "sms_acc")),
                ],
                ["mass_mailing_id", "failure_type"],
                ["failure_reason:max"],
            )
        )
        for mailing, failure_type, reason in groups:
            if own_provider:
                # its own words, with a way to Settings rather than to Odoo IAP's shop
                mailing.sms_account_failure_reason = reason or self.env._(
                    "the SMS provider refused the account."
                )
            elif failure_type == "sms_credit":
                mailing.sms_has_insufficient_credit = True
            else:
                mailing.sms_has_unregistered_account = True

    def _compute_sms_reply_count(self):
        groups = (
            self.env["mailing.sms.reply"]
            .sudo()
            ._read_group(
                [("mailing_id", "in", self.ids), ("kind", "=", "reply")],
                ["mailing_id"],
                ["__count"],
            )
        )
        counts = dict(groups)
        for mailing in self:
            mailing.sms_reply_count = counts.get(mailing._origin, 0)

    def _compute_sms_country_guessed_count(self):
        groups = (
            self.env["mailing.trace"]
            .sudo()
            ._read_group(
                [("mass_mailing_id", "in", self.ids), ("sms_country_guessed", "=", True)],
                ["mass_mailing_id"],
                ["__count"],
            )
        )
        counts = dict(groups)
        for mailing in self:
            mailing.sms_country_guessed_count = counts.get(mailing._origin, 0)

    @api.depends(
        "mailing_type",
        "state",
        "body_plaintext",
        "sms_allow_unsubscribe",
        "mailing_model_real",
        "mailing_domain",
        "contact_list_ids",
        "ab_testing_enabled",
        "ab_testing_pc",
    )
    def _compute_sms_estimate(self):
        for mailing in self:
            estimate = {"recipients": 0, "parts": 0, "unicode": False}
            # a sent mailing has nothing left to estimate (its form hides the estimate)
            if (
                mailing.mailing_type == "sms"
                and mailing.mailing_model_real
                and mailing.state != "done"
            ):
                estimate = mailing._sms_estimate()
            mailing.sms_estimate_recipients = estimate["recipients"]
            mailing.sms_estimate_parts = estimate["parts"]
            mailing.sms_estimate_encoding = "unicode" if estimate["unicode"] else "gsm7"
            mailing.sms_estimate_total_parts = estimate.get(
                "total", estimate["recipients"] * estimate["parts"]
            )

    @api.depends("mailing_type", "user_id")
    def _compute_sms_counter_texts(self):
        for mailing in self:
            is_sms = mailing.mailing_type == "sms"
            mailing.sms_counter_prefix = is_sms and mailing._sms_compliance().prefix
            mailing.sms_counter_footer = (
                is_sms and mailing.get_sms_link_replacements_placeholders()["unsubscribe"]
            )

    @api.depends("mailing_type", "user_id")
    def _compute_sms_estimate_senders(self):
        for mailing in self:
            company = mailing.user_id.company_id or self.env.company
            mailing.sms_estimate_senders = (
                company._sms_sender_summary() if mailing.mailing_type == "sms" else False
            )

    @api.depends("sms_quiet_hours", "sms_quiet_hours_start", "sms_quiet_hours_end", "user_id")
    def _compute_sms_quiet_window(self):
        for mailing in self:
            window = mailing._sms_get_quiet_window()
            mailing.sms_quiet_window = format_window(*window) if window else False

    def _compute_sms_quiet_count(self):
        self.sms_quiet_count = 0
        self.sms_quiet_until = False
        sms_mailings = self.filtered(lambda m: m.mailing_type == "sms" and m.id)
        if not sms_mailings:
            return
        groups = (
            self.env["sms.sms"]
            .sudo()
            ._read_group(
                [
                    ("mailing_id", "in", sms_mailings.ids),
                    ("state", "=", "outgoing"),
                    ("sms_quiet_until", ">", fields.Datetime.now()),
                ],
                ["mailing_id"],
                ["__count", "sms_quiet_until:max"],
            )
        )
        for mailing, count, until in groups:
            mailing.sms_quiet_count = count
            mailing.sms_quiet_until = until

    def _compute_sms_frequency_capped_count(self):
        groups = (
            self.env["mailing.trace"]
            .sudo()
            ._read_group(
                [
                    ("mass_mailing_id", "in", self.ids),
                    ("trace_type", "=", "sms"),
                    ("failure_type", "=", "sms_frequency_cap"),
                ],
                ["mass_mailing_id"],
                ["__count"],
            )
        )
        counts = dict(groups)
        for mailing in self:
            mailing.sms_frequency_capped_count = counts.get(mailing._origin, 0)

    # ------------------------------------------------------------
    # CONSTRAINTS
    # ------------------------------------------------------------

    @api.constrains("sms_quiet_hours", "sms_quiet_hours_start", "sms_quiet_hours_end")
    def _check_sms_quiet_hours(self):
        """A mailing's own window, like the company's, is made of times of day."""
        for mailing in self.filtered(lambda m: m.sms_quiet_hours == "custom"):
            check_times_of_day(self.env, mailing.sms_quiet_hours_start, mailing.sms_quiet_hours_end)

    # ------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            mailing_type = vals.get("mailing_type") or self.env.context.get("default_mailing_type")
            if mailing_type == "sms" and not vals.get("subject") and vals.get("sms_subject"):
                vals["subject"] = vals["sms_subject"]
        return super().create(vals_list)

    def write(self, vals):
        if vals.get("state") == "done" and self.env.context.get("mass_mailing_sms_queue"):
            # The email queue marks a mailing done once every recipient has a trace; an SMS
            # mailing stays "sending" until its SMS have left our queue (SPEC G3).
            vals = dict(vals, sms_build_pending=False)
            waiting = self._sms_filter_waiting()
            if waiting:
                super(MailingMailing, waiting).write(
                    {"state": "sending", "sms_build_pending": False}
                )
                others = self - waiting
                return super(MailingMailing, others).write(vals) if others else True
        return super().write(vals)

    @api.onchange("mailing_type", "mailing_model_id")
    def _onchange_sms_mailing_model_id(self):
        """Warn as soon as the marketer picks recipients that cannot receive SMS (RELIABILITY 12)."""
        if self.mailing_type != "sms" or not self.mailing_model_real:
            return None
        try:
            self._sms_get_number_sources()
        except UserError as error:
            return {"warning": {"title": self.env._("No phone number"), "message": str(error)}}
        return None

    @api.onchange("sms_quiet_hours")
    def _onchange_sms_quiet_hours(self):
        """A custom window starts from the company's."""
        company = self.user_id.company_id or self.env.company
        if self.sms_quiet_hours == "custom" and company.sms_quiet_hours:
            self.sms_quiet_hours_start = company.sms_quiet_hours_start
            self.sms_quiet_hours_end = company.sms_quiet_hours_end

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_test(self):
        if self.mailing_type != "sms":
            return super().action_test()
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Test SMS Marketing"),
            "res_model": "mailing.sms.test",
            "view_mode": "form",
            "target": "new",
            "context": dict(self.env.context, default_mailing_id=self.id, dialog_size="medium"),
        }

    def action_put_in_queue(self):
        self._sms_check_ready_to_send()
        return super().action_put_in_queue()

    def action_schedule(self):
        self._sms_check_ready_to_send()
        return super().action_schedule()

    def action_sms_confirm_send(self):
        """Send Now of an SMS mailing: a confirmation showing what the send will cost (A4,
        issue 9)."""
        self.ensure_one()
        self._sms_check_ready_to_send()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Send the SMS Text Message?"),
            "res_model": "mailing.sms.send.confirm",
            "view_mode": "form",
            "target": "new",
            "context": {"default_mailing_id": self.id, "dialog_size": "medium"},
        }

    def action_retry_failed(self):
        """Retry SMS that failed on our side or the provider's, never those it accepted (C2)."""
        sms_mailings = self.filtered(lambda m: m.mailing_type == "sms")
        if sms_mailings:
            sms_mailings._sms_retry_failed()
        other_mailings = self - sms_mailings
        if other_mailings:
            return super(MailingMailing, other_mailings).action_retry_failed()
        return True

    def _action_view_traces_filtered(self, view_filter):
        """SMS recipients are listed with the number each SMS went to (SPEC A1, A2)."""
        action = super()._action_view_traces_filtered(view_filter)
        if self.mailing_type == "sms":
            action["name"] = self.env._("SMS Sent")
            action["views"] = [
                (self.env.ref("mass_mailing_sms.mailing_trace_view_tree_sms").id, "list"),
                (self.env.ref("mass_mailing_sms.mailing_trace_view_form_sms").id, "form"),
            ]
        return action

    def action_view_traces_delivered(self):
        """The SMS a delivery report (or a click) confirmed: Odoo's "Delivered" (SPEC C3)."""
        return self._action_view_traces_filtered("sms_delivered")

    def action_view_sms_replies(self):
        """What recipients texted back to this mailing's SMS (issue 27)."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mass_mailing_sms.mailing_sms_reply_action"
        )
        action["domain"] = [("mailing_id", "=", self.id)]
        action["context"] = {"search_default_filter_reply": 1}
        return action

    def action_buy_sms_credits(self):
        url = self.env["iap.account"].sudo().get_credits_url(service_name="sms")
        return {"type": "ir.actions.act_url", "url": url, "target": "new"}

    def action_send_mail(self, res_ids=None):
        if self and all(mailing.mailing_type == "sms" for mailing in self):
            return self.action_send_sms(res_ids=res_ids)
        return super().action_send_mail(res_ids=res_ids)

    def _action_send_mail(self, res_ids=None):
        sms_mailings = self.filtered(lambda m: m.mailing_type == "sms")
        other_mailings = self - sms_mailings
        not_ready = self.browse()
        for mailing in sms_mailings:
            # called by the queue cron: a mailing that cannot be sent goes back to draft
            # with a note instead of failing the cron for every other mailing
            try:
                mailing._sms_check_ready_to_send()
            except UserError as error:
                _logger.warning("SMS mailing %s not sent: %s", mailing.id, error)
                mailing._message_log(body=str(error))
                mailing.state = "draft"
                not_ready |= mailing
        sms_mailings -= not_ready
        if sms_mailings:
            sms_mailings._sms_send(res_ids=res_ids)  # checked just above
        if other_mailings:
            return super(MailingMailing, other_mailings)._action_send_mail(res_ids=res_ids)
        return True

    # ------------------------------------------------------------
    # SENDING (checks: mailing_sms_protections.py, building: mailing_sms_campaign.py)
    # ------------------------------------------------------------

    def action_send_sms(self, res_ids=None):
        """Create one trace per recipient (and an SMS for those who can get one), then queue.

        Recipients that already have a trace in the mailing are skipped, so running it twice
        (or the queue cron twice) sends nothing twice; a unique index backs this up.

        :param list res_ids: recipients to send to; default: those not yet traced.
        """
        self._sms_check_ready_to_send()
        return self._sms_send(res_ids=res_ids)

    def _get_remaining_recipients(self):
        """SMS recipients not traced yet, in one query (no list of every id in the domain).

        The mailing queue only asks whether any remain before it builds the next chunk
        (``_sms_send``): there, at most one id is read.
        """
        if self.mailing_type != "sms" or not self._sms_builds_in_chunks():
            return super()._get_remaining_recipients()
        if self.env.context.get("mass_mailing_sms_queue"):
            return self._sms_get_remaining_ids(limit=1)
        return self._sms_get_remaining_ids()

    @api.model
    def _process_mass_mailing_queue(self):
        result = super(
            MailingMailing, self.with_context(mass_mailing_sms_queue=True)
        )._process_mass_mailing_queue()
        pending = self.search_count(
            [
                ("state", "=", "sending"),
                ("mailing_type", "=", "sms"),
                ("sms_build_pending", "=", True),
            ]
        )
        if pending:
            # SMS mailings built a chunk and have recipients left: Odoo's cron runs the queue
            # again at once, in the same worker (issue 28)
            self.env["ir.cron"]._notify_progress(done=pending, remaining=pending)
        return result

    # ------------------------------------------------------------
    # DEFAULTS AND STATISTICS
    # ------------------------------------------------------------

    def _get_default_mailing_domain(self):
        domain = super()._get_default_mailing_domain()
        model = self.env[self.mailing_model_name]
        if self.mailing_type == "sms" and "phone_sanitized_blacklisted" in model._fields:
            domain = expression.AND([domain, [("phone_sanitized_blacklisted", "=", False)]])
        return domain

    def _get_pretty_mailing_type(self):
        if self.mailing_type == "sms":
            return self.env._("SMS Text Message")
        return super()._get_pretty_mailing_type()

    def _prepare_statistics_email_values(self):
        values = super()._prepare_statistics_email_values()
        if self.mailing_type != "sms":
            return values
        values["kpi_data"][0] = {
            "kpi_fullname": self.env._(
                "Report for %(expected)i %(mailing_type)s Sent",
                expected=self.expected,
                mailing_type=self._get_pretty_mailing_type(),
            ),
            "kpi_col1": {
                "value": f"{self.received_ratio}%",
                "col_subtitle": self.env._("DELIVERED (%(count)i)", count=self.delivered),
            },
            "kpi_col2": {
                "value": f"{self.clicks_ratio}%",
                "col_subtitle": self.env._("CLICKED (%(count)i)", count=self.clicked),
            },
            "kpi_col3": {
                "value": f"{self.bounced_ratio}%",
                "col_subtitle": self.env._("BOUNCED (%(count)i)", count=self.bounced),
            },
            "kpi_action": None,
            "kpi_name": self.mailing_type,
        }
        return values

    # ------------------------------------------------------------
    # A/B TESTING (C1)
    # ------------------------------------------------------------

    def _get_ab_testing_siblings_mailings(self):
        if self.mailing_type != "sms":
            return super()._get_ab_testing_siblings_mailings()
        return self.campaign_id.mailing_sms_ids.filtered("ab_testing_enabled")

    def _get_ab_testing_winner_selection(self):
        if self.mailing_type != "sms":
            return super()._get_ab_testing_winner_selection()
        field = self._fields["ab_testing_sms_winner_selection"].related_field
        return {
            "value": self.ab_testing_sms_winner_selection,
            "description": dict(field._description_selection(self.env)).get(
                self.ab_testing_sms_winner_selection
            ),
        }

    def _get_default_ab_testing_campaign_values(self, values=None):
        campaign_values = super()._get_default_ab_testing_campaign_values(values)
        values = values or {}
        mailing_type = values.get("mailing_type") or self.mailing_type
        if mailing_type == "sms":
            campaign_values.pop("mailing_mail_ids", None)
            campaign_values["mailing_sms_ids"] = [(4, mailing.id) for mailing in self]
            campaign_values["ab_testing_sms_winner_selection"] = (
                values.get("ab_testing_sms_winner_selection")
                or self.ab_testing_sms_winner_selection
            )
        return campaign_values
