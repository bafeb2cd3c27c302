# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
from odoo import api, fields, models

from odoo.addons.sms.tools.sms_api import SmsApi

from ..tools.quiet_hours import check_times_of_day


class ResCompany(models.Model):
    """The company's SMS provider, and the quiet hours of its SMS mailings (issue 9), in each
    recipient's local time."""

    _inherit = "res.company"

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

    def _get_sms_api_class(self):
        """The class that talks to this company's SMS provider (Odoo 19's name, COMPAT).

        Every provider class has Odoo's ``SmsApi`` interface, which is all the SMS queue and
        the test dialog use:

        - ``cls(env)``;
        - ``_send_sms_batch(messages, delivery_reports_url=False)``: ``messages`` is
          ``[{"content": text, "numbers": [{"uuid": sms uuid, "number": e164}]}]``; returns
          ``[{"uuid": ..., "state": ...}]`` with Odoo's IAP states (``success``,
          ``processing``, ``insufficient_credit``, ``wrong_number_format``...); raises
          ``InsufficientCreditError`` when the whole call is refused, any other exception
          when the outcome is unknown (the queue then retries under the same uuids);
        - ``_get_sms_api_error_messages()``: ``{state: message for the marketer}``.

        Odoo's IAP service is the only provider for now.
        """
        return SmsApi
