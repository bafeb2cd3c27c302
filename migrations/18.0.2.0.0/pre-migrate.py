# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
"""From Odoo's own mass_mailing_sms (18.0.1.1) to ours, before our models and views load.

1. Views: Odoo's version has views that ours does not declare, and views under the same
   XML ids whose old arch names fields or methods ours does not have. While our views
   load, Odoo validates each of them combined with every active view extending the same
   parent, old ones included. So the old views ours does not declare are removed now
   (Odoo would remove them at the end of the update anyway), and the old arch of the
   extension views ours declares again is emptied (ours replaces it moments later).
2. Demo data: Odoo's version declares its demo records with ``noupdate="0"``, so the
   update would delete the mailings, traces, contacts, lists and subscriptions our demo
   data does not declare again. They are marked no-update, as demo data normally is:
   a database keeps every SMS mailing, trace and subscription it had.
3. SMS traces: ours enforces one SMS trace per recipient and mailing with a unique index
   (RELIABILITY "exactly-once"). Databases of Odoo's version may hold several traces for
   one recipient (its demo data does). Every trace is kept: the index is created here
   leaving out the older traces of each such recipient, so it covers every new trace.
"""

import logging

from lxml import etree

from odoo import SUPERUSER_ID, api
from odoo.modules.module import get_manifest, get_module_path
from odoo.tools import SQL, index_exists

_logger = logging.getLogger(__name__)

MODULE = "mass_mailing_sms"
# same name as in models/mailing_trace.py, whose init() then finds the index in place
SMS_TRACE_INDEX = "mailing_trace_sms_recipient_uniq"
EMPTY_EXTENSION_ARCH = "<data/>"
# the models of the records Odoo's version creates from its demo files
DEMO_MODELS = (
    "mailing.contact",
    "mailing.list",
    "mailing.mailing",
    "mailing.subscription",
    "mailing.trace",
)


def migrate(cr, version):
    if not version:
        return
    env = api.Environment(cr, SUPERUSER_ID, {})
    _clean_old_views(env)
    _keep_demo_records(cr)
    _create_sms_trace_index(cr)


def _declared_xmlids():
    """Names of the records our data files declare (XML ids without the module)."""
    module_path = get_module_path(MODULE)
    names = set()
    for data_file in get_manifest(MODULE).get("data", []):
        if not data_file.endswith(".xml"):
            continue
        for node in etree.parse(f"{module_path}/{data_file}").iter(
            "record", "template", "menuitem"
        ):
            if node.get("id"):
                names.add(node.get("id").removeprefix(f"{MODULE}."))
    return names


def _clean_old_views(env):
    declared = _declared_xmlids()
    data = env["ir.model.data"].search(
        [("module", "=", MODULE), ("model", "=", "ir.ui.view"), ("noupdate", "=", False)]
    )
    views = env["ir.ui.view"].with_context(active_test=False).browse(data.mapped("res_id")).exists()
    by_view = {record.res_id: record.name for record in data}
    undeclared = views.filtered(lambda v: by_view[v.id] not in declared)
    redeclared = (views - undeclared).filtered("inherit_id")
    if undeclared:
        _logger.info(
            "removing %s views of Odoo's mass_mailing_sms that ours does not have: %s",
            len(undeclared),
            ", ".join(sorted(by_view[view.id] for view in undeclared)),
        )
        undeclared.unlink()
    if redeclared:
        env.cr.execute(
            SQL(
                "UPDATE ir_ui_view SET arch_db = jsonb_build_object('en_US', %s) WHERE id IN %s",
                EMPTY_EXTENSION_ARCH,
                tuple(redeclared.ids),
            )
        )
        redeclared.invalidate_recordset(["arch_db"])
        _logger.info("emptied %s old extension views that ours redefines", len(redeclared))


def _keep_demo_records(cr):
    cr.execute(
        SQL(
            """UPDATE ir_model_data SET noupdate = TRUE
                WHERE module = %s AND model IN %s AND noupdate IS NOT TRUE""",
            MODULE,
            DEMO_MODELS,
        )
    )
    if cr.rowcount:
        _logger.info("%s records of Odoo's demo data marked no-update, to keep them", cr.rowcount)


def _create_sms_trace_index(cr):
    if index_exists(cr, SMS_TRACE_INDEX):
        return
    cr.execute(
        SQL(
            """SELECT array_agg(id ORDER BY id DESC) FROM mailing_trace
                WHERE trace_type = 'sms'
                GROUP BY mass_mailing_id, model, res_id
               HAVING COUNT(*) > 1"""
        )
    )
    # per recipient traced twice or more, the newest trace stays under the index
    older_ids = [trace_id for (ids,) in cr.fetchall() for trace_id in ids[1:]]
    condition = SQL("trace_type = 'sms'")
    if older_ids:
        condition = SQL("%s AND id NOT IN %s", condition, tuple(older_ids))
        _logger.info(
            "%s older SMS traces of recipients traced twice by one mailing are kept outside %s",
            len(older_ids),
            SMS_TRACE_INDEX,
        )
    cr.execute(
        SQL(
            "CREATE UNIQUE INDEX %s ON mailing_trace (mass_mailing_id, model, res_id) WHERE %s",
            SQL.identifier(SMS_TRACE_INDEX),
            condition,
        )
    )
