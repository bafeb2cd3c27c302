# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
"""Shared fixtures for SMS mailing tests; Odoo's test_mass_mailing and test_mail_full import
``MassSMSCase`` and ``MassSMSCommon`` from here (COMPAT tier A).

The SMS provider is mocked at its boundary only, by ``mockSMSGateway()`` from the ``sms``
addon: everything between the mailing and ``SmsApi`` runs for real.
"""

import random
import re
from contextlib import contextmanager
from unittest.mock import patch

from werkzeug.urls import url_join

from odoo.addons.link_tracker.tests.common import MockLinkTracker
from odoo.addons.mail.tests.common import mail_new_test_user
from odoo.addons.mass_mailing.tests.common import MassMailCommon
from odoo.addons.mass_mailing_sms.models.mailing_sms_campaign import MailingSmsCampaign
from odoo.addons.mass_mailing_sms.models.sms_sms import SEND_DIRECTLY_KEY
from odoo.addons.sms.tests.common import SMSCase, SMSCommon

# short link of a mailing SMS: <base>/r/<code>/s/<sms id>
SMS_SHORT_LINK = re.compile(r"https?://\S+?/r/(?P<code>[\w-]+)/s/(?P<sms_id>\d+)")

# trace status -> state of its sms.sms, when one exists
TRACE_STATUS_TO_SMS_STATE = {
    "outgoing": "outgoing",
    "process": "process",
    "pending": "pending",
    "sent": "sent",
    "error": "error",
    "cancel": "canceled",
}


class MassSMSCase(SMSCase, MockLinkTracker):
    """Asserts and gateway simulations for SMS mailings."""

    @contextmanager
    def mockSMSGateway(self, *args, **kwargs):
        """Odoo's gateway mock, also aware of the SMS mailings insert in bulk (no ORM create).

        SMS sent with "Send Directly" leave once their transaction commits, which a test never
        does: on leaving the block, the mock runs the dispatcher for them, as the post-commit
        hook would (the others wait for the queue, which tests run explicitly).
        """

        insert_rows = MailingSmsCampaign._sms_insert_rows

        def _sms_insert_rows(mailing, model_name, vals_list, **kwargs):
            ids = insert_rows(mailing, model_name, vals_list, **kwargs)
            if model_name == "sms.sms":
                self._new_sms += self.env["sms.sms"].sudo().browse(ids)
            return ids

        with (
            super().mockSMSGateway(*args, **kwargs),
            patch.object(MailingSmsCampaign, "_sms_insert_rows", _sms_insert_rows),
        ):
            yield
            self._sms_run_sent_directly()

    def _sms_run_sent_directly(self):
        """What the post-commit hook of "Send Directly" does once the transaction commits."""
        sms_ids = self.env.cr.postcommit.data.pop(SEND_DIRECTLY_KEY, None)
        if sms_ids:
            self.env["sms.sms"].sudo()._sms_process_mailing_queue(
                ids=sorted(sms_ids), auto_commit=False
            )

    # ------------------------------------------------------------
    # ASSERTS
    # ------------------------------------------------------------

    def _find_sms_traces(self, mailing, records):
        return (
            self.env["mailing.trace"]
            .sudo()
            .search(
                [
                    ("trace_type", "=", "sms"),
                    ("mass_mailing_id", "in", mailing.ids),
                    ("model", "=", records._name),
                    ("res_id", "in", records.ids),
                ]
            )
        )

    def assertSMSTraces(
        self,
        recipients_info,
        mailing,
        records,
        check_sms=True,
        sent_unlink=False,
        sms_links_info=None,
    ):
        """Check the traces of ``mailing`` for ``records``, one item of ``recipients_info``
        per record (same order), and optionally their SMS and links.

        :param list recipients_info: dicts with keys
          ``record`` (default: the record at the same index in ``records``),
          ``number`` (number stored on the trace; default: the partner's E.164 number),
          ``partner`` (partner of the SMS), ``content`` (text the SMS body contains),
          ``trace_status`` (default ``outgoing``, as Odoo's mail helpers), ``failure_type``;
        :param check_sms: also check the ``sms.sms`` of each trace (or its absence);
        :param sent_unlink: SMS handed to the provider were deleted: check what the
          gateway received instead of the ``sms.sms``;
        :param sms_links_info: one list per recipient of ``(url, is_shortened, params)``;
          ``url`` ``unsubscribe`` stands for the opt-out line;
        :return: the traces, in the order of ``recipients_info``.
        """
        traces = self._find_sms_traces(mailing, records)
        debug_info = "\n".join(
            f"Trace: to {t.sms_number} - status {t.trace_status} ({t.failure_type}) "
            f"- res_id {t.res_id}"
            for t in traces
        )
        self.assertTrue(all(trace.model == records._name for trace in traces))
        self.assertEqual(
            {trace.res_id for trace in traces}, set(records.ids), f"Traces:\n{debug_info}"
        )
        self.assertEqual(len(traces), len(records), "one trace per recipient")

        links_info = sms_links_info or [None] * len(recipients_info)
        ordered = self.env["mailing.trace"].sudo()
        for index, (recipient_info, link_info) in enumerate(
            zip(recipients_info, links_info, strict=True)
        ):
            invalid = set(recipient_info) - {
                "content",
                "failure_type",
                "number",
                "partner",
                "record",
                "trace_status",
            }
            if invalid:
                raise AssertionError(f"assertSMSTraces: invalid input {invalid}")
            record = recipient_info.get("record") or records[index]
            partner = recipient_info.get("partner", self.env["res.partner"])
            number = recipient_info.get("number")
            if number is None and partner:
                number = partner._phone_format()
            status = recipient_info.get("trace_status", "outgoing")
            content = recipient_info.get("content")

            trace = traces.filtered(lambda t, record=record: t.res_id == record.id)
            self.assertEqual(
                len(trace), 1, f"SMS trace of {record} not found or not unique\n{debug_info}"
            )
            self.assertEqual(
                trace.trace_status,
                status,
                f"{record} ({number}): status {trace.trace_status} ({trace.failure_type}), "
                f"expected {status}",
            )
            self.assertEqual(trace.sms_number, number or False, f"number of {record}")
            if "failure_type" in recipient_info or status in ("error", "cancel", "bounce"):
                self.assertEqual(
                    trace.failure_type, recipient_info.get("failure_type"), f"{record}"
                )
            self.assertEqual(len(trace.sms_code or ""), 10, "each trace has its opt-out code")

            body = None
            if check_sms:
                body = self._assert_sms_of_trace(
                    trace, recipient_info, number, status, content, sent_unlink
                )
            if link_info:
                self.assertTrue(body, f"no SMS text to check links of {record}")
                self._assert_sms_links(mailing, trace, body, link_info)
            ordered |= trace
        return ordered

    def _assert_sms_of_trace(self, trace, recipient_info, number, status, content, sent_unlink):
        """Check the SMS behind ``trace``; return its body (or None when none exists)."""
        skipped = status == "cancel" or (
            status == "bounce"
            and trace.failure_type == "sms_number_format"
            and not trace.sms_id_int
        )
        if skipped or (status == "error" and not trace.sms_id_int):
            # skipped at send time: never handed to the SMS queue
            self.assertFalse(
                self._new_sms.filtered(lambda s: s.id == trace.sms_id_int and s.state != "canceled")
                if trace.sms_id_int
                else False,
                f"{trace.sms_number}: a skipped recipient gets no SMS",
            )
            return None
        self.assertTrue(trace.sms_id_int, f"trace of {trace.sms_number} has an SMS")
        self.assertEqual(len(trace.sms_tracker_ids), 1)
        sms_sudo = self.env["sms.sms"].sudo().browse(trace.sms_id_int).exists()
        if sent_unlink and status in ("pending", "sent", "process"):
            sent = [sms for sms in self._sms if sms["number"] == number]
            self.assertTrue(sent, f"{number} was not handed to the provider")
            body = sent[-1]["body"]
        else:
            self.assertTrue(sms_sudo, f"sms.sms of {trace.sms_number} is missing")
            self.assertEqual(sms_sudo.number, number)
            self.assertEqual(sms_sudo.mailing_id, trace.mass_mailing_id)
            self.assertEqual(sms_sudo.uuid, trace.sms_tracker_ids.sms_uuid)
            if status in TRACE_STATUS_TO_SMS_STATE:
                self.assertEqual(sms_sudo.state, TRACE_STATUS_TO_SMS_STATE[status])
            if "partner" in recipient_info:
                self.assertEqual(sms_sudo.partner_id, recipient_info["partner"])
            if status == "error":
                self.assertEqual(sms_sudo.failure_type, recipient_info.get("failure_type"))
            body = sms_sudo.body
            if status in ("pending", "sent"):
                self.assertSMSIapSent([number], content=content)
        if content is not None:
            self.assertIn(content, body)
        return body

    def _assert_sms_links(self, mailing, trace, body, link_info):
        for url, is_shortened, add_link_params in link_info:
            if url == "unsubscribe":
                unsubscribe_url = url_join(
                    mailing.get_base_url(), f"/sms/{mailing.id}/{trace.sms_code}"
                )
                self.assertIn(f"\nSTOP SMS: {unsubscribe_url}", body)
                continue
            trackers = self.env["link.tracker"].search(
                [("url", "=", url), ("mass_mailing_id", "=", mailing.id)]
            )
            if not is_shortened:
                self.assertFalse(trackers, f"{url} should not be shortened")
                self.assertIn(url, body)
                continue
            self.assertEqual(len(trackers), 1, f"{url}: one link tracker per mailing")
            self.assertIn(f"{trackers.short_url}/s/{trace.sms_id_int}", body)
            link_params = {"utm_medium": mailing.medium_id.name, "utm_source": mailing.name}
            if mailing.campaign_id:
                link_params["utm_campaign"] = mailing.campaign_id.name
            link_params.update(add_link_params or {})
            self.assertLinkParams(url, trackers, link_params=link_params)

    # ------------------------------------------------------------
    # GATEWAY SIMULATIONS
    # ------------------------------------------------------------

    def _get_sms_trace(self, mailing, record):
        trace = mailing.mailing_trace_ids.sudo().filtered(
            lambda t: t.model == record._name and t.res_id == record.id
        )
        self.assertEqual(len(trace), 1, f"no SMS trace of {record} in {mailing}")
        return trace

    def gateway_sms_click(self, mailing, record, use_sent_sms=True):
        """Click the links of the SMS ``record`` got from ``mailing``.

        :param use_sent_sms: read the text the provider received; else the ``sms.sms``.
        """
        trace = self._get_sms_trace(mailing, record)
        if use_sent_sms:
            sent = [sms for sms in self._sms if sms["number"] == trace.sms_number]
            self.assertTrue(sent, f"no SMS was sent to {trace.sms_number}")
            return self.gateway_sms_sent_click(sent[-1])
        sms_sudo = self.env["sms.sms"].sudo().browse(trace.sms_id_int).exists()
        self.assertTrue(sms_sudo, f"sms.sms of {record} was deleted")
        return self.gateway_sms_sms_click(sms_sudo)

    def gateway_sms_sent_click(self, sms_sent):
        """Click the links of an SMS as the gateway received it (``self._sms`` item)."""
        return self._sms_click_links(sms_sent["body"])

    def gateway_sms_sms_click(self, sms_sms):
        """Click the links of an ``sms.sms``."""
        return self._sms_click_links(sms_sms.body)

    def _sms_click_links(self, body):
        """Count a click on each short link of ``body`` as the redirect route does."""
        traces = self.env["mailing.trace"].sudo()
        matches = list(SMS_SHORT_LINK.finditer(body or ""))
        self.assertTrue(matches, f"no short link in {body!r}")
        for match in matches:
            code, sms_id = match.group("code"), int(match.group("sms_id"))
            trace = self.env["mailing.trace"].sudo()._sms_find_for_click(code, sms_id)
            self.env["link.tracker.click"].sudo().add_click(
                code,
                ip=f"100.200.{random.randint(0, 255)}.{random.randint(0, 255)}",
                country_code="BE",
                mailing_trace_id=trace.id,
            )
            traces |= trace
        return traces

    def gateway_sms_delivered(self, mailing, records):
        """The provider reports the SMS of ``records`` as delivered."""
        traces = self._find_sms_traces(mailing, records)
        self.assertEqual(len(traces), len(records))
        traces.sms_tracker_ids._action_update_from_sms_state("sent")
        return traces

    def gateway_sms_bounce(self, mailing, records, error_code="invalid_destination"):
        """The provider reports the SMS of ``records`` as not delivered (``error_code``)."""
        traces = self._find_sms_traces(mailing, records)
        self.assertEqual(len(traces), len(records))
        traces.sms_tracker_ids._action_update_from_provider_error(error_code)
        return traces


class MassSMSCommon(SMSCommon, MassSMSCase, MassMailCommon):
    """Database fixtures: a marketing user, Belgium as the company's country."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not getattr(cls, "user_marketing", False):
            cls.user_marketing = mail_new_test_user(
                cls.env,
                groups="base.group_user,base.group_partner_manager,"
                "mass_mailing.group_mass_mailing_user",
                login="user_marketing",
                name="Martial Marketing",
            )
        cls.country_be = cls.env.ref("base.be")
        cls.country_fr = cls.env.ref("base.fr")

    @classmethod
    def _create_sms_mailing(cls, model="res.partner", **values):
        """An SMS mailing of ``user_marketing`` on ``model`` (default: every partner)."""
        return (
            cls.env["mailing.mailing"]
            .with_user(cls.user_marketing)
            .create(
                {
                    "name": "SMS Spring Sale",
                    "subject": "SMS Spring Sale",
                    "mailing_type": "sms",
                    "mailing_model_id": cls.env["ir.model"]._get(model).id,
                    "body_plaintext": "Hello {{ object.name }}, spring sale!",
                    **values,
                }
            )
        )


class MailingQueueMixin:
    """For tests of one mailing (``self.mailing``) sent through a provider: build it and run
    the SMS queue, run it again once the back-off is over, find a trace by number."""

    def _send(self):
        """Build the campaign, then run the SMS queue once."""
        self.mailing.action_send_sms()
        self.env["sms.sms"].sudo()._sms_process_mailing_queue(auto_commit=False)

    def _run_queue_again(self):
        """The back-off is over: run the queue."""
        self.env["sms.sms"].sudo().search([("mailing_id", "=", self.mailing.id)]).write(
            {"sms_lease_until": False}
        )
        self.env["sms.sms"].sudo()._sms_process_mailing_queue(auto_commit=False)

    def _trace(self, number):
        return self.mailing.sudo().mailing_trace_ids.filtered(lambda t: t.sms_number == number)
