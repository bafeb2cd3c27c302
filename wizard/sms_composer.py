# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
from odoo import fields, models

from ..models.sms_tracker import sms_trace_status
from ..tools.sms_text import opt_out_line


class SmsComposer(models.TransientModel):
    """The SMS composer in mass mode for a mailing (COMPAT tier B, for the addons that send
    a mailing's SMS through it): each SMS belongs to the mailing and has its trace, with
    the opt-out line of that trace, and the mailing's opt-outs and traced recipients are
    skipped like in a campaign."""

    _inherit = "sms.composer"

    mailing_id = fields.Many2one("mailing.mailing", help="The SMS mailing these SMS belong to.")
    utm_campaign_id = fields.Many2one(
        "utm.campaign", "UTM Campaign", ondelete="set null", help="Campaign of these SMS."
    )
    mass_sms_allow_unsubscribe = fields.Boolean(
        "Add the Opt-out Line",
        default=True,
        help="Each SMS of the mailing ends with the STOP SMS link of its recipient.",
    )

    def _get_unsubscribe_url(self, res_id, trace_code, number):
        """The opt-out page of the recipient's trace (the code opens it, SPEC O4)."""
        return self.mailing_id._sms_get_unsubscribe_url(trace_code)

    def _get_unsubscribe_info(self, url):
        """The line an SMS ends with, never shortened (COMPAT)."""
        return opt_out_line(url)

    def _get_optout_record_ids(self, records, recipients_info):
        optout_ids = super()._get_optout_record_ids(records, recipients_info)
        if self.mailing_id and hasattr(records, "_mailing_get_opt_out_list_sms"):
            optout_ids += records._mailing_get_opt_out_list_sms(self.mailing_id)
        return optout_ids

    def _get_done_record_ids(self, records, recipients_info):
        """Also the recipients the mailing already has a trace for (one per recipient)."""
        done_ids = super()._get_done_record_ids(records, recipients_info)
        if self.mailing_id:
            done_ids += self.mailing_id._sms_get_traced_ids(records.ids)
        return done_ids

    def _prepare_body_values(self, records):
        """A mailing's links are shortened as its campaigns shorten them: once in the text,
        then those built from placeholders, once per distinct body."""
        mailing = self.mailing_id
        if not mailing:
            return super()._prepare_body_values(records)
        if self.template_id and self.body == self.template_id.body:
            bodies = super()._prepare_body_values(records)
        else:
            template = mailing._sms_shorten_template_links(self.body or "")
            bodies = self.env["mail.render.mixin"]._render_template(
                template, records._name, records.ids
            )
        return mailing._sms_shorten_rendered_links(bodies)

    def _prepare_mass_sms_values(self, records):
        """SMS of a mailing: a trace each, with its opt-out code and line."""
        values_by_id = super()._prepare_mass_sms_values(records)
        mailing = self.mailing_id
        if not mailing:
            return values_by_id
        traced = set(mailing._sms_get_traced_ids(records.ids))
        for res_id, values in values_by_id.items():
            if res_id in traced:  # one trace per recipient: its SMS stays cancelled, apart
                continue
            failure_type = values["failure_type"] or False
            # a malformed number bounces (SPEC G3), whatever the composer's state says
            status = (
                "bounce"
                if failure_type == "sms_number_format"
                else sms_trace_status(values["state"], failure_type)
            )
            trace_values = mailing._sms_prepare_trace_values(
                res_id,
                {"number": values["number"], "sanitized": values["number"]},
                status,
                failure_type,
            )
            body = values["body"] or ""
            if self.mass_sms_allow_unsubscribe:
                url = self._get_unsubscribe_url(res_id, trace_values["sms_code"], values["number"])
                body = f"{body.rstrip()}\n{self._get_unsubscribe_info(url)}"
            values.update(
                body=body,
                mailing_id=mailing.id,
                mailing_trace_ids=[(0, 0, trace_values)],
            )
        return values_by_id

    def _prepare_mass_sms(self, records, sms_record_values):
        """Trackers to receive the delivery reports, and links tagged with each SMS id."""
        sms_all = super()._prepare_mass_sms(records, sms_record_values)
        mailing_sms = sms_all.filtered("mailing_id")
        if mailing_sms:
            self.env["sms.tracker"].sudo().create(
                [
                    {"sms_uuid": sms.uuid, "mailing_trace_id": sms.mailing_trace_ids[:1].id}
                    for sms in mailing_sms
                ]
            )
            for sms_id, body in mailing_sms._update_body_short_links().items():
                sms = mailing_sms.browse(sms_id)
                if body != sms.body:
                    sms.body = body
        return sms_all
