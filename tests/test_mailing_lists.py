# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
from collections import Counter

from odoo.tests import tagged, users
from odoo.tools import mute_logger

from odoo.addons.mass_mailing_sms.tests.common import MassSMSCommon


@tagged("post_install", "-at_install", "mass_mailing_sms")
class TestMailingSmsLists(MassSMSCommon):
    """O1: a list mailing to a few hundred contacts with every kind of bad input ends with one
    trace per contact in the right status, and counters that match the traces."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        contacts_values, cls.expected = [], {}  # name: (status, failure type)

        def add(name, status, failure_type=False, **values):
            contacts_values.append({"name": name, **values})
            cls.expected[name] = (status, failure_type)

        for idx in range(200):  # valid, unique
            add(f"valid {idx:03d}", "pending", mobile=f"+3247060{idx:04d}")
        for idx in range(20):  # French numbers without country code, French contacts
            add(
                f"french {idx:03d}",
                "pending",
                mobile=f"06 10 00 {idx:02d} 00",
                country_id=cls.country_fr.id,
            )
        for idx in range(10):  # the same number written three ways: one SMS
            add(f"dup {idx:03d} a", "pending", mobile=f"0470 70 00 {idx:02d}")
            add(f"dup {idx:03d} b", "cancel", "sms_duplicate", mobile=f"+32 470 70 00 {idx:02d}")
            add(f"dup {idx:03d} c", "cancel", "sms_duplicate", mobile=f"0032 470 70 00 {idx:02d}")
        for idx in range(15):
            add(f"missing {idx:03d}", "cancel", "sms_number_missing")
        for idx, bad in enumerate(["abc", "12", "0470 1", "+32 470 12 34 56 78 90 12"] * 4):
            add(f"malformed {idx:03d}", "bounce", "sms_number_format", mobile=bad)
        for idx in range(12):
            add(f"blacklisted {idx:03d}", "cancel", "sms_blacklist", mobile=f"+3247080{idx:04d}")
        for idx in range(10):
            add(f"opted out {idx:03d}", "cancel", "sms_optout", mobile=f"+3247090{idx:04d}")
        for idx in range(5):  # accepted at first, then refused by the provider
            add(f"refused {idx:03d}", "bounce", "sms_number_format", mobile=f"+3247099{idx:04d}")
        for idx in range(5):
            add(f"no credit {idx:03d}", "error", "sms_credit", mobile=f"+3247098{idx:04d}")

        cls.mailing_list = cls.env["mailing.list"].create({"name": "Big SMS list"})
        cls.contacts = (
            cls.env["mailing.contact"]
            .with_context(**cls._test_context)
            .create(
                [dict(values, list_ids=[(4, cls.mailing_list.id)]) for values in contacts_values]
            )
        )
        cls.env["phone.blacklist"].sudo().create(
            [{"number": f"+3247080{idx:04d}"} for idx in range(12)]
        )
        opted_out = cls.contacts.filtered(lambda c: c.name.startswith("opted out"))
        cls.mailing_list.subscription_ids.filtered(
            lambda s: s.contact_id in opted_out
        ).opt_out = True
        cls.gateway_errors = {
            **{f"+3247099{idx:04d}": "wrong_number_format" for idx in range(5)},
            **{f"+3247098{idx:04d}": "credit" for idx in range(5)},
        }
        cls.mailing = cls._create_sms_mailing(
            model="mailing.list",
            contact_list_ids=[(4, cls.mailing_list.id)],
            body_plaintext="Hi {{ object.name }}",
        )

    @users("user_marketing")
    @mute_logger("odoo.addons.sms.models.sms_sms")
    def test_list_mailing_every_bad_input(self):
        mailing = self.mailing.with_env(self.env)
        self.assertEqual(mailing.mailing_model_real, "mailing.contact")
        self.assertEqual(len(self.contacts), 313)
        mailing.action_launch()
        mailing_sudo = self.env["mailing.mailing"].sudo()
        with self.mockSMSGateway(nbr_t_error=self.gateway_errors):
            mailing_sudo._process_mass_mailing_queue()
            self.assertEqual(mailing.state, "sending")
            self.env["sms.sms"].sudo()._process_queue()
            # the queues run again: nothing happens twice
            self.env["sms.sms"].sudo()._process_queue()
            mailing_sudo._process_mass_mailing_queue()
        self.assertEqual(mailing.state, "done")

        traces = self._find_sms_traces(mailing, self.contacts)
        self.assertEqual(len(traces), len(self.contacts), "one trace per contact")
        name_by_id = {contact.id: contact.name for contact in self.contacts}
        wrong = [
            (
                name_by_id[t.res_id],
                t.trace_status,
                t.failure_type,
                self.expected[name_by_id[t.res_id]],
            )
            for t in traces
            if (t.trace_status, t.failure_type) != self.expected[name_by_id[t.res_id]]
        ]
        self.assertFalse(wrong, "traces in an unexpected status")

        sent_numbers = Counter(sms["number"] for sms in self._sms)
        self.assertEqual(len(self._sms), 230, "valid, French and one per duplicated number")
        self.assertEqual(max(sent_numbers.values()), 1, "no number got two SMS")
        french = traces.filtered(lambda t: name_by_id[t.res_id].startswith("french"))
        self.assertTrue(all(number.startswith("+336") for number in french.mapped("sms_number")))

        statuses = Counter(traces.mapped("trace_status"))
        mailing.invalidate_recordset()
        self.assertEqual(mailing.expected, 313)
        self.assertEqual(mailing.canceled, statuses["cancel"])
        self.assertEqual(mailing.canceled, 20 + 15 + 12 + 10)
        self.assertEqual(mailing.bounced, statuses["bounce"])
        self.assertEqual(mailing.bounced, 16 + 5)
        self.assertEqual(mailing.failed, statuses["error"])
        self.assertEqual(mailing.failed, 5)
        self.assertEqual(mailing.pending, statuses["pending"])
        self.assertEqual(mailing.pending, 230)
        self.assertEqual(mailing.sent, 230, "sent: handed to the provider")
        self.assertEqual(mailing.sent, len(traces.filtered("sent_datetime")))
        self.assertEqual(mailing.delivered, 0, "no delivery report yet")
        self.assertEqual(mailing.scheduled, 0)
        self.assertEqual(mailing.received_ratio, 0)
        self.assertTrue(mailing.sms_has_insufficient_credit)
