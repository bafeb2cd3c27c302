# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
"""Helpers of the upgrade check of ``bin/test_compat`` (issue 6).

Run with Odoo importable (``PYTHONPATH=$ODOO_SRC``) and the database prepared by
``bin/test_compat``:

``seed``      with Odoo's own ``mass_mailing_sms`` loaded: add SMS mailings sent to lists
              and partners (traces, SMS, trackers, opt-outs, a duplicate trace) and
              blacklisted numbers, on top of the demo data;
``snapshot``  plain SQL, whoever's addon is installed: one JSON line with, per table, the
              rows that must survive the upgrade (id and the columns both versions share);
``check``     with ours loaded in front (``--ours``): compare with the snapshot taken
              before the upgrade and check version, menus, views and the SMS medium.

``check`` writes one line per verdict, ``PASS <what>`` or ``FAIL <what>: <why>``; the
command counts them.
"""

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

from lxml import etree

import odoo
from odoo import SUPERUSER_ID, api
from odoo.modules.module import get_module_path
from odoo.tools import SQL

# table: (columns both versions keep, filter); rows are compared column by column
SNAPSHOT_TABLES = {
    "mailing_mailing": (
        [
            "subject",
            "mailing_type",
            "state",
            "body_plaintext",
            "sms_allow_unsubscribe",
            "sms_force_send",
            "sms_template_id",
            "mailing_model_id",
            "mailing_domain",
            "medium_id",
            "campaign_id",
        ],
        "mailing_type = 'sms'",
    ),
    "mailing_trace": (
        [
            "mass_mailing_id",
            "model",
            "res_id",
            "trace_status",
            "failure_type",
            "sms_number",
            "sms_code",
            "sms_id_int",
        ],
        "trace_type = 'sms'",
    ),
    "mailing_subscription": (["contact_id", "list_id", "opt_out"], "TRUE"),
    "mailing_contact": (["name", "mobile", "email"], "TRUE"),
    "mailing_list": (["name", "active"], "TRUE"),
    "phone_blacklist": (["number", "active"], "TRUE"),
    "sms_sms": (["number", "state", "mailing_id", "body", "uuid"], "mailing_id IS NOT NULL"),
    "sms_tracker": (["sms_uuid", "mailing_trace_id"], "mailing_trace_id IS NOT NULL"),
    "link_tracker_click": (["mailing_trace_id", "link_id"], "mailing_trace_id IS NOT NULL"),
    "utm_campaign": (["ab_testing_sms_winner_selection"], "TRUE"),
}
OUR_MEDIUM_NAME = "SMS Text Message"  # SPEC F2
APP_NAME = "SMS Marketing"
CHECKED_VIEW_MODELS = (
    "mailing.mailing",
    "mailing.trace",
    "mailing.contact",
    "mailing.list",
    "mailing.subscription",
    "utm.campaign",
    "sms.sms",
    "sms.composer",
    "mailing.sms.test",
    "phone.blacklist",
)


def _say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _open_registry(args):
    if args.ours:
        odoo.addons.__path__.insert(0, os.path.normcase(os.environ["MMS_ADDONS_DIR"]))
    odoo.tools.config.parse_config(
        [
            "--database",
            args.database,
            "--addons-path",
            args.addons_path,
            "--data-dir",
            args.data_dir,
            "--log-level",
            "warn",
            "--no-http",
        ]
    )
    return odoo.modules.registry.Registry(args.database)


# --------------------------------------------------------------------------------------
# seed: SMS data made by Odoo's own mass_mailing_sms
# --------------------------------------------------------------------------------------


def seed(env):
    """SMS mailings with traces, list subscriptions and blacklisted numbers."""
    env["phone.blacklist"]._add(["+32470990001", "+32470990002", "+32470990003"])
    env["phone.blacklist"]._remove(["+32470990003"])  # kept, inactive

    sms_list = env["mailing.list"].create({"name": "Compat check SMS list"})
    contacts = env["mailing.contact"].create(
        [
            {"name": "Compat Ann", "mobile": "+32470990010", "list_ids": [(4, sms_list.id)]},
            {"name": "Compat Bob", "mobile": "+32470990011", "list_ids": [(4, sms_list.id)]},
            {"name": "Compat Cid", "mobile": "+32470990001", "list_ids": [(4, sms_list.id)]},
            {"name": "Compat Dan", "mobile": "0470 99 00 10", "list_ids": [(4, sms_list.id)]},
            {"name": "Compat Eve", "mobile": "12", "list_ids": [(4, sms_list.id)]},
            {"name": "Compat Fay", "mobile": False, "list_ids": [(4, sms_list.id)]},
            {"name": "Compat Gus", "mobile": "+32470990016", "list_ids": [(4, sms_list.id)]},
        ]
    )
    env["mailing.subscription"].search(
        [("contact_id", "=", contacts[6].id), ("list_id", "=", sms_list.id)]
    ).opt_out = True

    campaign = env["utm.campaign"].create(
        {"name": "Compat check campaign", "ab_testing_sms_winner_selection": "manual"}
    )
    to_list = env["mailing.mailing"].create(
        {
            "mailing_type": "sms",
            "subject": "Compat check: to a list",
            "body_plaintext": "Hello {{ object.name }}, see https://www.example.com/compat",
            "mailing_model_id": env["ir.model"]._get_id("mailing.list"),
            "contact_list_ids": [(6, 0, sms_list.ids)],
            "sms_allow_unsubscribe": True,
            "campaign_id": campaign.id,
        }
    )
    to_list.action_send_sms()
    partners = env["res.partner"].create(
        [
            {"name": "Compat Partner 1", "mobile": "+32470990021"},
            {"name": "Compat Partner 2", "phone": "+32470990022"},
            {"name": "Compat Partner 3", "mobile": "+32470990002"},
        ]
    )
    to_partners = env["mailing.mailing"].create(
        {
            "mailing_type": "sms",
            "subject": "Compat check: to partners",
            "body_plaintext": "Hi {{ object.name }}",
            "mailing_model_id": env["ir.model"]._get_id("res.partner"),
            "mailing_domain": repr([("id", "in", partners.ids)]),
        }
    )
    to_partners.action_send_sms()
    env["mailing.mailing"].create(
        {
            "mailing_type": "sms",
            "subject": "Compat check: draft",
            "body_plaintext": "Not sent yet",
            "mailing_model_id": env["ir.model"]._get_id("mailing.list"),
            "contact_list_ids": [(6, 0, sms_list.ids)],
        }
    )
    # delivery of part of the SMS: one received, one refused by the provider
    sms_records = env["sms.sms"].search([("mailing_id", "=", to_list.id)], order="id")
    if len(sms_records) >= 2:
        sms_records[0].sms_tracker_id._action_update_from_sms_state("sent")
        sms_records[1].sms_tracker_id._action_update_from_provider_error("wrong_number_format")
    # a recipient traced twice by one mailing (old data, or Odoo's own demo data)
    first = env["mailing.trace"].search([("mass_mailing_id", "=", to_partners.id)], limit=1)
    first.copy({"trace_status": "error", "failure_type": "sms_server"})
    return {
        "sms_mailings": env["mailing.mailing"].search_count([("mailing_type", "=", "sms")]),
        "sms_traces": env["mailing.trace"].search_count([("trace_type", "=", "sms")]),
    }


# --------------------------------------------------------------------------------------
# snapshot: what must survive, read with SQL only
# --------------------------------------------------------------------------------------


def _table_columns(cr, table):
    cr.execute(
        SQL("SELECT column_name FROM information_schema.columns WHERE table_name = %s", table)
    )
    return {row[0] for row in cr.fetchall()}


def snapshot(cr):
    """{table: {"count": n, "max_id": id, "rows": {id: digest}}} for SNAPSHOT_TABLES."""
    result = {}
    for table, (columns, where) in SNAPSHOT_TABLES.items():
        existing = _table_columns(cr, table)
        if not existing:
            continue
        kept = [column for column in columns if column in existing]
        cr.execute(
            SQL(
                "SELECT id, %s FROM %s WHERE %s ORDER BY id",
                SQL(", ").join(SQL.identifier(column) for column in kept) if kept else SQL("NULL"),
                SQL.identifier(table),
                SQL(where),
            )
        )
        rows = {
            str(row[0]): hashlib.sha1(
                json.dumps(row[1:], default=str, sort_keys=True).encode()
            ).hexdigest()[:16]
            for row in cr.fetchall()
        }
        result[table] = {
            "count": len(rows),
            "max_id": max((int(key) for key in rows), default=0),
            "columns": kept,
            "rows": rows,
        }
    return result


# --------------------------------------------------------------------------------------
# check: after the upgrade, with ours loaded
# --------------------------------------------------------------------------------------


def _verdict(label, ok, why=""):
    _say(f"PASS {label}" if ok else f"FAIL {label}: {why}")


def check(env, before, repo):
    cr = env.cr
    # the module loaded is ours, at our version
    module_path = os.path.realpath(get_module_path("mass_mailing_sms") or "")
    _verdict(
        f"mass_mailing_sms loaded from {module_path}",
        module_path == os.path.realpath(repo),
        f"expected {repo}",
    )
    module = env["ir.module.module"].search([("name", "=", "mass_mailing_sms")])
    _verdict(
        f"installed version {module.latest_version} ({module.state})",
        module.state == "installed" and (module.latest_version or "").startswith("18.0.2."),
        "expected an installed 18.0.2.x",
    )

    # every row of before is still there, unchanged (columns compared: both versions')
    after = snapshot(cr)
    for table, old in before.items():
        new = after.get(table, {"rows": {}, "count": 0})
        if old["columns"] != new.get("columns", old["columns"]):
            _verdict(f"{table}: columns", False, f"{old['columns']} -> {new.get('columns')}")
            continue
        missing = sorted(set(old["rows"]) - set(new["rows"]), key=int)
        changed = sorted(
            (
                key
                for key in old["rows"]
                if key in new["rows"] and new["rows"][key] != old["rows"][key]
            ),
            key=int,
        )
        added = [key for key in new["rows"] if int(key) > old["max_id"]]
        kept = old["count"] - len(missing)
        label = f"{table}: {kept}/{old['count']} rows kept"
        if added:
            label += f" (+{len(added)} created by the upgrade)"
        why = []
        if missing:
            why.append(f"missing ids {missing[:10]}")
        if changed:
            why.append(f"changed ids {changed[:10]}")
        _verdict(label, not missing and not changed, "; ".join(why))

    # the SMS medium is ours (SPEC F2), with the same record
    medium = env.ref("mass_mailing_sms.utm_medium_sms", raise_if_not_found=False)
    _verdict(
        f"medium mass_mailing_sms.utm_medium_sms named {medium.name if medium else None!r}",
        bool(medium) and medium.name == OUR_MEDIUM_NAME,
        f"expected {OUR_MEDIUM_NAME!r}",
    )

    # one SMS trace per recipient is enforced by a unique index, old duplicates kept
    cr.execute(
        SQL(
            """SELECT indexname FROM pg_indexes
                WHERE tablename = 'mailing_trace' AND indexdef ILIKE 'CREATE UNIQUE INDEX%%'
                  AND indexdef ILIKE '%%(mass_mailing_id, model, res_id)%%'
                  AND indexdef ILIKE '%%sms%%'"""
        )
    )
    indexes = [row[0] for row in cr.fetchall()]
    _verdict(f"unique index on SMS traces {indexes}", bool(indexes), "none found")

    # one application root, no menu twice under it, every menu's action exists
    roots = (
        env["ir.ui.menu"]
        .with_context(active_test=False)
        .search([("parent_id", "=", False), ("name", "=", APP_NAME)])
    )
    _verdict(f"{len(roots)} root menu named {APP_NAME!r}", len(roots) == 1, f"ids {roots.ids}")
    app_menus = (
        env["ir.ui.menu"].with_context(active_test=False).search([("id", "child_of", roots.ids)])
    )
    seen, doubles = set(), []
    for menu in app_menus:
        key = (menu.parent_id.id, menu.name)
        if key in seen:
            doubles.append(menu.complete_name)
        seen.add(key)
    _verdict(f"{len(app_menus)} menus of the app, none twice", not doubles, f"twice: {doubles}")
    dangling = []
    for menu in app_menus:
        cr.execute(SQL("SELECT action FROM ir_ui_menu WHERE id = %s", menu.id))
        reference = cr.fetchone()[0]
        if reference:
            model, res_id = reference.split(",")
            if model not in env or not env[model].browse(int(res_id)).exists():
                dangling.append(f"{menu.complete_name} -> {reference}")
    _verdict("every menu of the app opens an existing action", not dangling, f"{dangling}")

    # what Odoo's version had and ours does not declare is gone
    declared = _declared_xmlids(repo)
    data = env["ir.model.data"].search(
        [
            ("module", "=", "mass_mailing_sms"),
            (
                "model",
                "in",
                [
                    "ir.ui.view",
                    "ir.ui.menu",
                    "ir.actions.act_window",
                    "ir.actions.server",
                    "ir.actions.report",
                    "ir.actions.client",
                    "ir.model.access",
                    "ir.rule",
                ],
            ),
        ]
    )
    leftovers = sorted(f"{d.name} ({d.model})" for d in data if d.name not in declared)
    _verdict(
        f"{len(data)} views/menus/actions/access of mass_mailing_sms, all declared by ours",
        not leftovers,
        f"left from Odoo's version: {leftovers}",
    )

    # every view of the SMS models still validates (nothing points to a dropped field)
    broken = []
    views = env["ir.ui.view"].search([("model", "in", CHECKED_VIEW_MODELS)])
    for view in views:
        try:
            with cr.savepoint():
                view._check_xml()
        except Exception as error:  # noqa: BLE001 - report every broken view
            broken.append(f"{view.xml_id or view.id}: {str(error).splitlines()[0]}")
    _verdict(f"{len(views)} views of the SMS models validate", not broken, f"{broken[:5]}")


def _declared_xmlids(repo):
    """XML ids (without module) our manifest's data files declare."""
    manifest = Path(repo, "__manifest__.py").read_text(encoding="utf-8")
    data_files = odoo.tools.safe_eval.safe_eval(manifest).get("data", [])
    names = set()
    for data_file in data_files:
        path = Path(repo, data_file)
        if data_file.endswith(".csv"):
            lines = path.read_text(encoding="utf-8").splitlines()[1:]
            names.update(line.split(",", 1)[0] for line in lines if line.strip())
            continue
        tree = etree.parse(str(path))
        for node in tree.iter():
            xmlid = node.get("id") if isinstance(node.tag, str) else None
            if xmlid and node.tag in ("record", "menuitem", "template", "report"):
                names.add(xmlid.removeprefix("mass_mailing_sms."))
    return names


# --------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["seed", "snapshot", "check"])
    parser.add_argument("--database", required=True)
    parser.add_argument("--addons-path", default="")
    parser.add_argument("--data-dir", default="")
    parser.add_argument("--before", help="snapshot file (check)")
    parser.add_argument("--ours", action="store_true", help="load this checkout in front")
    args = parser.parse_args()

    if args.action == "snapshot":
        connection = odoo.sql_db.db_connect(args.database)
        with connection.cursor() as cr:
            _say(json.dumps(snapshot(cr), sort_keys=True))
        return 0

    registry = _open_registry(args)
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        if args.action == "seed":
            _say(json.dumps(seed(env)))
        else:
            before = json.loads(Path(args.before).read_text(encoding="utf-8"))
            check(env, before, os.environ["MMS_REPO"])
            cr.rollback()
    return 0


if __name__ == "__main__":
    sys.exit(main())
