# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
from unittest.mock import patch
from uuid import uuid4

from odoo.tests import tagged
from odoo.tools import SQL

from odoo.addons.mass_mailing_sms.models.mailing_sms_campaign import (
    SMS_ROWS_WITHOUT_AUTHOR,
    MailingSmsCampaign,
)
from odoo.addons.mass_mailing_sms.tests.common import MassSMSCommon
from odoo.addons.mass_mailing_sms.tools.bulk_rows import array_literal, same_value

# the create() overrides of these models whose effects the bulk insert reproduces:
# mass_mailing's links a trace to its e-mail (none for SMS), ours draws the opt-out code
# (given explicitly by the build)
KNOWN_CREATE_OVERRIDES = {
    "sms.sms": set(),
    "mailing.trace": {"mass_mailing", "mass_mailing_sms"},
    "sms.tracker": set(),
}
# values unique per row: the ORM's twin of a row takes another one
UNIQUE_COLUMNS = {"sms.sms": "uuid", "mailing.trace": "res_id", "sms.tracker": "sms_uuid"}


@tagged("post_install", "-at_install", "mass_mailing_sms")
class TestBulkRows(MassSMSCommon):
    """Issue 16.8: campaigns insert their SMS, traces and trackers in bulk, beside the ORM
    (measured three times faster than its batched create(), README "Building in bulk"). These
    tests fail as soon as an installed addon gives these models something the bulk insert
    would skip: a stored field it fills differently from create(), or a create() override."""

    def test_no_create_override_skipped(self):
        for model_name, known in KNOWN_CREATE_OVERRIDES.items():
            overriding = {
                cls._module
                for cls in type(self.env[model_name]).__mro__
                if "create" in vars(cls) and getattr(cls, "_module", None)
            }
            self.assertLessEqual(
                overriding,
                known,
                f"create() of {model_name} is overridden by {sorted(overriding - known)}: "
                "the SMS build inserts these rows without it (_sms_insert_rows)",
            )

    def test_bulk_rows_equal_rows_created_by_the_orm(self):
        """Each row the build inserted equals its twin created through create() with the same
        values, on every stored field: defaults, computed and related fields included."""
        inserted = []  # (model name, values, ids) of each bulk insert
        insert_rows = MailingSmsCampaign._sms_insert_rows

        def capture(mailing, model_name, vals_list, **kwargs):
            ids = insert_rows(mailing, model_name, vals_list, **kwargs)
            inserted.append((model_name, [dict(vals) for vals in vals_list], ids))
            return ids

        partners = self.env["res.partner"].create(
            [{"name": f"Bulk {idx}", "mobile": f"+3247096{idx:04d}"} for idx in range(2)]
        )
        campaign = self.env["utm.campaign"].create({"name": "Bulk campaign"})
        mailing = self._create_sms_mailing(
            mailing_domain=[("id", "in", partners.ids)],
            body_plaintext="Hello {{ object.name }} https://shop.example.com/bulk",
            sms_allow_unsubscribe=True,
            campaign_id=campaign.id,
        )
        with (
            self.mockSMSGateway(),
            patch.object(MailingSmsCampaign, "_sms_insert_rows", capture),
        ):
            mailing.action_send_sms()
        self.assertEqual(
            sorted(name for name, _vals, _ids in inserted), sorted(KNOWN_CREATE_OVERRIDES)
        )

        for model_name, vals_list, ids in inserted:
            model = mailing.env[model_name].sudo()  # the author of the build
            self.assertEqual(len(ids), len(vals_list), f"{model_name}: every row inserted")
            unique = UNIQUE_COLUMNS[model_name]
            twin_vals = []
            for index, vals in enumerate(vals_list):
                vals = {name: value for name, value in vals.items() if name != "id"}
                vals[unique] = uuid4().hex if unique != "res_id" else partners[-1].id + 1 + index
                twin_vals.append(vals)
            twins = model.create(twin_vals)
            skipped = {"id", unique}
            if model_name in SMS_ROWS_WITHOUT_AUTHOR:
                skipped |= {"create_uid", "write_uid"}  # left empty on purpose (issue 7)
            stored = [  # the table's columns
                name
                for name, field in model._fields.items()
                if field.store and field.column_type and name not in skipped
            ]
            for row, twin in zip(model.browse(ids), twins, strict=True):
                for name in stored:
                    self.assertEqual(
                        row[name],
                        twin[name],
                        f"{model_name}.{name} ({model._fields[name]._module}): the bulk insert of "
                        "the SMS build fills it differently from create()",
                    )


@tagged("post_install", "-at_install", "mass_mailing_sms")
class TestBulkRowsParameters(MassSMSCommon):
    """Issue 28: the bulk insert passes each column as one string (tools/bulk_rows.py);
    PostgreSQL must read back exactly the values given, whatever they hold."""

    def _read_back(self, values, array_type):
        self.env.cr.execute(SQL("SELECT %s::%s", array_literal(values), SQL(array_type)))
        return self.env.cr.fetchone()[0]

    def test_array_literal_reads_back_as_given(self):
        texts = [
            "Spring sale https://shop.example.com/x",
            "",
            "NULL",
            None,
            "a,b",
            "{braces}",
            'say "hi"',
            "back\\slash \\",
            "two\nlines\ttab",
            "Ünïcodé ☎ 😀",
            "it's",
            " spaces ",
        ]
        self.assertEqual(self._read_back(texts, "varchar[]"), texts)
        self.assertEqual(self._read_back(texts, "text[]"), texts)
        ints = [1, None, -5, 2**31 - 1, 0]
        self.assertEqual(self._read_back(ints, "int4[]"), ints)
        self.assertEqual(self._read_back([True, False, None], "bool[]"), [True, False, None])
        self.assertIsNone(array_literal([1, 2.5]), "other types: psycopg2 adapts the list")

    def test_same_value(self):
        self.assertTrue(same_value([None, None]))
        self.assertTrue(same_value(["sms", "sms"]))
        self.assertFalse(same_value([0, False]))
        self.assertFalse(same_value([1, True]))
        self.assertFalse(same_value(["a", "b"]))
