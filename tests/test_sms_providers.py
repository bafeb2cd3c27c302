# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
import json
from types import SimpleNamespace
from typing import ClassVar
from unittest.mock import patch

import requests

from odoo.exceptions import AccessError, UserError
from odoo.tests import TransactionCase, tagged

from odoo.addons.iap.tools import iap_tools
from odoo.addons.mass_mailing_sms.tests.common import MassSMSCommon
from odoo.addons.mass_mailing_sms.tools.sms_providers import SMS_PROVIDERS, IapSmsApi
from odoo.addons.sms.tools.sms_api import SmsApi


class FakeProviderApi:
    """A provider of the interface, answering in memory: numbers ending in 99 are refused as
    malformed, those ending in 98 get no answer, the rest are accepted."""

    calls: ClassVar[list] = []  # messages of each call

    def __init__(self, env):
        self.env = env

    def _send_sms_batch(self, messages, delivery_reports_url=False):
        FakeProviderApi.calls.append(messages)
        states = {"99": "wrong_number_format", "98": None}
        return [
            {"uuid": number["uuid"], "state": states.get(number["number"][-2:], "success")}
            for message in messages
            for number in message["numbers"]
            if states.get(number["number"][-2:], "success")
        ]

    def _get_sms_api_error_messages(self):
        return {}

    def _sms_test_connection(self):
        return "Fake provider answers."


@tagged("post_install", "-at_install", "mass_mailing_sms")
class TestSmsProviders(TransactionCase):
    """Issue 26.1: one provider interface, chosen per company; Odoo IAP behind it by default,
    sending as Odoo does, and telling in plain words whether its account works."""

    def test_iap_is_the_default_provider(self):
        company = self.env["res.company"].create({"name": "Provider Test Company"})
        self.assertEqual(company.sms_provider, "iap")
        self.assertIs(company._get_sms_api_class(), IapSmsApi)
        self.assertTrue(issubclass(IapSmsApi, SmsApi), "Odoo's IAP client, unchanged")
        api = self.env["sms.sms"].with_company(company)._sms_get_api()
        self.assertIsInstance(api, IapSmsApi)

    def test_every_provider_has_the_interface(self):
        for name, api_class in SMS_PROVIDERS.items():
            for method in (
                "_send_sms_batch",
                "_get_sms_api_error_messages",
                "_sms_test_connection",
            ):
                self.assertTrue(callable(getattr(api_class, method, None)), f"{name}: {method}")

    def test_iap_connection_answers_in_plain_words(self):
        company = self.env.company
        token = self.env["iap.account"].sudo().get("sms").account_token
        with patch.object(iap_tools, "iap_jsonrpc", return_value=42) as call:
            self.assertEqual(
                company._sms_test_connection(), "Odoo IAP answers: 42 SMS credits left."
            )
        self.assertEqual(call.call_args.kwargs["params"]["account_token"], token)

        with (
            patch.object(iap_tools, "iap_jsonrpc", return_value=0),
            self.assertRaisesRegex(UserError, "the account has no SMS credits: buy some"),
        ):
            company._sms_test_connection()

        refused = AccessError("The url that this service requested returned an error.")
        with (
            patch.object(iap_tools, "iap_jsonrpc", side_effect=refused),
            self.assertRaisesRegex(UserError, "could not be reached or refused the account"),
        ):
            company._sms_test_connection()

    def test_settings_test_connection(self):
        """Settings > SMS Marketing: the provider and its "Test connection" button."""
        settings = self.env["res.config.settings"].create({})
        self.assertEqual(settings.sms_provider, "iap")
        self.env["iap.account"].sudo().get("sms")
        with patch.object(iap_tools, "iap_jsonrpc", return_value=7):
            action = settings.action_sms_test_connection()
        self.assertEqual(action["tag"], "display_notification")
        self.assertEqual(action["params"]["message"], "Odoo IAP answers: 7 SMS credits left.")
        arch = settings.get_views([(False, "form")])["views"]["form"]["arch"]
        self.assertIn('name="action_sms_test_connection"', arch)
        self.assertIn('name="sms_provider"', arch)

    def test_other_sms_leave_through_the_company_provider(self):
        """Chatter and template SMS (no mailing) go to the company's provider too."""
        FakeProviderApi.calls = []
        sms = self.env["sms.sms"].create(
            [{"number": f"+324700000{end}", "body": "Your order is ready"} for end in (11, 99, 98)]
        )
        with patch.object(
            type(self.env.company), "_get_sms_api_class", return_value=FakeProviderApi
        ):
            sms.send(unlink_sent=False)
        self.assertEqual(
            [number["number"] for number in FakeProviderApi.calls[0][0]["numbers"]],
            sms.mapped("number"),
            "one call, every SMS",
        )
        self.assertEqual(sms.mapped("state"), ["pending", "error", "outgoing"])
        self.assertEqual(sms[1].failure_type, "sms_number_format")

    def test_other_sms_provider_failure(self):
        sms = self.env["sms.sms"].create({"number": "+32470000012", "body": "Hi"})
        with (
            patch.object(
                type(self.env.company), "_get_sms_api_class", return_value=FakeProviderApi
            ),
            patch.object(FakeProviderApi, "_send_sms_batch", side_effect=OSError("unreachable")),
        ):
            sms.send(unlink_failed=False)
        self.assertEqual((sms.state, sms.failure_type), ("error", "sms_server"))


@tagged("post_install", "-at_install", "mass_mailing_sms")
class TestSmsIapRequest(MassSMSCommon):
    """The request that leaves for Odoo IAP, caught at the HTTP boundary: the JSON-RPC body
    Odoo's IAP reads. (18.0.2.4.0 added the dispatcher's hints for Twilio to every number,
    a date among them: no IAP request could be encoded and no mailing SMS left.)"""

    iap_requests: ClassVar[list] = []

    @classmethod
    def _request_handler(cls, s, r, /, **kw):
        if not r.url.endswith("/api/sms/3/send"):
            return super()._request_handler(s, r, **kw)
        payload = json.loads(r.body)
        cls.iap_requests.append(payload)
        result = [
            {"uuid": number["uuid"], "state": "success"}
            for message in payload["params"]["messages"]
            for number in message["numbers"]
        ]
        response = requests.Response()
        response.status_code = 200
        response._content = json.dumps(
            {"jsonrpc": "2.0", "id": payload["id"], "result": result}
        ).encode()
        response.headers["Content-Type"] = "application/json"
        return response

    def test_mailing_sms_reach_iap_as_odoo_sends_them(self):
        type(self).iap_requests = []
        partners = self.env["res.partner"].create(
            [{"name": f"IAP {idx}", "mobile": f"+3247011220{idx}"} for idx in range(2)]
        )
        mailing = self._create_sms_mailing(mailing_domain=[("id", "in", partners.ids)])
        mailing.action_send_sms()
        # Odoo's IAP client refuses to run in a test thread: lifted for its own check only
        # (the dispatcher still sees a test and commits nothing); the request is caught above
        with patch.object(
            iap_tools, "threading", SimpleNamespace(current_thread=lambda: SimpleNamespace())
        ):
            self.env["sms.sms"].sudo()._process_queue()
        self.assertEqual(len(self.iap_requests), 1, "one IAP call for the batch")
        numbers = [
            number
            for message in self.iap_requests[0]["params"]["messages"]
            for number in message["numbers"]
        ]
        self.assertEqual(
            sorted(number["number"] for number in numbers), sorted(partners.mapped("mobile"))
        )
        self.assertEqual({frozenset(number) for number in numbers}, {frozenset({"uuid", "number"})})
        self.assertEqual(mailing.mailing_trace_ids.mapped("trace_status"), ["pending", "pending"])
