# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
"""Who an SMS mailing goes to: recipients not traced yet, their numbers (read, sanitized,
with a guessed country when they have none), blacklisted, opted out and duplicate numbers."""

import re

import phonenumbers

from odoo import models
from odoo.exceptions import UserError
from odoo.tools import SQL

INTERNATIONAL_PREFIX = re.compile(r"^\s*(\+|00)")  # a number that names its own country


def sanitize_number(number, country_code):
    """E.164 form of ``number`` or False; one parse for the common case of a valid number.

    Numbers that phonenumbers does not take at once (``00`` prefixes, missing ``+``,
    countries whose metadata Odoo patches) go through Odoo's own ``phone_format``.
    """
    try:
        parsed = phonenumbers.parse(number, country_code or None)
    except phonenumbers.NumberParseException:
        return False
    if phonenumbers.is_valid_number(parsed):
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return False


def first_valid_number(numbers, sanitize):
    """(number, E.164) of the first of ``numbers`` that is a valid number, as Odoo picks a
    recipient's number (a bad mobile beside a good phone does not bounce); else the first
    one written, with False (it is malformed), else (False, False)."""
    written = False
    for number in numbers:
        if not number:
            continue
        sanitized = sanitize(number)
        if sanitized:
            return number, sanitized
        written = written or number
    return written, False


class MailingSmsRecipients(models.AbstractModel):
    """SMS Mailing Recipients, for ``mailing.mailing`` (which inherits it)."""

    _name = "mailing.sms.recipients"
    _description = "SMS Mailing Recipients"

    def _sms_get_number_sources(self):
        """Where the numbers of the target model come from; UserError if it has none."""
        self.ensure_one()
        model = self.env[self.mailing_model_real]
        sanitized = "phone_sanitized" if "phone_sanitized" in model._fields else False
        number_fields = [
            fname for fname in model._phone_get_number_fields() if fname in model._fields
        ]
        # one contact per record: a many2many to contacts alone is not a number (COMPAT,
        # test_mass_mailing's test_mass_sms_partner_only_m2m expects the UserError below)
        partner_fields = [
            fname
            for fname in model._mail_get_partner_fields()
            if fname in model._fields
            and model._fields[fname].type == "many2one"
            and model._fields[fname].comodel_name == "res.partner"
        ]
        if not (sanitized or number_fields or partner_fields):
            raise UserError(
                self.env._(
                    "%(model)s records have no phone number: choose recipients with a mobile or "
                    "phone field (or linked to a contact) to send them SMS.",
                    model=self.env["ir.model"]._get(model._name).display_name,
                )
            )
        return sanitized, number_fields, partner_fields

    def _sms_traced_mailing_ids(self):
        """Mailings whose traces count as sent for this one: itself (for the winner of an A/B
        test: every mailing of the test)."""
        mailing_ids = [self._origin.id or 0]
        if self.ab_testing_enabled and self.ab_testing_is_winner_mailing:
            mailing_ids += self._get_ab_testing_siblings_mailings().ids
        return mailing_ids

    def _sms_remaining_recipients_query(self):
        """SELECT of the ids of recipients targeted and not traced yet in this mailing (for
        the winner of an A/B test: in none of the test's mailings)."""
        model = self.env[self.mailing_model_real]
        query = model._search(self._get_recipients_domain())
        self.env["mailing.trace"].flush_model(["mass_mailing_id", "model", "res_id"])
        mailing_ids = self._sms_traced_mailing_ids()
        self._sms_refresh_trace_statistics(mailing_ids)
        return SQL(
            """SELECT recipient.id FROM %(table)s AS recipient
                WHERE recipient.id IN %(recipients)s
                  AND NOT EXISTS (SELECT 1 FROM mailing_trace AS trace
                                   WHERE trace.mass_mailing_id = ANY(%(mailings)s)
                                     AND trace.trace_type = 'sms'
                                     AND trace.model = %(model)s
                                     AND trace.res_id = recipient.id)""",
            table=SQL.identifier(model._table),
            recipients=query.subselect(),
            mailings=mailing_ids,
            model=model._name,
        )

    def _sms_get_remaining_ids(self, limit=None):
        """Ids of the recipients not traced yet: all of them, lowest first, or the next
        ``limit``, so that a large campaign never holds every id at once (issue 28).

        With a ``limit``, the recipients after the highest one traced come first, read from
        the primary key on: each chunk of a large campaign costs its own size, not the
        list's. Only when those run out are the lower ones checked (added to the list since
        the build began, or left by a build that failed).
        """
        query = self._sms_remaining_recipients_query()
        if not limit:
            self.env.cr.execute(SQL("%s ORDER BY recipient.id", query))
            return [row[0] for row in self.env.cr.fetchall()]
        last_id = self._sms_get_last_traced_id()
        ids = self._sms_fetch_remaining(query, SQL("recipient.id > %s", last_id), limit)
        if last_id and len(ids) < limit:
            lower = SQL("recipient.id <= %s", last_id)
            ids += self._sms_fetch_remaining(query, lower, limit - len(ids))
        return ids

    def _sms_fetch_remaining(self, query, condition, limit):
        """The first ``limit`` ids of the remaining recipients ``query`` that meet
        ``condition``."""
        self.env.cr.execute(
            SQL("%s AND %s ORDER BY recipient.id LIMIT %s", query, condition, limit)
        )
        return [row[0] for row in self.env.cr.fetchall()]

    def _sms_get_last_traced_id(self):
        """The highest recipient id traced in this mailing, 0 when none is."""
        # one maximum per mailing: each is the last entry of the unique index of SMS traces,
        # where "mass_mailing_id = ANY(...)" made PostgreSQL read all of them (issue 28)
        self.env.cr.execute(
            SQL(
                """SELECT MAX((SELECT MAX(res_id) FROM mailing_trace
                                WHERE mass_mailing_id = mailing.id AND trace_type = 'sms'
                                  AND model = %s))
                     FROM unnest(%s::int[]) AS mailing(id)""",
                self.mailing_model_real,
                self._sms_traced_mailing_ids(),
            )
        )
        return self.env.cr.fetchone()[0] or 0

    def _sms_get_traced_ids(self, res_ids):
        """Recipients of this batch that already have a trace in this mailing."""
        self.env["mailing.trace"].flush_model(["mass_mailing_id", "model", "res_id"])
        self.env.cr.execute(
            SQL(
                """SELECT res_id FROM mailing_trace
                    WHERE mass_mailing_id = %s AND trace_type = 'sms' AND model = %s
                      AND res_id = ANY(%s)""",
                self.id,
                self.mailing_model_real,
                list(res_ids),
            )
        )
        return [row[0] for row in self.env.cr.fetchall()]

    def _sms_get_recipients_numbers(self, records):
        """{res_id: {number, sanitized (E.164 or False), partner}} for ``records``.

        The number comes from the record's own phone fields first, then from its contacts;
        numbers without country code are read with the record's country, else its
        contact's, else the company's (RELIABILITY row 3).
        """
        sanitized_fname, number_fields, partner_fields = self._sms_get_number_sources()
        fast = self._sms_read_own_numbers(records, sanitized_fname, number_fields)
        if fast is not None:
            return fast
        countries = records._phone_get_country()
        company_country = self.env.company.country_id
        no_partner = self.env["res.partner"]
        formatted = {}  # (number, country id): E.164 or False, parsed once per batch

        def sanitize(number, country):
            country = country or company_country
            key = (number, country.id)
            if key not in formatted:
                formatted[key] = sanitize_number(number, country.code) or (
                    records._phone_format_number(number, country)
                )
            return formatted[key]

        result = {}
        for record in records:
            partners = no_partner
            for fname in partner_fields:
                partners |= record[fname]
            partner = partners[:1]
            if not partner and record._name == "res.partner":
                partner = record
            own_numbers = [record[fname] for fname in number_fields]
            sanitized = sanitized_fname and record[sanitized_fname]
            country = countries.get(record.id) or partner.country_id
            if sanitized:  # Odoo stored the first valid one
                number = next(filter(None, own_numbers), sanitized)
            else:
                number, sanitized = first_valid_number(
                    own_numbers, lambda number, country=country: sanitize(number, country)
                )
            if not number:
                for candidate in partners:
                    number, sanitized = first_valid_number(
                        [candidate.mobile, candidate.phone],
                        lambda number, country=country or candidate.country_id: sanitize(
                            number, country
                        ),
                    )
                    if number:
                        partner = candidate
                        break
            result[record.id] = {"number": number, "sanitized": sanitized, "partner": partner}
        return result

    def _sms_read_own_numbers(self, records, sanitized_fname, number_fields):
        """Fast path of ``_sms_get_recipients_numbers`` for models whose numbers and country
        are plain columns and that have no contact to fall back on (mailing list contacts,
        most imported models): one query for the batch. None when it does not apply.
        """
        model = self.env[records._name]
        country_fname = model._phone_get_country_field()
        fnames = [*number_fields, sanitized_fname, country_fname]
        fnames = [fname for fname in fnames if fname]
        if model._mail_get_partner_fields() or not all(
            model._fields[fname].store and model._fields[fname].column_type for fname in fnames
        ):
            return None
        model.flush_model(fnames)
        self.env.cr.execute(
            SQL(
                "SELECT id, %s FROM %s WHERE id = ANY(%s)",
                SQL(", ").join(SQL.identifier(fname) for fname in fnames),
                SQL.identifier(model._table),
                records.ids,
            )
        )
        rows = self.env.cr.fetchall()
        country_ids = {row[-1] for row in rows if country_fname and row[-1]}
        codes = {
            country.id: country.code for country in self.env["res.country"].browse(country_ids)
        }
        company_code = self.env.company.country_id.code
        no_partner = self.env["res.partner"]
        is_partner = records._name == "res.partner"  # the recipient is the contact itself
        formatted = {}  # (number, country code): E.164 or False, parsed once per batch
        countries = {}  # country code: res.country, searched once per batch

        def sanitize(number, code):
            if (number, code) not in formatted:
                formatted[number, code] = sanitize_number(number, code)
                if not formatted[number, code]:  # Odoo's own reading, with the country
                    if code not in countries:
                        countries[code] = self.env["res.country"].search(
                            [("code", "=", code)], limit=1
                        )
                    formatted[number, code] = model._phone_format_number(number, countries[code])
            return formatted[number, code]

        result = {}
        for row in rows:
            values = dict(zip(fnames, row[1:], strict=True))
            own_numbers = [values[fname] for fname in number_fields]
            sanitized = sanitized_fname and values[sanitized_fname]
            if sanitized:  # Odoo stored the first valid one
                number = next(filter(None, own_numbers), sanitized)
            else:
                code = (country_fname and codes.get(values[country_fname])) or company_code
                number, sanitized = first_valid_number(
                    own_numbers, lambda number, code=code: sanitize(number, code)
                )
            partner = records.browse(row[0]) if is_partner else no_partner
            result[row[0]] = {"number": number, "sanitized": sanitized, "partner": partner}
        return result

    def _sms_get_blacklisted_numbers(self, numbers):
        """The ``numbers`` (E.164) on the active phone blacklist, in one query."""
        if not numbers:
            return set()
        self.env["phone.blacklist"].flush_model(["number", "active"])
        self.env.cr.execute(
            SQL(
                "SELECT number FROM phone_blacklist WHERE active AND number = ANY(%s)",
                list(numbers),
            )
        )
        return {row[0] for row in self.env.cr.fetchall()}

    def _sms_get_seen_numbers(self, numbers):
        """{number: (model, res_id)} of ``numbers`` this mailing (or its A/B test siblings)
        already sent to."""
        if not numbers:
            return {}
        mailing_ids = {self.id}
        if self.ab_testing_enabled and self.campaign_id:
            mailing_ids.update(self._get_ab_testing_siblings_mailings().ids)
        self.env["mailing.trace"].flush_model()
        self.env.cr.execute(
            SQL(
                """SELECT DISTINCT ON (sms_number) sms_number, model, res_id FROM mailing_trace
                    WHERE mass_mailing_id = ANY(%s) AND trace_type = 'sms'
                      AND sms_number = ANY(%s) AND trace_status NOT IN ('cancel', 'bounce')
                 ORDER BY sms_number, id""",
                list(mailing_ids),
                list(numbers),
            )
        )
        return {number: (model, res_id) for number, model, res_id in self.env.cr.fetchall()}

    def _sms_get_opt_out_ids(self, res_ids=None):
        """Recipient ids opted out, from the target model's hook (COMPAT); with ``res_ids``,
        those of ``res_ids`` (mailing lists then read only their subscriptions)."""
        self.ensure_one()
        model = self.env[self.mailing_model_name]
        if not hasattr(model, "_mailing_get_opt_out_list_sms"):
            return set()
        if res_ids is None:
            return set(model._mailing_get_opt_out_list_sms(self))
        model = model.with_context(mailing_sms_opt_out_res_ids=list(res_ids))
        return set(model._mailing_get_opt_out_list_sms(self)) & set(res_ids)

    def _sms_reads_opt_outs_by_batch(self):
        """Whether the build asks for the opt-outs of each batch: for mailing lists, whose
        hook then reads the batch's subscriptions by index, where the whole list's took a
        second per chunk of a million-contact list (issue 28). Other models' hooks answer
        for all recipients at once, asked once per build."""
        return self.mailing_model_name == "mailing.list"

    def _sms_get_duplicate_reasons(self, duplicate_of):
        """{res_id: text naming the recipient who got the SMS instead} (RELIABILITY row 20)."""
        kept_ids = {}
        for model, res_id in duplicate_of.values():
            kept_ids.setdefault(model, set()).add(res_id)
        names = {}
        for model, res_ids in kept_ids.items():
            for kept in self.env[model].sudo().browse(list(res_ids)).exists():
                names[model, kept.id] = kept.display_name
        return {
            res_id: self.env._(
                "Same number as %(recipient)s, who receives the SMS.",
                recipient=names.get(kept, "#%s" % kept[1]),
            )
            for res_id, kept in duplicate_of.items()
        }

    def _sms_prepare_trace_values(self, res_id, recipient, status, failure_type=False):
        return {
            "trace_type": "sms",
            "mass_mailing_id": self.id,
            "model": self.mailing_model_real,
            "res_id": res_id,
            "sms_number": recipient["sanitized"] or recipient["number"] or False,
            "sms_country_guessed": bool(
                recipient["sanitized"]
                and recipient["number"]
                and not INTERNATIONAL_PREFIX.match(recipient["number"])
            ),
            "sms_code": self.env["mailing.trace"]._sms_generate_code(),
            "trace_status": status,
            "failure_type": failure_type,
        }
