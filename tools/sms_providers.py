# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
"""The SMS providers (issue 26): one small interface, the shape of Odoo's ``SmsApi``, and a
class per provider; ``res.company._get_sms_api_class()`` picks the company's.

A provider class:

- is built with ``cls(env)``;
- ``_send_sms_batch(messages, delivery_reports_url=False)`` sends a batch: ``messages`` is
  ``[{"content": text, "numbers": [{"uuid": sms uuid, "number": e164}]}]``, where a number
  may also carry ``attempt`` (the how-manieth try of this SMS: above 1, an earlier one may
  have reached the provider) and ``since`` (when the SMS was created). It answers per SMS
  ``[{"uuid": ..., "state": ...}]`` with Odoo's IAP states (``success``, ``processing``,
  ``insufficient_credit``, ``wrong_number_format``, ``unregistered``...) or ours:
  ``rejected`` (refused for its content or another reason of the provider), ``blacklisted``
  (the recipient opted out at the carrier: cancelled, number blacklisted), ``throttled``
  (not sent, try later, optional ``retry_after`` seconds) and ``unknown`` (may or may not
  have been sent: tried again under the same uuid). An answer may add
  ``provider_message_id`` (the provider's id of the message) and ``failure_reason`` (words
  for the marketer). It raises ``InsufficientCreditError`` when the whole call is refused and
  any other exception when the outcome of the whole call is unknown;
- ``_get_sms_api_error_messages()`` gives ``{state: message for the marketer}``;
- optionally ``_sms_chunk_size``: SMS per call for a provider that takes them one by one; the
  dispatcher then hands a claimed batch over in chunks, each checked again (blacklist, opt-out)
  just before it leaves;
- ``_sms_test_connection()`` checks the account: returns what the provider said, in plain
  words, or raises ``UserError`` saying what is wrong.
"""

from odoo.exceptions import UserError

from odoo.addons.sms.tools.sms_api import SmsApi

from .sms_http import HttpSmsApi
from .sms_twilio import TwilioSmsApi


class IapSmsApi(SmsApi):
    """Odoo IAP, the default provider: Odoo's own client, unchanged, and its account check."""

    def _send_sms_batch(self, messages, delivery_reports_url=False):
        """Odoo's call, each number as Odoo's IAP reads it (uuid, number): the hints for
        providers that look an SMS up before sending it again (attempt, since) stay here;
        IAP knows a repeat by its uuid, and a date would not even encode as JSON."""
        messages = [
            {
                **message,
                "numbers": [
                    {"uuid": number["uuid"], "number": number["number"]}
                    for number in message["numbers"]
                ],
            }
            for message in messages
        ]
        return super()._send_sms_batch(messages, delivery_reports_url=delivery_reports_url)

    def _sms_test_connection(self):
        env = self.env
        credit = env["iap.account"].sudo().get_credits("sms")
        if credit is None or credit < 0:
            raise UserError(
                env._(
                    "Odoo IAP could not be reached or refused the account: check that this "
                    "server can reach the internet, and the SMS account in Settings > "
                    "Technical > IAP Accounts."
                )
            )
        if not credit:
            raise UserError(
                env._("Odoo IAP answers, but the account has no SMS credits: buy some to send.")
            )
        return env._("Odoo IAP answers: %(credit)s SMS credits left.", credit=credit)


# res.company.sms_provider -> its class
SMS_PROVIDERS = {"iap": IapSmsApi, "twilio": TwilioSmsApi, "http": HttpSmsApi}
