# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
from unittest.mock import patch

from odoo.tests import tagged
from odoo.tools import SQL

from odoo.addons.mass_mailing_sms.tests.committed import NUMBERS, CommittedCampaignCase
from odoo.addons.sms.tools.sms_api import SmsApi


@tagged("post_install", "-at_install", "mass_mailing_sms")
class TestSendDirectly(CommittedCampaignCase):
    """Issue 16.6: "Send Directly" takes one path, in production as in tests: nothing reaches
    the provider before the campaign's transaction commits; right after it, the SMS go out
    through the dispatcher (a post-commit hook), each once."""

    def test_sent_right_after_the_commit(self):
        handed = []  # numbers given to the provider, call after call

        def send_batch(_api, messages, delivery_reports_url=False):
            numbers = [number for message in messages for number in message["numbers"]]
            handed.extend(number["number"] for number in numbers)
            return [{"uuid": n["uuid"], "state": "success", "credit": 1} for n in numbers]

        mailing_id = self.mailing_ids[0]
        with (
            patch.object(SmsApi, "_send_sms_batch", autospec=True, side_effect=send_batch),
            self._cursor() as cr,
        ):
            mailing = self._env(cr)["mailing.mailing"].browse(mailing_id)
            mailing.sms_force_send = True
            mailing.action_send_sms()
            self.assertFalse(handed, "nothing reaches the provider before the commit")
            cr.commit()  # pylint: disable=invalid-commit
            self.assertCountEqual(handed, NUMBERS, "each SMS handed over once, after it")
        statuses = self._committed(
            SQL(
                "SELECT trace_status, COUNT(*) FROM mailing_trace WHERE mass_mailing_id = %s"
                " GROUP BY trace_status",
                mailing_id,
            )
        )
        self.assertEqual(statuses, [("pending", len(NUMBERS))], "Sent: handed to the provider")
