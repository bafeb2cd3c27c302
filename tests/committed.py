# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
"""Tests on committed data, for what only real transactions show: two connections at once,
what happens once a transaction commits. Each test removes what it committed."""

from odoo import SUPERUSER_ID, api
from odoo.sql_db import db_connect
from odoo.tests import TransactionCase

from odoo.addons.mass_mailing_sms.models.res_config_settings import (
    PARAM_FREQUENCY_CAP,
    PARAM_FREQUENCY_CAP_COUNT,
    PARAM_FREQUENCY_CAP_HOURS,
)

NUMBERS = [f"+3247095{idx:04d}" for idx in range(4)]


class CommittedCampaignCase(TransactionCase):
    """Two SMS mailings, in the queue, to one list of four contacts: committed by ``setUp``,
    removed after each test (with their traces, SMS and the frequency cap settings)."""

    def setUp(self):
        super().setUp()
        self.dbname = self.env.cr.dbname
        with self._cursor() as cr:
            env = self._env(cr)
            contacts = env["mailing.contact"].create(
                [{"name": f"Race {idx}", "mobile": number} for idx, number in enumerate(NUMBERS)]
            )
            mailing_list = env["mailing.list"].create(
                {"name": "Race list", "contact_ids": [(6, 0, contacts.ids)]}
            )
            self.mailing_ids = (
                env["mailing.mailing"]
                .create(
                    [
                        {
                            "name": f"Race {idx}",
                            "subject": f"Race {idx}",
                            "mailing_type": "sms",
                            "mailing_model_id": env["ir.model"]._get_id("mailing.list"),
                            "contact_list_ids": [(6, 0, mailing_list.ids)],
                            "body_plaintext": "Race sale",
                            "state": "in_queue",
                        }
                        for idx in range(2)
                    ]
                )
                .ids
            )
            self.contact_ids, self.list_id = contacts.ids, mailing_list.id
            cr.commit()  # pylint: disable=invalid-commit
        self.addCleanup(self._remove_committed_data)

    def _cursor(self):
        return db_connect(self.dbname).cursor()

    @staticmethod
    def _env(cr):
        return api.Environment(
            cr,
            SUPERUSER_ID,
            {"tracking_disable": True, "mail_create_nolog": True, "mail_create_nosubscribe": True},
        )

    def _committed(self, query):
        """Rows of ``query``, as another connection sees them."""
        with self._cursor() as cr:
            cr.execute(query)
            return cr.fetchall()

    def _remove_committed_data(self):
        with self._cursor() as cr:
            env = self._env(cr)
            mailings = env["mailing.mailing"].browse(self.mailing_ids).exists()
            env["mailing.trace"].search([("mass_mailing_id", "in", mailings.ids)]).unlink()
            env["sms.sms"].search([("mailing_id", "in", mailings.ids)]).unlink()
            sources = mailings.source_id
            mailings.unlink()
            sources.unlink()
            env["mailing.list"].browse(self.list_id).unlink()
            env["mailing.contact"].browse(self.contact_ids).unlink()
            params = env["ir.config_parameter"]
            for key in (PARAM_FREQUENCY_CAP, PARAM_FREQUENCY_CAP_COUNT, PARAM_FREQUENCY_CAP_HOURS):
                params.search([("key", "=", key)]).unlink()
            cr.commit()  # pylint: disable=invalid-commit
