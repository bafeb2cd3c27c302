# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
import logging
import re
import threading

from werkzeug.urls import url_join

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.osv import expression
from odoo.tools import SQL, float_round, split_every

_logger = logging.getLogger(__name__)

SMS_BATCH_SIZE = 1000  # recipients turned into SMS and traces per transaction step
PLACEHOLDER_PATTERN = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)


class MailingMailing(models.Model):
    """SMS as a second channel of mass mailings (SPEC G2).

    The sending path reads top to bottom: recipients -> numbers -> filters (opt-out,
    missing, malformed, blacklisted, duplicate) -> bodies (render, short links, opt-out
    line) -> sms.sms + mailing.trace -> SMS queue.
    """

    _inherit = "mailing.mailing"

    mailing_type = fields.Selection(selection_add=[("sms", "SMS")], ondelete={"sms": "set default"})
    body_plaintext = fields.Text(
        "SMS Body",
        compute="_compute_body_plaintext",
        store=True,
        readonly=False,
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
        for mailing in self.filtered("sms_template_id"):
            mailing.body_plaintext = mailing.sms_template_id.body

    def _compute_sms_has_iap_failure(self):
        self.sms_has_insufficient_credit = False
        self.sms_has_unregistered_account = False
        sms_mailings = self.filtered(lambda m: m.mailing_type == "sms" and m.id)
        if not sms_mailings:
            return
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
            )
        )
        for mailing, failure_type in groups:
            if failure_type == "sms_credit":
                mailing.sms_has_insufficient_credit = True
            else:
                mailing.sms_has_unregistered_account = True

    def _compute_statistics(self):
        """SMS have no opened/replied (SPEC G3); received = handed to the provider."""
        super()._compute_statistics()
        sms_mailings = self.filtered(lambda m: m.mailing_type == "sms")
        if not sms_mailings:
            return
        groups = (
            self.env["mailing.trace"]
            .sudo()
            ._read_group(
                [("mass_mailing_id", "in", sms_mailings.ids)],
                ["mass_mailing_id", "trace_status"],
                ["__count"],
            )
        )
        counts = {}
        for mailing, status, count in groups:
            counts.setdefault(mailing, {})[status] = count
        for mailing in sms_mailings:
            line = counts.get(mailing, {})
            received = line.get("pending", 0) + line.get("sent", 0)
            total = (mailing.expected - mailing.canceled) or 1
            mailing.update(
                {
                    "delivered": received,
                    "received_ratio": float_round(100.0 * received / total, precision_digits=2),
                    "opened": 0,
                    "replied": 0,
                    "opened_ratio": 0,
                    "replied_ratio": 0,
                }
            )

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

    def action_retry_failed(self):
        """Retry SMS that failed on our side or the provider's, never those it accepted (C2)."""
        sms_mailings = self.filtered(lambda m: m.mailing_type == "sms")
        if sms_mailings:
            sms_mailings._sms_retry_failed()
        other_mailings = self - sms_mailings
        if other_mailings:
            return super(MailingMailing, other_mailings).action_retry_failed()
        return True

    def action_buy_sms_credits(self):
        url = self.env["iap.account"].get_credits_url(service_name="sms")
        return {"type": "ir.actions.act_url", "url": url, "target": "new"}

    def action_send_mail(self, res_ids=None):
        if self and all(mailing.mailing_type == "sms" for mailing in self):
            return self.action_send_sms(res_ids=res_ids)
        return super().action_send_mail(res_ids=res_ids)

    def _action_send_mail(self, res_ids=None):
        sms_mailings = self.filtered(lambda m: m.mailing_type == "sms")
        if sms_mailings:
            sms_mailings.action_send_sms(res_ids=res_ids)
        other_mailings = self - sms_mailings
        if other_mailings:
            return super(MailingMailing, other_mailings)._action_send_mail(res_ids=res_ids)
        return True

    # ------------------------------------------------------------
    # SENDING: checks
    # ------------------------------------------------------------

    def _sms_check_ready_to_send(self):
        """Reject at send/schedule time what would fail for everyone (RELIABILITY rows 6, 12)."""
        for mailing in self.filtered(lambda m: m.mailing_type == "sms"):
            if not (mailing.body_plaintext or "").strip():
                raise UserError(
                    self.env._(
                        'The SMS mailing "%(name)s" has no text to send.', name=mailing.subject
                    )
                )
            mailing._sms_get_number_sources()

    def _sms_get_number_sources(self):
        """Where the numbers of the target model come from; UserError if it has none."""
        self.ensure_one()
        model = self.env[self.mailing_model_real]
        sanitized = "phone_sanitized" if "phone_sanitized" in model._fields else False
        number_fields = [
            fname for fname in model._phone_get_number_fields() if fname in model._fields
        ]
        partner_fields = [
            fname
            for fname in model._mail_get_partner_fields()
            if fname in model._fields and model._fields[fname].comodel_name == "res.partner"
        ]
        if not (sanitized or number_fields or partner_fields):
            raise UserError(
                self.env._(
                    "%(model)s records have no phone number: choose recipients with a mobile or "
                    "phone field (or linked to a contact) to send them SMS.",
                    model=self.env["ir.model"]._get(model._name).display_name,
                )
            )
        return sanitized, number_fields, partner_fields

    # ------------------------------------------------------------
    # SENDING: from recipients to SMS and traces
    # ------------------------------------------------------------

    def action_send_sms(self, res_ids=None):
        """Create one trace per recipient (and an SMS for those who can get one), then queue.

        :param list res_ids: recipients to send to; default: those not yet traced.
        """
        for mailing in self:
            mailing._sms_check_ready_to_send()
            context_user = mailing.user_id or mailing.write_uid or self.env.user
            mailing = mailing.with_context(
                **self.env["res.users"].with_user(context_user).context_get()
            )
            recipient_ids = res_ids or mailing._get_remaining_recipients()
            sms_created = self.env["sms.sms"]
            opt_out_ids = mailing._sms_get_opt_out_ids()
            for batch_ids in split_every(SMS_BATCH_SIZE, recipient_ids, list):
                sms_created |= mailing._sms_send_batch(batch_ids, opt_out_ids)
            mailing._sms_dispatch(sms_created)
            mailing._sms_update_mailing_state()
        return True

    def _sms_send_batch(self, res_ids, opt_out_ids):
        """Build traces and SMS for one batch of recipient ids; returns the SMS created."""
        self.ensure_one()
        records = self.env[self.mailing_model_real].browse(res_ids).exists()
        records -= records.browse(self._sms_get_traced_ids(records.ids))
        if not records:
            return self.env["sms.sms"]
        recipients = self._sms_get_recipients_numbers(records)
        numbers = {info["sanitized"] for info in recipients.values() if info["sanitized"]}
        blacklisted = self._sms_get_blacklisted_numbers(numbers)
        seen = self._sms_get_seen_numbers(numbers)

        skipped = {}  # res_id: (status, failure_type)
        to_send = []
        for record in records:
            info = recipients[record.id]
            number = info["sanitized"]
            if record.id in opt_out_ids:
                skipped[record.id] = ("cancel", "sms_optout")
            elif not info["number"]:
                skipped[record.id] = ("cancel", "sms_number_missing")
            elif not number:
                skipped[record.id] = ("bounce", "sms_number_format")
            elif number in blacklisted:
                skipped[record.id] = ("cancel", "sms_blacklist")
            elif number in seen:
                skipped[record.id] = ("cancel", "sms_duplicate")
            else:
                seen.add(number)
                to_send.append(record)

        to_send = records.browse([record.id for record in to_send])
        bodies, render_errors = self._sms_render_bodies(to_send)
        traces_values = [
            self._sms_prepare_trace_values(res_id, recipients[res_id], status, failure_type)
            for res_id, (status, failure_type) in skipped.items()
        ]
        for res_id, error in render_errors.items():
            values = self._sms_prepare_trace_values(res_id, recipients[res_id], "error", "unknown")
            values["failure_reason"] = error
            traces_values.append(values)

        sms_values, sms_traces_values = [], []
        for record in to_send.filtered(lambda r: r.id in bodies):
            trace_values = self._sms_prepare_trace_values(
                record.id, recipients[record.id], "outgoing"
            )
            body = bodies[record.id]
            if self.sms_allow_unsubscribe:
                body = self._sms_add_unsubscribe_line(body, trace_values["sms_code"])
            sms_values.append(
                {
                    "body": body,
                    "number": recipients[record.id]["sanitized"],
                    "partner_id": recipients[record.id]["partner"].id,
                    "mailing_id": self.id,
                    "state": "outgoing",
                }
            )
            sms_traces_values.append(trace_values)

        sms_records = self.env["sms.sms"].sudo().create(sms_values)
        for sms, trace_values in zip(sms_records, sms_traces_values, strict=True):
            trace_values["sms_id_int"] = sms.id
            trace_values["sms_tracker_ids"] = [(0, 0, {"sms_uuid": sms.uuid})]
        self.env["mailing.trace"].sudo().create(traces_values + sms_traces_values)
        sms_records._sms_write_bodies(sms_records._update_body_short_links())
        return sms_records

    def _sms_prepare_trace_values(self, res_id, recipient, status, failure_type=False):
        return {
            "trace_type": "sms",
            "mass_mailing_id": self.id,
            "model": self.mailing_model_real,
            "res_id": res_id,
            "sms_number": recipient["sanitized"] or recipient["number"] or False,
            "sms_code": self.env["mailing.trace"]._sms_generate_code(),
            "trace_status": status,
            "failure_type": failure_type,
        }

    def _sms_get_traced_ids(self, res_ids):
        """Recipients of this batch that already have a trace in this mailing."""
        self.env.cr.execute(
            SQL(
                """SELECT res_id FROM mailing_trace
                    WHERE mass_mailing_id = %s AND model = %s AND res_id = ANY(%s)""",
                self.id,
                self.mailing_model_real,
                list(res_ids),
            )
        )
        return [row[0] for row in self.env.cr.fetchall()]

    def _sms_get_recipients_numbers(self, records):
        """{res_id: {number, sanitized (E.164 or False), partner}} for ``records``.

        The number comes from the record's own phone fields first, then from its contacts;
        numbers without country code are read with the record's country, else its
        contact's, else the company's (RELIABILITY row 3).
        """
        sanitized_fname, number_fields, partner_fields = self._sms_get_number_sources()
        countries = records._phone_get_country()
        no_partner = self.env["res.partner"]
        result = {}
        for record in records:
            partners = no_partner
            for fname in partner_fields:
                partners |= record[fname]
            partner = partners[:1]
            number = next((record[fname] for fname in number_fields if record[fname]), False)
            sanitized = sanitized_fname and record[sanitized_fname]
            country = countries.get(record.id) or partner.country_id
            if number and not sanitized:
                sanitized = record._phone_format(number=number, country=country or False)
            if not number:
                for candidate in partners:
                    number = candidate.mobile or candidate.phone
                    if number:
                        partner = candidate
                        sanitized = candidate.phone_sanitized or candidate._phone_format(
                            number=number, country=country or candidate.country_id or False
                        )
                        break
            result[record.id] = {"number": number, "sanitized": sanitized, "partner": partner}
        return result

    def _sms_get_blacklisted_numbers(self, numbers):
        if not numbers:
            return set()
        blacklist = (
            self.env["phone.blacklist"]
            .sudo()
            .search_fetch([("number", "in", list(numbers)), ("active", "=", True)], ["number"])
        )
        return set(blacklist.mapped("number"))

    def _sms_get_seen_numbers(self, numbers):
        """Numbers already traced by this mailing (or its A/B test siblings)."""
        if not numbers:
            return set()
        if self.ab_testing_enabled and self.campaign_id:
            mailing_ids = self._get_ab_testing_siblings_mailings().ids or [self.id]
        else:
            mailing_ids = [self.id]
        self.env.cr.execute(
            SQL(
                """SELECT DISTINCT sms_number FROM mailing_trace
                    WHERE mass_mailing_id = ANY(%s) AND trace_type = 'sms'
                      AND sms_number = ANY(%s) AND trace_status != 'cancel'""",
                mailing_ids,
                list(numbers),
            )
        )
        return {row[0] for row in self.env.cr.fetchall()}

    def _sms_get_opt_out_ids(self):
        """Recipient ids opted out, from the target model's hook (COMPAT)."""
        self.ensure_one()
        model = self.env[self.mailing_model_name]
        if hasattr(model, "_mailing_get_opt_out_list_sms"):
            return set(model._mailing_get_opt_out_list_sms(self))
        return set()

    def _sms_render_bodies(self, records):
        """({res_id: body}, {res_id: error}): one broken record does not stop the others."""
        self.ensure_one()
        if not records:
            return {}, {}
        template = self._sms_shorten_template_links(self.body_plaintext or "")
        if not PLACEHOLDER_PATTERN.search(template):
            return dict.fromkeys(records.ids, template), {}
        try:
            bodies = self._sms_render_template(template, records.ids)
        except Exception:  # noqa: BLE001 - isolate the failing records below
            bodies, errors = {}, {}
            for res_id in records.ids:
                try:
                    bodies.update(self._sms_render_template(template, [res_id]))
                except Exception as error:  # noqa: BLE001
                    _logger.info("SMS mailing %s: cannot render for record %s", self.id, res_id)
                    errors[res_id] = self.env._(
                        "The SMS text could not be written: %(error)s", error=error
                    )
            return self._sms_shorten_rendered_links(bodies), errors
        return self._sms_shorten_rendered_links(bodies), {}

    def _sms_render_template(self, template, res_ids):
        return self.env["mail.render.mixin"]._render_template(
            template, self.mailing_model_real, res_ids, engine="inline_template"
        )

    def _sms_shorten_template_links(self, template):
        """Shorten the links written in the body once per mailing (C9)."""
        if not template:
            return template
        # links built from placeholders are only known after rendering
        protected = {}

        def protect(match):
            key = f"\x00{len(protected)}\x00"
            protected[key] = match.group(0)
            return key

        masked = PLACEHOLDER_PATTERN.sub(protect, template)
        masked = re.sub(r"https?://\S*\x00\d+\x00\S*", protect, masked)
        shortened = self._sms_shorten_text_links(masked)
        for key, value in protected.items():
            shortened = shortened.replace(key, value)
        return shortened

    def _sms_shorten_rendered_links(self, bodies):
        cache = {}
        result = {}
        for res_id, body in bodies.items():
            if body not in cache:
                cache[body] = self._sms_shorten_text_links(body)
            result[res_id] = cache[body]
        return result

    def _sms_shorten_text_links(self, text):
        if not text or "http" not in text:
            return text
        return self.env["mail.render.mixin"]._shorten_links_text(
            text, self._get_link_tracker_values()
        )

    def _sms_get_unsubscribe_url(self, code):
        return url_join(self.get_base_url(), f"/sms/{self.id}/{code}")

    def _sms_add_unsubscribe_line(self, body, code):
        return "%s\nSTOP SMS: %s" % (body.rstrip(), self._sms_get_unsubscribe_url(code))

    def _sms_dispatch(self, sms_records):
        """Leave the SMS to the queue, or send them at once when asked (F1 "Send Directly")."""
        if not sms_records:
            return
        if self.sms_force_send:
            sms_records.sudo().send(
                unlink_failed=False,
                unlink_sent=True,
                auto_commit=not getattr(threading.current_thread(), "testing", False),
            )
        else:
            self.env.ref("sms.ir_cron_sms_scheduler_action").sudo()._trigger()

    def _sms_update_mailing_state(self):
        """sending while SMS wait in the queue, done once none does (SPEC G3)."""
        for mailing in self:
            outgoing = (
                self.env["mailing.trace"]
                .sudo()
                .search_count(
                    [("mass_mailing_id", "=", mailing.id), ("trace_status", "=", "outgoing")],
                    limit=1,
                )
            )
            if outgoing:
                if mailing.state != "sending":
                    mailing.state = "sending"
            elif mailing.state != "done":
                mailing.write(
                    {
                        "state": "done",
                        "sent_date": fields.Datetime.now(),
                        "kpi_mail_required": not mailing.sent_date,
                    }
                )

    def _sms_retry_failed(self):
        failed_traces = (
            self.env["mailing.trace"]
            .sudo()
            .search(
                [
                    ("mass_mailing_id", "in", self.ids),
                    ("trace_type", "=", "sms"),
                    ("trace_status", "=", "error"),
                ]
            )
        )
        sms_sudo = self.env["sms.sms"].sudo().browse(failed_traces.mapped("sms_id_int")).exists()
        sms_sudo = sms_sudo.filtered(lambda s: s.state == "error")
        with_sms = failed_traces.filtered(lambda t: t.sms_id_int in sms_sudo.ids)
        # SMS the provider refused are sent again under the same id; traces that never got
        # an SMS (rendering failed) are rebuilt by the next run of the mailing.
        (failed_traces - with_sms).unlink()
        sms_sudo.write({"state": "outgoing", "failure_type": False})
        with_sms.write({"trace_status": "outgoing", "failure_type": False, "failure_reason": False})
        self.write({"state": "in_queue"})
        self.env.ref("mass_mailing.ir_cron_mass_mailing_queue")._trigger()
        if sms_sudo:
            self.env.ref("sms.ir_cron_sms_scheduler_action").sudo()._trigger()

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
                "col_subtitle": self.env._("RECEIVED (%(count)i)", count=self.delivered),
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
