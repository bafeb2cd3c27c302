# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
"""The steps of migrations/18.0.2.0.0 (upgrade from Odoo's own mass_mailing_sms 18.0.1.1).

The whole upgrade runs in ``bin/test_compat``; these tests pin each step on its own.
"""

import psycopg2

from odoo.modules.migration import load_script
from odoo.modules.module import get_module_path
from odoo.tests import TransactionCase, tagged
from odoo.tools import SQL, index_exists, mute_logger

INDEX = "mailing_trace_sms_recipient_uniq"


def _migration(stage):
    path = f"{get_module_path('mass_mailing_sms')}/migrations/18.0.2.0.0/{stage}-migrate.py"
    return load_script(path, f"mass_mailing_sms_migration_{stage}")


@tagged("post_install", "-at_install", "mass_mailing_sms")
class TestCompatMigration(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pre_migrate = _migration("pre")
        cls.post_migrate = _migration("post")
        cls.mailing = cls.env["mailing.mailing"].create(
            {"subject": "Old SMS", "mailing_type": "sms", "body_plaintext": "Hello"}
        )
        cls.partners = cls.env["res.partner"].create([{"name": "P1"}, {"name": "P2"}])

    def _trace(self, partner, status="sent"):
        """Insert an SMS trace in SQL, as old data is: no code of ours in the way."""
        self.env.cr.execute(
            SQL(
                """INSERT INTO mailing_trace
                          (trace_type, mass_mailing_id, model, res_id, trace_status, sms_number)
                   VALUES ('sms', %s, 'res.partner', %s, %s, '+32470000001') RETURNING id""",
                self.mailing.id,
                partner.id,
                status,
            )
        )
        return self.env["mailing.trace"].browse(self.env.cr.fetchone()[0])

    def test_sms_trace_index_keeps_old_duplicates(self):
        """Old databases may trace one recipient twice: every trace stays, new ones are unique."""
        self.env.cr.execute(SQL("DROP INDEX IF EXISTS %s", SQL.identifier(INDEX)))
        self.env.flush_all()
        older = self._trace(self.partners[0], "error")
        newer = self._trace(self.partners[0], "sent")
        self._trace(self.partners[1])

        self.pre_migrate._create_sms_trace_index(self.env.cr)
        self.assertTrue(index_exists(self.env.cr, INDEX))
        self.assertTrue(older.exists() and newer.exists())
        with self.assertRaises(psycopg2.errors.UniqueViolation), mute_logger("odoo.sql_db"):
            with self.env.cr.savepoint():
                self._trace(self.partners[1])
        with self.assertRaises(psycopg2.errors.UniqueViolation), mute_logger("odoo.sql_db"):
            with self.env.cr.savepoint():
                self._trace(self.partners[0])
        # idempotent: a second run leaves the index alone
        self.pre_migrate._create_sms_trace_index(self.env.cr)

    def test_demo_records_kept(self):
        """Odoo's demo records (noupdate="0") are made no-update so the update keeps them."""
        data = self.env["ir.model.data"].create(
            {
                "module": "mass_mailing_sms",
                "name": "compat_test_old_demo_mailing",
                "model": "mailing.mailing",
                "res_id": self.mailing.id,
                "noupdate": False,
            }
        )
        self.pre_migrate._keep_demo_records(self.env.cr)
        data.invalidate_recordset(["noupdate"])
        self.assertTrue(data.noupdate)

    def test_old_views_cleaned(self):
        """Old views ours does not declare go; old arch of the ones ours redefines is emptied."""
        parent = self.env.ref("mass_mailing.view_mail_mass_mailing_form")
        old_view = self.env["ir.ui.view"].create(
            {
                "name": "old odoo view",
                "model": "mailing.mailing",
                "inherit_id": parent.id,
                "arch": '<field name="subject" position="after"><field name="name"/></field>',
            }
        )
        self.env["ir.model.data"].create(
            {
                "module": "mass_mailing_sms",
                "name": "compat_test_old_view_not_ours",
                "model": "ir.ui.view",
                "res_id": old_view.id,
            }
        )
        ours = self.env.ref("mass_mailing_sms.mailing_mailing_view_form_mixed")
        self.pre_migrate._clean_old_views(self.env)
        self.assertFalse(old_view.exists())
        self.assertTrue(ours.exists())
        self.assertEqual(ours.arch_db, self.pre_migrate.EMPTY_EXTENSION_ARCH)

    def test_medium_renamed(self):
        """SPEC F2: Odoo's "SMS" medium takes our name, keeping its record."""
        medium = self.env.ref("mass_mailing_sms.utm_medium_sms")
        medium.name = "SMS"
        self.post_migrate.migrate(self.env.cr, "18.0.1.1")
        medium.invalidate_recordset(["name"])
        self.assertEqual(medium.name, "SMS Text Message")

        medium.name = "Text messages"  # chosen by the users: kept
        self.post_migrate.migrate(self.env.cr, "18.0.1.1")
        medium.invalidate_recordset(["name"])
        self.assertEqual(medium.name, "Text messages")
