# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
from types import SimpleNamespace
from unittest.mock import patch
from uuid import UUID

from odoo.tests import tagged, users, warmup

from odoo.addons.mass_mailing_sms.tests.common import MassSMSCommon
from odoo.addons.mass_mailing_sms.tools import table_storage


@tagged("post_install", "-at_install", "mass_mailing_sms", "mass_mailing_sms_perf")
class TestMailingSmsPerformance(MassSMSCommon):
    """Building a campaign costs a fixed number of queries per batch (issue 7): the count
    must not grow with the number of recipients, whatever bad input they carry."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.country_id = cls.country_be
        cls.lists = cls.env["mailing.list"].create([{"name": "Small list"}, {"name": "Large list"}])
        for mailing_list, size in zip(cls.lists, (20, 200), strict=True):
            contacts = cls.env["mailing.contact"].create(
                [
                    {
                        "name": f"Contact {index}",
                        # every 10th malformed, every 7th without number, the rest valid
                        "mobile": (
                            "12"
                            if index % 10 == 1
                            else False
                            if index % 7 == 2
                            else "+3247%07d" % (mailing_list.id * 1000 + index)
                        ),
                        "list_ids": [(4, mailing_list.id)],
                    }
                    for index in range(size)
                ]
            )
            cls.env["phone.blacklist"].sudo().create({"number": contacts[-1].mobile})
        cls.mailings = cls.env["mailing.mailing"].create(
            [
                {
                    "name": f"Perf {mailing_list.name}",
                    "subject": f"Perf {mailing_list.name}",
                    "mailing_type": "sms",
                    "mailing_model_id": cls.env["ir.model"]._get_id("mailing.list"),
                    "contact_list_ids": [(4, mailing_list.id)],
                    "body_plaintext": "Sale this weekend https://shop.example.com/sale",
                    "sms_allow_unsubscribe": True,
                    "user_id": cls.user_marketing.id,
                }
                for mailing_list in cls.lists
            ]
        )

    def _build(self, mailing):
        mailing = mailing.with_env(self.env)
        recipient_ids = mailing._get_remaining_recipients()
        return mailing._sms_send_batch(recipient_ids)  # opt-outs read for the batch

    @users("user_marketing")
    @warmup
    def test_batch_query_count_does_not_grow(self):
        small, large = self.mailings
        # 30 for the batch, 1 for the company's compliance settings (read once per build)
        with self.mockSMSGateway(), self.assertQueryCount(user_marketing=31):
            sms_small = self._build(small)
        with self.mockSMSGateway(), self.assertQueryCount(user_marketing=31):
            sms_large = self._build(large)
        self.assertGreater(len(sms_large), 5 * len(sms_small))
        traces = self.env["mailing.trace"].sudo().search([("mass_mailing_id", "=", large.id)])
        self.assertEqual(len(traces), 200, "one trace per contact")

    def test_sms_uuids_follow_time(self):
        """SMS uuids are UUIDs version 7: a later SMS sorts after an earlier one, so that a
        batch's entries in the unique index of uuids share its last pages instead of landing
        on random ones, which made each insert cost a page read at a million SMS (issue 28)."""
        small, large = self.mailings
        clock = SimpleNamespace(time_ns=lambda: 1_800_000_000_000_000_000)
        with patch.object(table_storage, "time", clock), self.mockSMSGateway():
            earlier = self._build(small)
            clock.time_ns = lambda: 1_800_000_000_001_000_000  # a millisecond later
            later = self._build(large)
            later |= self.env["sms.sms"].sudo().create({"number": "+32470000001", "body": "Hi"})
        self.assertTrue(earlier and len(later) > 1)
        for sms in earlier | later:
            self.assertEqual(UUID(sms.uuid).version, 7, sms.uuid)
            self.assertEqual(UUID(sms.uuid).hex, sms.uuid, "32 hex digits, like Odoo's")
        self.assertLess(max(earlier.mapped("uuid")), min(later.mapped("uuid")))
        self.assertEqual(len(set((earlier | later).mapped("uuid"))), len(earlier | later))
