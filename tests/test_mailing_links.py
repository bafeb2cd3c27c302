# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
import re

from odoo.tests import tagged, users
from odoo.tools import mute_logger

from odoo.addons.mass_mailing_sms.tests.common import SMS_SHORT_LINK, MassSMSCommon


@tagged("post_install", "-at_install", "mass_mailing_sms")
class TestMailingSmsLinks(MassSMSCommon):
    """C9: links shortened once per mailing, clicks counted on the recipient's trace;
    the opt-out line (F1, O4)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.partners = (
            cls.env["res.partner"]
            .with_context(**cls._test_context)
            .create([{"name": f"Reader{idx}", "mobile": f"+3247020{idx:04d}"} for idx in range(3)])
        )
        cls.mailing = cls._create_sms_mailing(
            body_plaintext="Hi {{ object.name }}: https://www.example.com/sale "
            "and https://www.example.com/p/{{ object.name }}",
            mailing_domain=[("id", "in", cls.partners.ids)],
            sms_force_send=True,
            sms_allow_unsubscribe=True,
        )

    def _send(self):
        mailing = self.mailing.with_env(self.env)
        with self.mockSMSGateway():
            mailing.action_send_sms()
        return mailing

    @users("user_marketing")
    def test_links_and_opt_out_line(self):
        mailing = self._send()
        traces = self.assertSMSTraces(
            [
                {"partner": partner, "content": f"Hi {partner.name}: ", "trace_status": "pending"}
                for partner in self.partners
            ],
            mailing,
            self.partners,
            sms_links_info=[
                [
                    ("https://www.example.com/sale", True, {}),
                    (f"https://www.example.com/p/{partner.name}", True, {}),
                    ("unsubscribe", False, {}),
                ]
                for partner in self.partners
            ],
        )
        trackers = self.env["link.tracker"].search([("mass_mailing_id", "=", mailing.id)])
        self.assertEqual(len(trackers), 4, "one per distinct URL, not one per SMS")
        self.assertEqual(trackers.medium_id, self.env.ref("mass_mailing_sms.utm_medium_sms"))
        self.assertFalse(trackers.filtered(lambda t: "/sms/" in t.url), "opt-out not shortened")
        codes = traces.mapped("sms_code")
        self.assertEqual(len(set(codes)), 3, "codes are unique")
        for code in codes:
            self.assertRegex(code, r"^[A-Za-z0-9]{10}$")
        for sms in self._sms:
            self.assertEqual(sms["body"].count("\nSTOP SMS: "), 1)
            self.assertTrue(sms["body"].splitlines()[-1].startswith("STOP SMS: "))

    @users("user_marketing")
    def test_no_opt_out_line_when_disabled(self):
        self.mailing.sudo().sms_allow_unsubscribe = False
        self._send()
        self.assertEqual(len(self._sms), 3)
        for sms in self._sms:
            self.assertNotIn("STOP SMS", sms["body"])
            self.assertNotIn("/sms/", sms["body"])

    @mute_logger("odoo.addons.base.models.ir_http", "odoo.http")
    def test_click_route_counts_on_the_right_trace(self):
        mailing = self._send()
        sent = next(sms for sms in self._sms if sms["number"] == "+32470200001")
        match = SMS_SHORT_LINK.search(sent["body"])
        trace = self._find_sms_traces(mailing, self.partners[1])
        self.assertEqual(int(match.group("sms_id")), trace.sms_id_int)

        response = self.url_open(match.group(0), allow_redirects=False)
        self.assertEqual(response.status_code, 301)
        self.assertTrue(response.headers["Location"].startswith("https://www.example.com/sale"))
        self.assertTrue(trace.links_click_datetime)
        self.assertEqual(mailing.clicked, 1)
        self.assertEqual(trace.trace_status, "open", "a click proves the SMS was delivered")
        clicks = self.env["link.tracker.click"].search_count([("mailing_trace_id", "=", trace.id)])
        self.assertEqual(clicks, 1)
        self.url_open(match.group(0), allow_redirects=False)
        self.assertEqual(
            self.env["link.tracker.click"].search_count([("mailing_trace_id", "=", trace.id)]),
            clicks + 1,
            "a click on an already clicked SMS still counts",
        )

        # a forged SMS id (another mailing's, or made up) redirects but counts nothing
        other = self._create_sms_mailing(
            body_plaintext="Other https://www.example.com/other",
            mailing_domain=[("id", "=", self.partners[0].id)],
            sms_force_send=True,
        )
        with self.mockSMSGateway():
            other.action_send_sms()
        other_sms_id = other.mailing_trace_ids.sms_id_int
        clicks_before = self.env["link.tracker.click"].search_count([])
        for forged_id in (other_sms_id, 999999999):
            forged = re.sub(r"/s/\d+$", f"/s/{forged_id}", match.group(0))
            response = self.url_open(forged, allow_redirects=False)
            self.assertEqual(response.status_code, 301)
        self.assertEqual(self.env["link.tracker.click"].search_count([]), clicks_before)
        mailing.invalidate_recordset()
        other.invalidate_recordset()
        self.assertEqual((mailing.clicked, other.clicked), (1, 0))

    @users("user_marketing")
    def test_gateway_click_helpers(self):
        mailing = self._send()
        self.gateway_sms_click(mailing, self.partners[0])
        self.gateway_sms_click(mailing, self.partners[2], use_sent_sms=False)
        mailing.invalidate_recordset()
        self.assertEqual(mailing.clicked, 2)
        self.assertEqual(mailing.delivered, 2, "a click proves the SMS was delivered")
        trackers = self.env["link.tracker"].search(
            [("mass_mailing_id", "=", mailing.id), ("url", "=", "https://www.example.com/sale")]
        )
        self.assertEqual(trackers.count, 2)

    def test_update_body_short_links(self):
        """COMPAT: ``_update_body_short_links`` appends the SMS id to each short link."""
        mailing = self.mailing
        base = mailing.get_base_url().rstrip("/")
        sms = self.env["sms.sms"].create(
            {
                "number": "+32470200000",
                "mailing_id": mailing.id,
                "body": f"A {base}/r/AbC1 and {base}/r/x-Y2.\nSTOP SMS: {base}/sms/1/abc",
            }
        )
        self.assertEqual(
            sms._update_body_short_links(),
            {
                sms.id: f"A {base}/r/AbC1/s/{sms.id} and {base}/r/x-Y2/s/{sms.id}."
                f"\nSTOP SMS: {base}/sms/1/abc"
            },
        )

    def test_link_replacements_placeholders(self):
        """COMPAT tier B: what a link and the opt-out line weigh in an SMS, for counters."""
        mailing = self.mailing
        base = mailing.get_base_url().rstrip("/")
        placeholders = mailing.get_sms_link_replacements_placeholders()
        self.assertEqual(placeholders["link"], f"{base}/r/xxxx/s/xxxxxx")
        self.assertEqual(
            placeholders["unsubscribe"], f"\nSTOP SMS: {base}/sms/{mailing.id}/xxxxxxxxxx"
        )
        real_body = mailing._sms_compliance().apply(
            "Hi", "+32470123456", mailing._sms_get_unsubscribe_url("A" * 10)
        )
        self.assertEqual(len(real_body) - len("Hi"), len(placeholders["unsubscribe"]))
