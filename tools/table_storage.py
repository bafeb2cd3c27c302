# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
"""Storage settings of the tables the SMS queue rewrites most (issue 7), and keys that
keep their indexes compact (issue 28)."""

import os
import time

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


def time_ordered_uuid():
    """A UUID version 7 (RFC 9562) as 32 hex digits, the form of ``sms.sms``'s uuid: the
    milliseconds since 1970 first, then 74 random bits.

    SMS and trackers are looked up by uuid through a unique index; with random uuids
    (version 4) each new row lands on a random page of that index, and once the index of a
    million SMS outgrows PostgreSQL's buffers nearly every insert reads and writes back a
    page of its own. Built in time order, a batch's entries share the last pages.
    """
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    value &= ~(0xF << 76 | 0x3 << 62)  # version and variant bits, set below
    value |= 0x7 << 76 | 0x2 << 62
    return f"{value:032x}"
