# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
import ast
import logging
import os

from odoo.exceptions import UserError
from odoo.modules.module import get_module_path
from odoo.tests import TransactionCase, tagged

import odoo.addons.mass_mailing_sms as our_addon

_logger = logging.getLogger(__name__)
REPOSITORY = os.path.realpath(
    os.environ.get("MMS_REPO") or os.path.dirname(os.path.dirname(__file__))
)


@tagged("post_install", "-at_install", "mass_mailing_sms")
class TestInstall(TransactionCase):
    def test_loaded_module_is_ours(self):
        """Odoo ships an addon of the same name: the one loaded must be this checkout."""
        module_path = os.path.realpath(get_module_path("mass_mailing_sms"))
        _logger.info("mass_mailing_sms loaded from %s", module_path)
        self.assertEqual(module_path, REPOSITORY)
        self.assertEqual(os.path.realpath(os.path.dirname(our_addon.__file__)), REPOSITORY)
        module = self.env["ir.module.module"].search([("name", "=", "mass_mailing_sms")])
        self.assertEqual(module.state, "installed")
        self.assertTrue(module.latest_version.startswith("18.0.2."), module.latest_version)
        self.assertTrue(module.application)

    def test_app_menu(self):
        root = self.env.ref("mass_mailing_sms.mass_mailing_sms_menu_root")
        self.assertEqual(root.name, "SMS Marketing")
        self.assertFalse(root.parent_id)
        self.assertEqual(root.web_icon, "mass_mailing_sms,static/description/icon.png")
        self.assertIn(self.env.ref("mass_mailing.group_mass_mailing_user"), root.groups_id)
        mailings_menu = self.env.ref("mass_mailing_sms.mass_mailing_sms_menu_mass_sms")
        self.assertEqual(mailings_menu.parent_id, root)
        self.assertEqual(
            mailings_menu.action, self.env.ref("mass_mailing_sms.mailing_mailing_action_sms")
        )

    def test_sms_mailing_type_and_medium(self):
        """SPEC G2/F2: SMS mailings get the 'SMS Text Message' medium, which stays."""
        action = self.env.ref("mass_mailing_sms.mailing_mailing_action_sms")
        self.assertIn("sms", dict(self.env["mailing.mailing"]._fields["mailing_type"].selection))
        mailing = (
            self.env["mailing.mailing"]
            .with_context(default_mailing_type="sms")
            .create({"subject": "Spring sale", "body_plaintext": "Hello"})
        )
        self.assertEqual(mailing.mailing_type, "sms")
        self.assertEqual(mailing.medium_id, self.env.ref("mass_mailing_sms.utm_medium_sms"))
        self.assertEqual(mailing.medium_id.name, "SMS Text Message")
        self.assertIn(mailing, self.env["mailing.mailing"].search(ast.literal_eval(action.domain)))
        with self.assertRaises(UserError):
            mailing.medium_id.unlink()
