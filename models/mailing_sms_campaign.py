# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
"""Building an SMS campaign: recipients -> traces + SMS + trackers, in batches of a fixed
number of queries, each its own transaction; then the hand-off to the SMS queue and the
mailing's state (issue 7, RELIABILITY "exactly-once")."""

import json
import logging
import threading

from psycopg2.extensions import TRANSACTION_STATUS_IDLE

from odoo import fields, models
from odoo.tools import SQL, split_every

from ..tools.bulk_rows import array_literal, same_value
from ..tools.sms_text import (
    tag_short_links,
)
from ..tools.table_storage import time_ordered_uuid

SMS_BATCH_SIZE = 1000  # recipients turned into SMS and traces per transaction step
# recipients one call of the mailing queue builds before it hands over to its next call
PARAM_BUILD_CHUNK = ("mass_mailing_sms.sms_build_chunk_size", 50000)
# rows the build inserts without author: each author column costs a foreign-key check per
# row (issue 7: about 10 ms per 1,000 rows each). The queue's SMS (deleted once sent) and
# their trackers are technical; a trace's author would be the cron's user, which no screen
# shows (issue 28), and the statuses the queue writes on it leave write_uid alone
SMS_ROWS_WITHOUT_AUTHOR = ("sms.sms", "sms.tracker", "mailing.trace")
# a run that inserted at least this many rows refreshes the planner's statistics of the tables
# it filled when they hold much more than the statistics say (see _sms_refresh_statistics)
SMS_ANALYZE_MIN_ROWS = 5000
SMS_ANALYZE_TABLES = ("mailing_trace", "sms_sms", "sms_tracker")
# traces whose SMS has not left our queue or the provider's yet: the mailing is still sending
SMS_WAITING_STATUSES = ("outgoing", "process")
# advisory locks a build step holds until it commits (pg_advisory_xact_lock(class, key)), so
# that two builds at once (two cron threads, the button and the cron) check recipients and
# numbers against what the other committed (issue 16.5; the frequency cap's lock per number:
# mailing_sms_protections.py)
SMS_LOCK_MAILING = 5160701  # key: the mailing's id
SMS_LOCK_AB_TEST = 5160702  # key: the campaign of an A/B test (its versions share numbers)

_logger = logging.getLogger(__name__)


class MailingSmsCampaign(models.AbstractModel):
    """SMS Mailing Campaign, for ``mailing.mailing`` (which inherits it)."""

    _name = "mailing.sms.campaign"
    _description = "SMS Mailing Campaign"

    def _sms_send(self, res_ids=None):
        """``action_send_sms`` once the mailings are known to be ready to send.

        Without ``res_ids``, a mailing builds its next chunk of recipients (the setting
        ``mass_mailing_sms.sms_build_chunk_size``) and, while more remain, stays sending and
        wakes the mailing queue for the next chunk; the SMS queue starts on the first one
        (issue 28). A/B test versions, whose recipients are a random sample, build at once.
        """
        auto_commit = not getattr(threading.current_thread(), "testing", False)
        chunk_size = self.env["sms.sms"].sudo()._sms_get_param(PARAM_BUILD_CHUNK)
        unfinished = self.browse()
        for mailing in self:
            context_user = mailing.user_id or mailing.write_uid or self.env.user
            mailing = mailing.with_context(
                **self.env["res.users"].with_user(context_user).context_get()
            )
            if res_ids:
                recipient_ids = res_ids
            elif mailing._sms_builds_in_chunks():
                recipient_ids = mailing._sms_get_remaining_ids(limit=chunk_size)
                if len(recipient_ids) == chunk_size:
                    unfinished |= mailing
            else:
                recipient_ids = mailing._get_remaining_recipients()
            if recipient_ids and not mailing.sms_build_pending:
                # committed with the build's first step: while the build goes on, the SMS
                # queue, done with the SMS of the first batches, leaves the mailing sending
                mailing.sms_build_pending = True
            mailing._sms_build(recipient_ids, auto_commit)
            if mailing.sms_build_pending != (mailing in unfinished):
                mailing.sms_build_pending = mailing in unfinished
            mailing._sms_update_mailing_state()
        if unfinished:
            # the next chunk in the next call of the mailing queue, at once
            self.env.ref("mass_mailing.ir_cron_mass_mailing_queue").sudo()._trigger()
        return True

    def _sms_build(self, recipient_ids, auto_commit):
        """Traces and SMS for ``recipient_ids`` (those already traced are skipped), in batches
        of ``SMS_BATCH_SIZE`` each committed on its own; hands the SMS to the queue."""
        self.ensure_one()
        sms_ids = []
        # None: each batch asks for its own
        opt_out_ids = None if self._sms_reads_opt_outs_by_batch() else self._sms_get_opt_out_ids()
        # links of the text shortened once for the whole run, not once per batch
        template = self._sms_shorten_template_links(self.body_plaintext or "")
        compliance = self._sms_compliance()  # the company's settings, read once
        inserted = analyzed = 0  # rows this run inserted, when statistics were last checked
        if auto_commit:
            self._sms_next_build_step()
        for batch_ids in split_every(SMS_BATCH_SIZE, recipient_ids, list):
            batch_sms = self._sms_send_batch(
                batch_ids, opt_out_ids, template=template, compliance=compliance
            )
            if batch_sms and not sms_ids and not self.sms_force_send:
                # committed with this batch: sending starts while the build goes on
                self.env.ref("sms.ir_cron_sms_scheduler_action").sudo()._trigger()
            sms_ids += batch_sms.ids
            inserted += len(batch_ids)
            if inserted >= max(SMS_ANALYZE_MIN_ROWS, 2 * analyzed):
                self._sms_refresh_statistics(inserted)
                analyzed = inserted
            if auto_commit:
                # each batch is its own transaction: SMS and traces are saved before
                # anything reaches the provider (RELIABILITY "exactly-once" 2, 6); the
                # records read for it leave the cache, so memory does not grow with N
                self._sms_next_build_step()
                self.env.invalidate_all()
        if inserted > analyzed:
            self._sms_refresh_statistics(inserted)
        self._sms_dispatch(self.env["sms.sms"].browse(sms_ids))

    def _sms_builds_in_chunks(self):
        """Whether the mailing's remaining recipients can be taken chunk by chunk: not for
        an A/B test version, whose recipients are drawn at random once."""
        return not self.ab_testing_enabled or self.ab_testing_is_winner_mailing

    def _sms_send_batch(self, res_ids, opt_out_ids=None, template=None, compliance=None):
        """Build traces and SMS for one batch of recipient ids; returns the SMS created.

        ``opt_out_ids``: the recipients opted out (read for the batch when not given);
        ``template``: the text with its links already shortened (computed when not given);
        ``compliance``: the prefix and footers of the SMS (read when not given).

        A fixed number of queries per batch, whatever its size: records and numbers are
        read together, checks are set operations, SMS, trackers and traces are inserted
        in one statement each (issue 7).
        """
        self.ensure_one()
        self._sms_lock_build()
        records = self.env[self.mailing_model_real].browse(res_ids).exists()
        records -= records.browse(self._sms_get_traced_ids(records.ids))
        if not records:
            return self.env["sms.sms"]
        if opt_out_ids is None:
            opt_out_ids = self._sms_get_opt_out_ids(records.ids)
        recipients = self._sms_get_recipients_numbers(records)
        numbers = {info["sanitized"] for info in recipients.values() if info["sanitized"]}
        blacklisted = self._sms_get_blacklisted_numbers(numbers)
        seen = self._sms_get_seen_numbers(numbers)  # {number: (model, res_id) that got it}
        capped = self._sms_get_capped_numbers(numbers - set(seen) - blacklisted)

        skipped = {}  # res_id: (status, failure_type)
        duplicate_of = {}  # res_id: (model, res_id) of the recipient who keeps the SMS
        to_send_ids = []
        for res_id in records.ids:
            info = recipients[res_id]
            number = info["sanitized"]
            if res_id in opt_out_ids:
                skipped[res_id] = ("cancel", "sms_optout")
            elif not info["number"]:
                skipped[res_id] = ("cancel", "sms_number_missing")
            elif not number:
                skipped[res_id] = ("bounce", "sms_number_format")
            elif number in blacklisted:
                skipped[res_id] = ("cancel", "sms_blacklist")
            elif number in seen:
                skipped[res_id] = ("cancel", "sms_duplicate")
                duplicate_of[res_id] = seen[number]
            elif number in capped:
                skipped[res_id] = ("cancel", "sms_frequency_cap")
            else:
                seen[number] = (records._name, res_id)
                to_send_ids.append(res_id)

        bodies, render_errors = self._sms_render_bodies(
            records.browse(to_send_ids), template=template
        )
        traces_values = [
            self._sms_prepare_trace_values(res_id, recipients[res_id], status, failure_type)
            for res_id, (status, failure_type) in skipped.items()
        ]
        duplicate_reasons = self._sms_get_duplicate_reasons(duplicate_of)
        for values in traces_values:
            if values["res_id"] in duplicate_reasons:
                values["failure_reason"] = duplicate_reasons[values["res_id"]]
        for res_id, error in render_errors.items():
            values = self._sms_prepare_trace_values(res_id, recipients[res_id], "error", "unknown")
            values["failure_reason"] = error
            traces_values.append(values)

        send_ids = [res_id for res_id in to_send_ids if res_id in bodies]
        sms_ids = self._sms_reserve_ids("sms_sms", len(send_ids))
        link_pattern = self._sms_short_link_pattern()
        base_url = self.get_base_url()
        compliance = compliance or self._sms_compliance()
        sms_values = {}  # res_id: values of its SMS
        for res_id, sms_id in zip(send_ids, sms_ids, strict=True):
            trace_values = self._sms_prepare_trace_values(res_id, recipients[res_id], "outgoing")
            body = bodies[res_id]
            if link_pattern:  # each short link carries the SMS id (C9)
                body = tag_short_links(link_pattern, body, sms_id)
            # brand prefix and the opt-out footer of the recipient's country (issue 29)
            url = compliance.opt_out and self._sms_get_unsubscribe_url(
                trace_values["sms_code"], base_url
            )
            body = compliance.apply(body, recipients[res_id]["sanitized"], url)
            sms_values[res_id] = {
                "id": sms_id,
                "uuid": time_ordered_uuid(),
                "body": body,
                "number": recipients[res_id]["sanitized"],
                "partner_id": recipients[res_id]["partner"].id or None,
                "mailing_id": self.id,
                "state": "outgoing",
            }
            trace_values["sms_id_int"] = sms_id
            traces_values.append(trace_values)

        # traces first: a recipient another build traced meanwhile is skipped, with its SMS
        trace_ids = self._sms_reserve_ids("mailing_trace", len(traces_values))
        for values, trace_id in zip(traces_values, trace_ids, strict=True):
            values["id"] = trace_id
        inserted_ids = set(
            self._sms_insert_rows("mailing.trace", traces_values, skip_conflicts=True)
        )
        if len(inserted_ids) < len(traces_values):
            _logger.info(
                "SMS mailing %s: %s recipient(s) already traced by another build, skipped",
                self.id,
                len(traces_values) - len(inserted_ids),
            )
        kept = {  # res_id: id of its trace, for the traces inserted
            values["res_id"]: values["id"]
            for values in traces_values
            if values["id"] in inserted_ids
        }
        sms_rows = [values for res_id, values in sms_values.items() if res_id in kept]
        tracker_values = [
            {"sms_uuid": sms_values[res_id]["uuid"], "mailing_trace_id": kept[res_id]}
            for res_id in sms_values
            if res_id in kept
        ]
        self._sms_insert_rows("sms.sms", sms_rows)
        self._sms_insert_rows("sms.tracker", tracker_values)
        return self.env["sms.sms"].browse([values["id"] for values in sms_rows])

    def _sms_next_build_step(self):
        """Commit what was built so far; the next step runs in READ COMMITTED, where each
        statement sees what other transactions committed before it: once it holds its locks,
        the step checks recipients and numbers against what another build committed while it
        waited (Odoo's REPEATABLE READ would keep the view of the step's first statement)."""
        cr = self.env.cr
        cr.commit()  # pylint: disable=invalid-commit
        if cr._cnx.info.transaction_status == TRANSACTION_STATUS_IDLE:
            cr.execute(SQL("SET TRANSACTION ISOLATION LEVEL READ COMMITTED"))

    def _sms_lock_build(self):
        """Wait for any other build step of this mailing (or of its A/B test) to commit."""
        self.env.cr.execute(SQL("SELECT pg_advisory_xact_lock(%s, %s)", SMS_LOCK_MAILING, self.id))
        if self.ab_testing_enabled and self.campaign_id:
            self.env.cr.execute(
                SQL("SELECT pg_advisory_xact_lock(%s, %s)", SMS_LOCK_AB_TEST, self.campaign_id.id)
            )

    def _sms_refresh_statistics(self, inserted):
        """ANALYZE the tables a run fills when it inserted more rows than PostgreSQL's
        statistics say they hold (as PostgreSQL advises after a bulk load).

        Autovacuum refreshes them about a minute after a table grew; until then the planner
        takes a table that went from a few rows to 100,000 for a small one and picks plans
        that read every queued SMS or trace per batch (claims, re-checks, duplicate checks),
        so that a large campaign slowed down as it went (issue 7). A table whose statistics
        already count at least half as many rows is left alone: its plans do not change.
        """
        self.env.cr.execute(
            SQL(
                "SELECT relname FROM pg_class WHERE relname = ANY(%s) AND relkind = 'r'"
                " AND reltuples < %s",
                list(SMS_ANALYZE_TABLES),
                inserted / 2,
            )
        )
        for (table,) in self.env.cr.fetchall():
            # a table this user does not own is skipped with a warning, not an error
            self.env.cr.execute(SQL("ANALYZE %s", SQL.identifier(table)))

    def _sms_refresh_trace_statistics(self, mailing_ids):
        """ANALYZE mailing_trace when PostgreSQL's statistics count far fewer traces of
        ``mailing_ids`` than they have, before a query checks recipients against them.

        In a table of millions of traces, a new mailing's first hundred thousand change too
        little for autovacuum, and the table-wide check of ``_sms_refresh_statistics`` sees
        nothing to do: PostgreSQL then took a mailing with 150,000 traces for one without,
        compared every recipient with all of them, and one chunk of a million-recipient
        campaign was still running after minutes (issue 28). Costs one count of the mailing's
        traces, and an ANALYZE (a sample of the table, a fraction of a second) when the estimate
        is off; done once per transaction: the queue asks for remaining recipients three times
        before it builds a chunk, and the count of a million traces takes a tenth of a second.
        """
        cr = self.env.cr
        key = ("mass_mailing_sms.trace_statistics", tuple(mailing_ids))
        if cr.cache.get(key) == cr.now():
            return  # already checked in this transaction
        cr.cache[key] = cr.now()
        cr.execute(
            SQL(
                "SELECT COUNT(*) FROM mailing_trace WHERE mass_mailing_id = ANY(%s) AND trace_type = 'sms'",
                mailing_ids,
            )
        )
        count = cr.fetchone()[0]
        if count < SMS_ANALYZE_MIN_ROWS:
            return
        cr.execute(
            SQL(
                "EXPLAIN (FORMAT JSON) SELECT 1 FROM mailing_trace"
                " WHERE mass_mailing_id = ANY(%s) AND trace_type = 'sms'",
                mailing_ids,
            )
        )
        plan = cr.fetchone()[0]
        estimate = (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]["Plan Rows"]
        if estimate * 2 < count:
            # a table this user does not own is skipped with a warning, not an error
            cr.execute(SQL("ANALYZE mailing_trace"))

    def _sms_reserve_ids(self, table, count):
        """``count`` new ids of ``table``, so that SMS bodies can name their SMS at insert."""
        if not count:
            return []
        self.env.cr.execute(
            SQL(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                table,
                count,
            )
        )
        return [row[0] for row in self.env.cr.fetchall()]

    def _sms_insert_rows(self, model_name, vals_list, skip_conflicts=False):
        """Insert rows of ``model_name`` in one statement; returns their ids in order.

        Used on the sending path only, for records without side effects (SMS, traces,
        trackers): the ORM's batched ``create()`` takes three times as long for them
        (README "Building in bulk"). Columns not given take the model's defaults, computed
        once per call, so values that must differ per row (uuid, codes) are always passed
        explicitly; stored computed fields not given (another addon's) are computed by the
        ORM once the rows exist. ``tests/test_bulk_rows.py`` fails when an addon gives these
        models a field or a ``create()`` this misses.

        With ``skip_conflicts``, a row a unique index refuses is left out, and only the ids
        of the rows inserted are returned: give each row its ``id`` to know which.
        """
        if not vals_list:
            return []
        model = self.env[model_name].sudo()
        columns = [
            name
            for name, field in model._fields.items()
            if field.store and field.column_type and name != "id"
        ]
        given = set().union(*vals_list)
        defaults = model.default_get([name for name in columns if name not in given])
        now = self.env.cr.now()
        magic = {"create_date": now, "write_date": now}
        if model_name not in SMS_ROWS_WITHOUT_AUTHOR:
            magic.update(create_uid=self.env.uid, write_uid=self.env.uid)
        if model_name == "mailing.trace":
            magic["campaign_id"] = self.campaign_id.id or None
        names = [
            name for name in ("id", *columns) if name in given or name in defaults or name in magic
        ]
        # a value the rows share is one parameter; the others are one array per column,
        # written as one string (tools/bulk_rows.py)
        selected, arrays = [], []
        for name in names:
            field = model._fields[name]
            default = magic.get(name, defaults.get(name))
            values = [vals.get(name, default) for vals in vals_list]
            if field.type != "boolean":
                values = [None if value is False else value for value in values]
            column_type = SQL("int4" if name == "id" else field.column_type[1])
            if same_value(values):
                selected.append(SQL("%s::%s", values[0], column_type))
                continue
            literal = array_literal(values)
            arrays.append(SQL("%s::%s[]", values if literal is None else literal, column_type))
            selected.append(SQL.identifier(f"column_{len(arrays)}"))
        if arrays:
            aliases = SQL(", ").join(
                SQL.identifier(f"column_{index}") for index in range(1, len(arrays) + 1)
            )
            rows = SQL("unnest(%s) AS given(%s)", SQL(", ").join(arrays), aliases)
        else:
            rows = SQL("generate_series(1, %s)", len(vals_list))
        model.flush_model()
        self.env.cr.execute(
            SQL(
                "INSERT INTO %s (%s) SELECT %s FROM %s %s RETURNING id",
                SQL.identifier(model._table),
                SQL(", ").join(SQL.identifier(name) for name in names),
                SQL(", ").join(selected),
                rows,
                SQL("ON CONFLICT DO NOTHING" if skip_conflicts else ""),
            )
        )
        ids = [row[0] for row in self.env.cr.fetchall()]
        model.invalidate_model()
        computed = [
            field
            for name, field in model._fields.items()
            if field.store and field.compute and name not in names
        ]
        if computed and ids:
            records = model.browse(ids)
            for field in computed:
                self.env.add_to_compute(field, records)
            records.flush_recordset([field.name for field in computed])
        return ids

    def _sms_dispatch(self, sms_records):
        """Leave the SMS to the queue, or send them at once when asked (F1 "Send Directly")."""
        if not sms_records:
            return
        if self.sms_force_send:
            # sent once this transaction commits, never from it (RELIABILITY 6)
            sms_records.sudo()._sms_send_directly()
        else:
            self.env.ref("sms.ir_cron_sms_scheduler_action").sudo()._trigger()

    def _sms_filter_waiting(self):
        """SMS mailings with SMS still in our queue or held by the provider."""
        sms_mailings = self.filtered(lambda m: m.mailing_type == "sms" and m.id)
        if not sms_mailings:
            return sms_mailings
        # called after every batch the provider answers: stop at the first waiting trace
        # instead of counting them all
        self.env["mailing.trace"].flush_model(["mass_mailing_id", "trace_status"])
        self.env.cr.execute(
            SQL(
                """SELECT mailing.id FROM unnest(%s::int[]) AS mailing(id)
                    WHERE EXISTS (SELECT 1 FROM mailing_trace AS trace
                                   WHERE trace.mass_mailing_id = mailing.id
                                     AND trace.trace_status = ANY(%s))""",
                sms_mailings.ids,
                list(SMS_WAITING_STATUSES),
            )
        )
        waiting_ids = {row[0] for row in self.env.cr.fetchall()}
        return sms_mailings.filtered(lambda m: m.id in waiting_ids)

    def _sms_update_mailing_state(self):
        """sending while SMS wait in a queue or recipients wait to be built, done once none
        does (SPEC G3)."""
        # a mailing still being built is waiting whatever its traces say: they are not read
        building = self.filtered("sms_build_pending")
        waiting = building | (self - building)._sms_filter_waiting()
        waiting.filtered(lambda m: m.state != "sending").state = "sending"
        for mailing in (self - waiting).filtered(lambda m: m.state != "done"):
            mailing.write(
                {
                    "state": "done",
                    "sent_date": fields.Datetime.now(),
                    "kpi_mail_required": not mailing.sent_date,
                }
            )

    def _sms_retry_failed(self):
        """Send again the SMS the provider refused, under their own id; never one it accepted.

        * refused when handed over (credit, account, server, country...): the same SMS goes
          back to the queue, same uuid, so the provider can recognise a repeat;
        * failed in a delivery report (expired, not delivered): the provider accepted it,
          it stays as it is;
        * never got an SMS (its text could not be written): the trace is removed and the
          recipient is rebuilt by the next run of the mailing.
        """
        failed_traces = (
            self.env["mailing.trace"]
            .sudo()
            .search(
                [
                    ("mass_mailing_id", "in", self.ids),
                    ("trace_type", "=", "sms"),
                    ("trace_status", "=", "error"),
                    ("failure_type", "not in", list(self.env["sms.sms"].DELIVERY_ERRORS)),
                ]
            )
        )
        without_sms = failed_traces.filtered(lambda t: not t.sms_id_int)
        sms_sudo = (
            self.env["sms.sms"]
            .sudo()
            .browse((failed_traces - without_sms).mapped("sms_id_int"))
            .exists()
            .filtered(lambda s: s.state == "error" and not s.to_delete)
        )
        without_sms.unlink()
        if sms_sudo:
            # trackers move the traces back to outgoing as well
            sms_sudo.action_set_outgoing()
            self.env.ref("sms.ir_cron_sms_scheduler_action").sudo()._trigger()
        if without_sms:
            self.action_put_in_queue()
        else:
            self._sms_update_mailing_state()
