# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
from odoo import SUPERUSER_ID, fields, models

SMS_STATE_TO_TRACE_STATUS = {
    "outgoing": "outgoing",
    "process": "process",
    "pending": "pending",
    "sent": "sent",
    "error": "error",
    "canceled": "cancel",
}


def sms_trace_status(sms_state, failure_type=False):
    """Trace status for an SMS state; a malformed number is a bounce (SPEC G3)."""
    status = SMS_STATE_TO_TRACE_STATUS[sms_state]
    if status == "error" and failure_type == "sms_number_format":
        return "bounce"
    return status


class SmsTracker(models.Model):
    """Provider answers and delivery reports also update the mailing traces (SPEC G3, C3)."""

    _inherit = "sms.tracker"

    mailing_trace_id = fields.Many2one("mailing.trace", ondelete="cascade", index="btree_not_null")
    sms_provider_message_id = fields.Char(
        "Provider Message ID",
        index="btree_not_null",
        readonly=True,
        help="The provider's id of the message (Twilio's SM...), once it accepted the SMS.",
    )

    def _action_update_from_sms_state(self, sms_state, failure_type=False, failure_reason=False):
        super()._action_update_from_sms_state(
            sms_state, failure_type=failure_type, failure_reason=failure_reason
        )
        self._sms_update_traces(
            sms_trace_status(sms_state, failure_type), failure_type, failure_reason
        )

    def _action_update_from_provider_error(self, provider_error):
        error_status, failure_type, failure_reason = super()._action_update_from_provider_error(
            provider_error
        )
        self._sms_update_traces(error_status or "error", failure_type, failure_reason)
        return error_status, failure_type, failure_reason

    def _sms_update_from_delivery_failure(self, failure_type, failure_reason=False):
        """A delivery report said the SMS did not arrive, with the provider's reason: a bounce
        for Odoo's bounce types (invalid destination, not allowed, rejected), else an error."""
        status = "bounce" if failure_type in self.env["sms.sms"].BOUNCE_DELIVERY_ERRORS else None
        self._update_sms_notifications(
            status or "exception", failure_type=failure_type, failure_reason=failure_reason
        )
        self._sms_update_traces(status or "error", failure_type, failure_reason)

    def _sms_update_traces(self, status, failure_type=False, failure_reason=False):
        traces = self.mailing_trace_id
        if not traces:
            return
        if status in ("outgoing", "process", "pending", "sent"):
            failure_type = failure_reason = False
        traces._sms_update_status(status, failure_type, failure_reason)
        mailings = traces.mass_mailing_id
        if self.env.user._is_public():
            # a provider's webhook (Odoo's /sms/status runs as the public user): the state
            # change is the system's, written and tracked as OdooBot, as Odoo's crons are
            mailings = mailings.with_user(SUPERUSER_ID)
        mailings._sms_update_mailing_state()
