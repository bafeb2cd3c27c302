# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
import difflib
import re
from datetime import timedelta
from urllib.parse import urlsplit

from odoo import fields
from odoo.tests import tagged
from odoo.tools import SQL, mute_logger

from odoo.addons.mass_mailing_sms.models.mailing_trace import SMS_CODE_LENGTH
from odoo.addons.mass_mailing_sms.tests.common import MassSMSCase

STOP_LINE = re.compile(r"\nSTOP SMS: (\S+)$")
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
CSRF_TOKEN = re.compile(r"[0-9a-f]{40}o[0-9]+")  # changes every second, in forms and scripts


@tagged("post_install", "-at_install", "mass_mailing_sms")
class TestSmsOptOut(MassSMSCase):
    """The ``STOP SMS:`` link and its public pages (SPEC O2, O3, O4, C6; issue 5)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.belgium = cls.env.ref("base.be")
        cls.list_news, cls.list_promo, cls.list_other = cls.env["mailing.list"].create(
            [
                {"name": "Newsletter", "is_public": True},
                {"name": "Promotions", "is_public": True},
                {"name": "Events", "is_public": True},
            ]
        )
        cls.alice, cls.alice_twin, cls.bob = cls.env["mailing.contact"].create(
            [
                {
                    "name": "Alice",
                    "mobile": "+32 470 12 34 56",
                    "list_ids": [(6, 0, (cls.list_news | cls.list_promo | cls.list_other).ids)],
                },
                {
                    # the same phone written the national way, in one of the lists
                    "name": "Alice (shop)",
                    "mobile": "0470 12 34 56",
                    "country_id": cls.belgium.id,
                    "list_ids": [(6, 0, cls.list_promo.ids)],
                },
                {
                    "name": "Bob",
                    "mobile": "+32 470 99 88 77",
                    "list_ids": [(6, 0, cls.list_news.ids)],
                },
            ]
        )
        cls.partner = cls.env["res.partner"].create(
            {"name": "Carol", "mobile": "+32 475 11 22 33", "country_id": cls.belgium.id}
        )

    # ------------------------------------------------------------
    # HELPERS
    # ------------------------------------------------------------

    def _send(self, values):
        mailing = self.env["mailing.mailing"].create(
            {
                "subject": "Spring sale",
                "mailing_type": "sms",
                "body_plaintext": "Spring sale: 20% off everything!",
                "sms_allow_unsubscribe": True,
                "sms_force_send": True,
                **values,
            }
        )
        with self.mockSMSGateway():
            mailing.action_send_sms()
        return mailing

    def _send_to_lists(self, lists):
        return self._send(
            {
                "mailing_model_id": self.env["ir.model"]._get_id("mailing.list"),
                "contact_list_ids": [(6, 0, lists.ids)],
            }
        )

    def _send_to_partner(self):
        return self._send(
            {
                "mailing_model_id": self.env["ir.model"]._get_id("res.partner"),
                "mailing_domain": repr([("id", "=", self.partner.id)]),
            }
        )

    def _trace(self, mailing, record):
        trace = self.env["mailing.trace"].search(
            [
                ("mass_mailing_id", "=", mailing.id),
                ("model", "=", record._name),
                ("res_id", "=", record.id),
            ]
        )
        self.assertEqual(len(trace), 1)
        return trace

    def _stop_path(self, number):
        """Path of the opt-out link in the SMS the gateway received for ``number``."""
        bodies = [sms["body"] for sms in self._sms if sms["number"] == number]
        self.assertEqual(len(bodies), 1, "one SMS to %s" % number)
        match = STOP_LINE.search(bodies[0])
        self.assertTrue(match, "the SMS ends with the opt-out line: %r" % bodies[0])
        return urlsplit(match.group(1)).path

    def _open(self, url, data=None, **kwargs):
        """An HTTP request from the recipient's phone, on the data as the test left it."""
        self.env.flush_all()
        response = self.url_open(url, data=data, **kwargs)
        self.env.invalidate_all()
        return response

    def _get_csrf(self, path):
        response = self._open(path)
        self.assertEqual(response.status_code, 200)
        return CSRF_INPUT.search(response.text).group(1)

    def _post(self, path, **data):
        if "csrf_token" not in data:
            data["csrf_token"] = self._get_csrf(path)
        return self._open(path, data=data)

    def _opted_out_lists(self, contact):
        return contact.subscription_ids.filtered("opt_out").list_id

    def _is_blacklisted(self, number):
        return bool(self.env["phone.blacklist"].search([("number", "=", number)]))

    # ------------------------------------------------------------
    # THE LINK
    # ------------------------------------------------------------

    def test_link_format(self):
        mailing = self._send_to_partner()
        trace = self._trace(mailing, self.partner)
        path = self._stop_path("+32475112233")
        self.assertEqual(path, f"/sms/{mailing.id}/{trace.sms_code}")
        self.assertEqual(len(trace.sms_code), SMS_CODE_LENGTH)
        self.assertRegex(trace.sms_code, r"^[0-9A-Za-z]+$")

    # ------------------------------------------------------------
    # THE PAGE
    # ------------------------------------------------------------

    def test_page_masks_number_and_changes_nothing(self):
        mailing = self._send_to_lists(self.list_news | self.list_promo)
        trace = self._trace(mailing, self.alice)
        path = self._stop_path("+32470123456")
        for url in (path, path + "?blacklist=1", path + "?action=undo"):
            response = self._open(url)
            self.assertEqual(response.status_code, 200)
        page = response.text
        main = page[page.index("<main") : page.index("</main>")]
        self.assertIn("+32 4•• •• •• 56", main)
        self.assertIn("Unsubscribe me", main)
        self.assertIn("Newsletter, Promotions", main)
        self.assertNotIn("Events", main, "only the lists of this mailing are offered")
        for spelling in ("+32470123456", "470 12 34 56"):
            self.assertNotIn(spelling, page)
        for spelling in ("470123456", "0470", "12 34"):
            self.assertNotIn(spelling, main)
        self.assertEqual(response.headers.get("Cache-Control"), "no-store")
        # reading the page, even with the form's parameters, changes nothing
        self.assertFalse(self._opted_out_lists(self.alice))
        self.assertFalse(self._opted_out_lists(self.alice_twin))
        self.assertFalse(self._is_blacklisted("+32470123456"))
        self.assertFalse(trace.sms_opt_out_datetime)

    def test_demo_recipients_can_open_their_page(self):
        """Issue 25.3: the sent SMS of the demo mailing "Summer sale" have their opt-out page;
        Aurélie's has a known code, and a browser can opt out there and undo it."""
        mailing = self.env.ref("mass_mailing_sms.mailing_sms_0")
        sent = mailing.mailing_trace_ids.filtered(lambda t: t.trace_status == "sent")
        self.assertEqual(len(sent), 4)
        for trace in sent:
            response = self._open(f"/sms/{mailing.id}/{trace.sms_code}")
            self.assertEqual(response.status_code, 200, trace.sms_number)
        bounced = mailing.mailing_trace_ids - sent
        self.assertEqual(self._open(f"/sms/{mailing.id}/{bounced.sms_code}").status_code, 404)
        aurelie = self.env.ref("mass_mailing_sms.mailing_contact_0_0")
        self.start_tour(f"/sms/{mailing.id}/DemoSummer", "mass_mailing_sms_demo_optout")
        self.env.invalidate_all()
        self.assertFalse(aurelie.subscription_ids.filtered("opt_out"), "undone")
        self.assertFalse(sent.filtered(lambda t: t.sms_code == "DemoSummer").sms_opt_out_datetime)
        self.assertTrue(
            aurelie.message_ids.filtered(lambda m: "SMS Subscribers" in (m.body or "")),
            "the opt-out was noted on her contact",
        )

    def test_masked_number(self):
        trace = self.env["mailing.trace"].new({"trace_type": "sms", "sms_number": "+32470123456"})
        self.assertEqual(trace._sms_masked_number(), "+32 4•• •• •• 56")
        trace.sms_number = "+33612345678"
        self.assertEqual(trace._sms_masked_number(), "+33 6 •• •• •• 78")
        trace.sms_number = "12"
        self.assertEqual(trace._sms_masked_number(), "••")

    @mute_logger("odoo.http")
    def test_post_without_csrf_refused(self):
        mailing = self._send_to_partner()
        path = self._stop_path("+32475112233")
        for data in ({"blacklist": "1"}, {"blacklist": "1", "csrf_token": "forged"}):
            response = self._open(path, data=data)
            self.assertEqual(response.status_code, 400)
        self.assertFalse(self._is_blacklisted("+32475112233"))
        self.assertFalse(self._trace(mailing, self.partner).sms_opt_out_datetime)

    def test_unknown_mailing_or_code_same_404(self):
        mailing = self._send_to_partner()
        other = self._send_to_lists(self.list_news)
        code = self._trace(mailing, self.partner).sms_code
        other_code = self._trace(other, self.bob).sms_code
        bad_paths = [
            f"/sms/{max(mailing.id, other.id) + 1000}/{code}",  # unknown mailing
            f"/sms/{mailing.id}/{'x' * SMS_CODE_LENGTH}",  # unknown code
            f"/sms/{mailing.id}/{other_code}",  # a code of another mailing
            f"/sms/{mailing.id}/{code[:3]}",  # a short (old style) code
        ]
        bodies = []
        for path in bad_paths:
            response = self._open(path)
            self.assertEqual(response.status_code, 404, path)
            bodies.append(CSRF_TOKEN.sub("<csrf>", response.text))
        for body in bodies[1:]:
            diff = "\n".join(difflib.unified_diff(bodies[0].splitlines(), body.splitlines()))
            self.assertEqual(body, bodies[0], "the same 404 page whatever is wrong:\n" + diff)
        csrf = self._get_csrf(f"/sms/{mailing.id}/{code}")
        for path in bad_paths:
            response = self._open(path, data={"csrf_token": csrf, "blacklist": "1"})
            self.assertEqual(response.status_code, 404, path)
        self.assertFalse(self._is_blacklisted("+32475112233"))
        self.assertFalse(self._is_blacklisted("+32470998877"))
        # the same work whatever is wrong (and when all is right): one query
        Trace = self.env["mailing.trace"].sudo()
        self.env.flush_all()
        for mailing_id, guess in [
            (mailing.id, code),
            (mailing.id + 1000, code),
            (mailing.id, "x" * SMS_CODE_LENGTH),
            (mailing.id, other_code),
        ]:
            before = self.env.cr.sql_log_count
            Trace._sms_find_by_code(mailing_id, guess)
            self.assertEqual(self.env.cr.sql_log_count - before, 1)

    # ------------------------------------------------------------
    # OPTING OUT
    # ------------------------------------------------------------

    def test_list_mailing_opts_out_of_its_lists_only(self):
        mailing = self._send_to_lists(self.list_news | self.list_promo)
        trace = self._trace(mailing, self.alice)
        self.assertEqual(self._trace(mailing, self.alice_twin).failure_type, "sms_duplicate")
        path = self._stop_path("+32470123456")

        response = self._post(path)
        self.assertEqual(response.status_code, 200)
        self.assertIn("You are unsubscribed from", response.text)
        self.assertIn("Undo: subscribe me again", response.text)
        self.assertEqual(self._opted_out_lists(self.alice), self.list_news | self.list_promo)
        self.assertEqual(self._opted_out_lists(self.alice_twin), self.list_promo, "same number")
        self.assertFalse(self._opted_out_lists(self.bob))
        self.assertFalse(self._is_blacklisted("+32470123456"), "O2: lists only, no blacklist")
        # statistics and chatter
        self.assertTrue(trace.sms_opt_out_datetime)
        self.assertFalse(trace.sms_opt_out_blacklist)
        self.assertEqual(trace.trace_status, "pending", "the trace stays as it was sent")
        self.assertIn("Opted out of the mailing lists", self.alice.message_ids[0].body)
        self.assertIn("Spring sale", self.alice.message_ids[0].body)
        # the next SMS to these lists skips Alice; the Events list still reaches her
        next_mailing = self._send_to_lists(self.list_news | self.list_promo)
        self.assertEqual(self._trace(next_mailing, self.alice).failure_type, "sms_optout")
        self.assertFalse(self.list_other._mailing_get_opt_out_list_sms(next_mailing))

    def test_list_mailing_with_blacklist_option(self):
        mailing = self._send_to_lists(self.list_news)
        trace = self._trace(mailing, self.bob)
        response = self._post(self._stop_path("+32470998877"), blacklist="1")
        self.assertIn("on our block list", response.text)
        self.assertEqual(self._opted_out_lists(self.bob), self.list_news)
        self.assertTrue(self._is_blacklisted("+32470998877"))
        self.assertTrue(trace.sms_opt_out_blacklist)

    def test_partner_mailing_blacklists_number(self):
        mailing = self._send_to_partner()
        trace = self._trace(mailing, self.partner)
        path = self._stop_path("+32475112233")
        page = self._open(path).text
        self.assertIn("+32 4•• •• •• 33", page)
        self.assertIn("puts this number on our block list", page)
        reason = self.env["mailing.subscription.optout"].create({"name": "Too many SMS"})

        response = self._post(path, reason_id=str(reason.id))
        self.assertEqual(response.status_code, 200)
        self.assertIn("on our block list", response.text)
        self.assertTrue(self._is_blacklisted("+32475112233"))
        self.partner.invalidate_recordset()
        self.assertTrue(self.partner.phone_sanitized_blacklisted)
        self.assertTrue(trace.sms_opt_out_datetime)
        self.assertTrue(trace.sms_opt_out_blacklist)
        note = self.partner.message_ids[0].body
        self.assertIn("blacklisted with the opt-out link", note)
        self.assertIn("Too many SMS", note)
        # the next SMS to this partner is not sent
        next_mailing = self._send_to_partner()
        self.assertEqual(self._trace(next_mailing, self.partner).failure_type, "sms_blacklist")

    def test_legacy_unsubscribe_address(self):
        """COMPAT tier B: /sms/<id>/unsubscribe/<code> leads to the page; POST opts out."""
        mailing = self._send_to_partner()
        code = self._trace(mailing, self.partner).sms_code
        legacy = f"/sms/{mailing.id}/unsubscribe/{code}"
        response = self._open(legacy, allow_redirects=False)
        self.assertEqual(response.status_code, 303)
        self.assertTrue(response.headers["Location"].endswith(f"/sms/{mailing.id}/{code}"))
        self.assertFalse(self._is_blacklisted("+32475112233"))
        csrf = self._get_csrf(f"/sms/{mailing.id}/{code}")
        response = self._open(legacy, data={"csrf_token": csrf, "sms_number": "x"})
        self.assertEqual(response.status_code, 200)
        self.assertTrue(self._is_blacklisted("+32475112233"))

    # ------------------------------------------------------------
    # UNDO
    # ------------------------------------------------------------

    def test_undo_lists(self):
        mailing = self._send_to_lists(self.list_news | self.list_promo)
        trace = self._trace(mailing, self.alice)
        self.alice.subscription_ids.filtered(lambda s: s.list_id == self.list_other).opt_out = True
        path = self._stop_path("+32470123456")
        self._post(path, blacklist="1")
        self.assertTrue(self._is_blacklisted("+32470123456"))

        response = self._post(path, action="undo")
        self.assertIn("your opt-out is cancelled", response.text)
        self.assertIn("Unsubscribe me", response.text, "the page offers to opt out again")
        self.assertEqual(self._opted_out_lists(self.alice), self.list_other, "untouched")
        self.assertFalse(self._opted_out_lists(self.alice_twin))
        self.assertFalse(self._is_blacklisted("+32470123456"))
        self.assertFalse(trace.sms_opt_out_datetime)
        self.assertIn("Subscribed again", self.alice.message_ids[0].body)

    def test_undo_blacklist_and_expiry(self):
        mailing = self._send_to_partner()
        trace = self._trace(mailing, self.partner)
        path = self._stop_path("+32475112233")
        self._post(path)
        self._post(path, action="undo")
        self.assertFalse(self._is_blacklisted("+32475112233"))
        self.assertIn("taken off the blacklist", self.partner.message_ids[0].body)

        # after the undo period, the link no longer takes it back
        self._post(path)
        csrf = self._get_csrf(path)
        trace.sms_opt_out_datetime = fields.Datetime.now() - timedelta(hours=25)
        response = self._post(path, action="undo", csrf_token=csrf)
        self.assertIn("can no longer be undone", response.text)
        self.assertTrue(self._is_blacklisted("+32475112233"))

    def test_undo_keeps_earlier_blacklist(self):
        """A number blacklisted before the opt-out stays blacklisted after the undo."""
        self.env["phone.blacklist"].sudo()._add(["+32475112233"])
        mailing = self.env["mailing.mailing"].create(
            {
                "subject": "Already blocked",
                "mailing_type": "sms",
                "body_plaintext": "Hi",
                "mailing_model_id": self.env["ir.model"]._get_id("res.partner"),
                "mailing_domain": repr([("id", "=", self.partner.id)]),
            }
        )
        trace = self.env["mailing.trace"].create(
            {
                "trace_type": "sms",
                "mass_mailing_id": mailing.id,
                "model": "res.partner",
                "res_id": self.partner.id,
                "sms_number": "+32475112233",
                "sms_id_int": 1,
            }
        )
        trace._sms_opt_out()
        self.assertFalse(trace.sms_opt_out_blacklist)
        self.assertTrue(trace._sms_opt_out_undo())
        self.assertTrue(self._is_blacklisted("+32475112233"))

    # ------------------------------------------------------------
    # GUESSING
    # ------------------------------------------------------------

    def test_random_codes_never_hit(self):
        """10,000 random codes against a 10,000-recipient mailing: no hit (59.5 bits each)."""
        Trace = self.env["mailing.trace"].sudo()
        mailing = self.env["mailing.mailing"].create(
            {
                "subject": "Big campaign",
                "mailing_type": "sms",
                "body_plaintext": "Hello",
                "mailing_model_id": self.env["ir.model"]._get_id("res.partner"),
            }
        )
        codes = [Trace._sms_generate_code() for _index in range(10000)]
        self.assertEqual(len(set(codes)), 10000)
        self.assertTrue(all(len(code) == SMS_CODE_LENGTH for code in codes))
        self.env.cr.execute(
            SQL(
                """INSERT INTO mailing_trace (trace_type, mass_mailing_id, model, res_id,
                          sms_number, sms_code, sms_id_int, trace_status,
                          create_date, write_date, create_uid, write_uid)
                   SELECT 'sms', %(mailing)s, 'res.partner', data.n,
                          '+3247' || lpad(data.n::text, 7, '0'), data.code, 2000000 + data.n,
                          'sent', now() at time zone 'utc', now() at time zone 'utc',
                          %(uid)s, %(uid)s
                     FROM unnest(%(codes)s::varchar[]) WITH ORDINALITY AS data(code, n)""",
                mailing=mailing.id,
                uid=self.env.uid,
                codes=codes,
            )
        )
        self.assertEqual(Trace.search_count([("mass_mailing_id", "=", mailing.id)]), 10000)
        # the real codes open their trace, and only with their mailing
        for code in codes[:20]:
            self.assertEqual(Trace._sms_find_by_code(mailing.id, code).sms_code, code)
            self.assertFalse(Trace._sms_find_by_code(mailing.id + 1, code))
        known = set(codes)
        guesses = [Trace._sms_generate_code() for _index in range(10000)]
        guesses = [guess for guess in guesses if guess not in known]
        hits = sum(1 for guess in guesses if Trace._sms_find_by_code(mailing.id, guess))
        self.assertEqual(hits, 0)
        self.assertGreater(len(guesses), 9990)

    # ------------------------------------------------------------
    # CLICKS (/r/<code>/s/<sms id>)
    # ------------------------------------------------------------

    def test_forged_click_ids_change_no_trace(self):
        partner_2 = self.env["res.partner"].create({"name": "Dan", "mobile": "+32 475 44 55 66"})
        recipients = self.partner | partner_2
        body = "Spring sale: https://www.example.com/spring"
        mailing = self._send(
            {
                "body_plaintext": body,
                "mailing_model_id": self.env["ir.model"]._get_id("res.partner"),
                "mailing_domain": repr([("id", "in", recipients.ids)]),
            }
        )
        sent_body = next(sms["body"] for sms in self._sms if sms["number"] == "+32475112233")
        other = self._send(
            {
                "subject": "Other",
                "body_plaintext": "Other: https://www.example.com/other",
                "mailing_model_id": self.env["ir.model"]._get_id("res.partner"),
                "mailing_domain": repr([("id", "in", recipients.ids)]),
            }
        )
        trace, trace_2 = (self._trace(mailing, partner) for partner in recipients)
        other_trace = self._trace(other, self.partner)
        short_link = re.search(r"(/r/[\w-]+)/s/(\d+)", sent_body)
        self.assertTrue(short_link, sent_body)
        self.assertEqual(int(short_link.group(2)), trace.sms_id_int)
        link_path = short_link.group(1)
        self.assertTrue(self.env["link.tracker.code"].search([("code", "=", link_path[3:])]))
        all_traces = trace | trace_2 | other_trace
        clicks = self.env["link.tracker.click"].search_count([])

        trace_2.trace_status = "error"  # its SMS never reached the phone
        forged_ids = [other_trace.sms_id_int, trace_2.sms_id_int, 99999999, 0]
        for sms_id in forged_ids:
            response = self._open(f"{link_path}/s/{sms_id}", allow_redirects=False)
            self.assertEqual(response.status_code, 301)
            self.assertTrue(response.headers["Location"].startswith("https://www.example.com"))
        self.assertFalse(any(all_traces.mapped("links_click_datetime")))
        self.assertEqual(self.env["link.tracker.click"].search_count([]), clicks)

        response = self._open(f"{link_path}/s/{trace.sms_id_int}", allow_redirects=False)
        self.assertEqual(response.status_code, 301)
        self.assertTrue(trace.links_click_datetime)
        self.assertFalse(any((trace_2 | other_trace).mapped("links_click_datetime")))
        self.assertEqual(self.env["link.tracker.click"].search_count([]), clicks + 1)
