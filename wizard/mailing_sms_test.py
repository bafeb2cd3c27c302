# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
import logging
import re
from uuid import uuid4

from markupsafe import Markup, escape

from odoo import api, fields, models
from odoo.exceptions import UserError

_logger = logging.getLogger(__name__)

NUMBER_IN_LINE = re.compile(r"\+?\(?\d[\d\s().\-/]{4,}\d")
SAMPLE_OPT_OUT_CODE = "TestSample"  # 10 characters like a real code; opens no page


class MailingSmsTest(models.TransientModel):
    """Send a sample of an SMS mailing to a few numbers (SPEC A3)."""

    _name = "mailing.sms.test"
    _description = "Test SMS Mailing"

    numbers = fields.Text(
        "Recipients",
        required=True,
        default=lambda self: self._default_numbers(),
        help="One recipient a line: a number, or a name, a comma and a number.",
    )
    mailing_id = fields.Many2one("mailing.mailing", required=True, ondelete="cascade")
    # what the sample will cost, whatever the mailing's state (the estimate of a sent
    # mailing is 0: nothing is left to send)
    sms_parts = fields.Integer("SMS Parts", compute="_compute_sms_parts")
    sms_encoding = fields.Selection(
        [("gsm7", "GSM-7"), ("unicode", "Unicode")], "Encoding", compute="_compute_sms_parts"
    )

    sms_senders = fields.Text(
        "Senders",
        compute="_compute_sms_senders",
        help="The sender each test SMS leaves from, by the country of its number (issue 29).",
    )

    @api.depends("numbers")
    def _compute_sms_senders(self):
        """Per valid number, the sender it gets; the provider's rule when it picks itself."""
        company = self.env.company.sudo()
        summary = company._sms_sender_summary()
        picks = company._sms_picks_senders() and company.sms_twilio_number_ids
        choice = company._sms_sender_choice() if picks else None
        for wizard in self:
            if not choice:
                wizard.sms_senders = summary or False
                continue
            lines = []
            for _line, e164 in wizard._get_e164_numbers():
                if e164:
                    lines.append(
                        self.env._(
                            "%(number)s: from %(sender)s",
                            number=e164,
                            sender=choice.sender_for(e164),
                        )
                    )
            wizard.sms_senders = "\n".join(lines) or summary

    @api.depends("mailing_id.body_plaintext", "mailing_id.sms_allow_unsubscribe", "numbers")
    def _compute_sms_parts(self):
        """Parts of the text as the sample goes out: placeholders filled for the sample
        recipient, links at their short length, the brand prefix and the opt-out footer of
        each number's country included (the longest, for several numbers)."""
        for wizard in self:
            counted = {"parts": 0, "unicode": False, "parts_by_footer": []}
            mailing = wizard.mailing_id
            if mailing.mailing_model_real:
                sample = wizard._get_sample_record()
                counted = mailing._sms_estimate_texts(sample.ids)
            parts = counted["parts"]
            numbers = [number for _line, number in wizard._get_e164_numbers()]
            if numbers and len(counted["parts_by_footer"]) == 2:
                compliance = mailing._sms_compliance()
                link_parts, stop_parts = counted["parts_by_footer"]
                parts = max(
                    stop_parts if compliance.replies_stop(number) else link_parts
                    for number in numbers
                )
            wizard.sms_parts = parts
            wizard.sms_encoding = "unicode" if counted["unicode"] else "gsm7"

    @api.model
    def _default_numbers(self):
        user = self.env.user
        number = user.mobile or user.phone
        return f"{user.name}, {number}" if number else False

    def _get_numbers(self):
        """[(line, number)] for each non-empty line of the recipients."""
        numbers = []
        for line in (self.numbers or "").splitlines():
            line = line.strip()
            if not line:
                continue
            found = NUMBER_IN_LINE.findall(line.rsplit(",", 1)[-1]) or NUMBER_IN_LINE.findall(line)
            numbers.append((line, found[-1].strip() if found else False))
        return numbers

    def _get_e164_numbers(self):
        """[(line, number in E.164 or False)] for each non-empty line of the recipients."""
        return [
            (line, number and self.env.user._phone_format(number=number))
            for line, number in self._get_numbers()
        ]

    def _get_sample_record(self):
        """The recipient the sample is written for: the mailing's first, else any record."""
        mailing = self.mailing_id
        model = self.env[mailing.mailing_model_real]
        return model.search(mailing._parse_mailing_domain(), limit=1) or model.search([], limit=1)

    def _render_body(self):
        """The mailing's text as one real recipient would get it; a broken template raises."""
        mailing = self.mailing_id
        body = mailing._sms_shorten_template_links(mailing.body_plaintext or "")
        record = self._get_sample_record()
        if record:
            try:
                body = mailing._sms_render_template(body, record.ids)[record.id]
            except Exception as error:
                raise UserError(
                    self.env._("The SMS text could not be written: %(error)s", error=error)
                ) from error
            body = mailing._sms_shorten_text_links(body)
        return body

    def action_send_sms(self):
        self.ensure_one()
        if not (self.mailing_id.body_plaintext or "").strip():
            raise UserError(self.env._("Write the text of the SMS before testing it."))
        lines = self._get_numbers()
        if not lines:
            raise UserError(self.env._("Add at least one number to send the test to."))
        body = self._render_body()
        sanitized = {}
        invalid = []
        for line, e164 in self._get_e164_numbers():
            if e164:
                sanitized.setdefault(e164, line)
            else:
                invalid.append(line)
        results = []
        if sanitized:
            uuid_to_number = {uuid4().hex: number for number in sanitized}
            # each number gets the brand prefix and the footer of its country (issue 29);
            # the link's code is as long as a real one, so the sample has a real SMS's length
            compliance = self.mailing_id._sms_compliance()
            url = self.mailing_id._sms_get_unsubscribe_url(SAMPLE_OPT_OUT_CODE)
            numbers_by_body = {}
            for sms_uuid, number in uuid_to_number.items():
                numbers_by_body.setdefault(compliance.apply(body, number, url), []).append(
                    {"number": number, "uuid": sms_uuid}
                )
            messages = [
                {"content": content, "numbers": numbers}
                for content, numbers in numbers_by_body.items()
            ]
            try:
                # the SMS account is read (and created) as superuser, as the SMS queue does
                answers = (
                    self.env["sms.sms"]
                    .sudo()
                    ._sms_get_api()
                    ._send_sms_batch(messages, delivery_reports_url=False)
                )
            except Exception as error:  # noqa: BLE001 - reported to the marketer below
                _logger.info("Test SMS of mailing %s failed: %s", self.mailing_id.id, error)
                answers = [{"uuid": u, "state": "server_error"} for u in uuid_to_number]
            results = [(uuid_to_number.get(a["uuid"]), a["state"]) for a in answers]
        self._post_report(results, invalid)
        return self._get_result_action(results, invalid)

    def _post_report(self, results, invalid):
        messages = self.env["sms.sms"].sudo()._sms_get_api()._get_sms_api_error_messages()
        lines = []
        for number, state in results:
            if state in ("success", "processing", "delivered", "sent"):
                lines.append(self.env._("Test SMS successfully sent to %(number)s", number=number))
            else:
                # our own messages may hold a link (buy credits); a provider's raw state is text
                reason = Markup(messages[state]) if state in messages else state
                # formatted as Markup so that only the provider's text gets escaped
                template = escape(
                    self.env._("Test SMS could not be sent to %(number)s: %(reason)s")
                )
                lines.append(template % {"number": number, "reason": reason})
        for line in invalid:
            lines.append(
                self.env._("Test SMS not sent to “%(line)s”: not a valid number", line=line)
            )
        body = Markup("<ul>%s</ul>") % Markup().join(Markup("<li>%s</li>") % line for line in lines)
        self.mailing_id._message_log(body=body)

    def _get_result_action(self, results, invalid):
        states = {state for _number, state in results}
        if "insufficient_credit" in states:
            # SPEC E1: the "Insufficient credits" dialog, with its buy-credits link
            return {
                "type": "ir.actions.client",
                "tag": "mass_mailing_sms_insufficient_credits",
                "params": {
                    "mailing_id": self.mailing_id.id,
                    "is_test": True,
                    "next": {"type": "ir.actions.act_window_close"},
                },
            }
        failed = len(invalid) + sum(
            1
            for _n, state in results
            if state not in ("success", "processing", "delivered", "sent")
        )
        if not failed:
            return True
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "danger",
                "title": self.env._("Test SMS"),
                "message": self.env._(
                    "%(failed)s of %(total)s test SMS could not be sent: see the mailing's chatter.",
                    failed=failed,
                    total=len(results) + len(invalid),
                ),
                "next": {"type": "ir.actions.act_window_close"},
            },
        }
