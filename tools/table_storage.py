# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
"""Storage settings of the tables the SMS queue rewrites most (issue 7)."""

from odoo.tools import SQL


def set_fillfactor(cr, table, fillfactor):
    """Leave ``100 - fillfactor`` % of each new page of ``table`` free, so that an update
    of columns no index uses rewrites the row in place of adding an entry to every index
    (PostgreSQL's "HOT" updates). Pages written before keep their layout."""
    cr.execute(
        SQL(
            "SELECT 1 FROM pg_class WHERE relname = %s AND relkind = 'r'"
            " AND %s = ANY(COALESCE(reloptions, '{}'))",
            table,
            f"fillfactor={fillfactor}",
        )
    )
    if not cr.rowcount:
        cr.execute(SQL("ALTER TABLE %s SET (fillfactor = %s)", SQL.identifier(table), fillfactor))
