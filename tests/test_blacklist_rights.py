# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
from odoo.exceptions import AccessError
from odoo.tests import TransactionCase, tagged
from odoo.tools import mute_logger

from odoo.addons.mail.tests.common import mail_new_test_user


@tagged("post_install", "-at_install", "mass_mailing_sms")
class TestBlacklistRights(TransactionCase):
    """Issue 16.2: the phone blacklist is opt-out evidence. Marketers add numbers and take
    them off with the wizard that logs the reason; only administrators delete entries."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.marketer = mail_new_test_user(
            cls.env,
            login="blacklist_marketer",
            groups="base.group_user,mass_mailing.group_mass_mailing_user",
        )
        cls.admin = mail_new_test_user(
            cls.env, login="blacklist_admin", groups="base.group_user,base.group_system"
        )

    def test_marketer_adds_and_unblacklists_with_a_reason(self):
        blacklist = self.env["phone.blacklist"].with_user(self.marketer)
        entry = blacklist.create({"number": "+32470101010"})
        self.assertTrue(entry.active)
        wizard = (
            self.env["phone.blacklist.remove"]
            .with_user(self.marketer)
            .create({"phone": "+32470101010", "reason": "asked by phone"})
        )
        wizard.action_unblacklist_apply()
        self.assertFalse(entry.active, "kept, archived: the evidence stays")
        self.assertTrue(entry.exists())

    @mute_logger("odoo.models.unlink", "odoo.addons.base.models.ir_model")
    def test_marketer_cannot_delete_an_entry(self):
        entry = self.env["phone.blacklist"].create({"number": "+32470202020"})
        with self.assertRaises(AccessError):
            entry.with_user(self.marketer).unlink()
        self.assertTrue(entry.exists())

    def test_administrator_deletes_an_entry(self):
        entry = self.env["phone.blacklist"].create({"number": "+32470303030"})
        entry.with_user(self.admin).unlink()
        self.assertFalse(entry.exists())
