# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
"""The list both bin/bench and bin/fault_test send to: N contacts with realistic bad data.

About 10% of the contacts carry one bad input each: a malformed number, the previous
contact's number written another way (``0032 ...``), a blacklisted number, an opt-out from
the list, no number at all. The fake gateway refuses numbers ending in 0000 or 0001.

Contacts are inserted in bulk, with what the ORM stores when a contact is created or
imported: ``phone_sanitized`` holds the E.164 form of the mobile read with the company's
country (Belgium), or nothing when the number is malformed or missing.
"""

import phonenumbers


def sanitized(number, country_code="BE"):
    """E.164 form of ``number`` as ``mail.thread.phone`` stores it, or None."""
    if not number:
        return None
    try:
        parsed = phonenumbers.parse(number, country_code)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def number_of(index):
    """Belgian mobiles +32 47x xx xx xx, unique per index."""
    return "+3247%07d" % index


def kind_of(index):
    """Which bad input contact ``index`` carries, or "valid"."""
    return {1: "malformed", 3: "blacklisted", 4: "optout", 5: "missing", 7: "duplicate"}.get(
        index % 50, "valid"
    )


def expected_numbers(size):
    """Numbers the provider must accept exactly once (it refuses those ending 0000/0001)."""
    return {
        number_of(index)
        for index in range(1, size + 1)
        if kind_of(index) == "valid" and not number_of(index).endswith(("0000", "0001"))
    }


def prepare_list(env, name, size, account_token):
    """Belgium as the company's country, an SMS account with ``account_token``, and a new
    mailing list ``name`` holding the ``size`` contacts; returns the list."""
    env.company.country_id = env.ref("base.be")
    service = env["iap.service"].search([("technical_name", "=", "sms")], limit=1)
    env["iap.account"].search([("service_name", "=", "sms")]).unlink()
    env["iap.account"].create({"service_id": service.id, "account_token": account_token})
    mailing_list = env["mailing.list"].create({"name": name})
    env.flush_all()
    insert_list_contacts(env.cr, mailing_list.id, size)
    env.invalidate_all()
    return mailing_list


def insert_list_contacts(cr, mailing_list_id, size):
    """Insert the ``size`` contacts, their subscriptions and the blacklist in three queries."""
    names, emails, mobiles, opt_outs, blacklist = [], [], [], [], []
    for index in range(1, size + 1):
        kind = kind_of(index)
        mobile = number_of(index)
        if kind == "malformed":
            mobile = "12-34"
        elif kind == "duplicate":  # the previous (valid) contact's number, written another way
            mobile = "0032 " + number_of(index - 1)[3:]
        elif kind == "missing":
            mobile = None
        elif kind == "blacklisted":
            blacklist.append(mobile)
        names.append(f"Contact {index}")
        emails.append(f"contact{index}@example.com")
        mobiles.append(mobile)
        opt_outs.append(kind == "optout")
    cr.execute(
        """INSERT INTO mailing_contact (name, email, email_normalized, mobile, phone_sanitized,
                                        create_date, write_date, create_uid, write_uid)
           SELECT r.name, r.email, r.email, r.mobile, r.sanitized, now(), now(), 1, 1
             FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[])
                  AS r(name, email, mobile, sanitized)
        RETURNING id""",
        (names, emails, mobiles, [sanitized(mobile) for mobile in mobiles]),
    )
    contact_ids = sorted(row[0] for row in cr.fetchall())
    cr.execute(
        """INSERT INTO mailing_subscription (contact_id, list_id, opt_out, create_date,
                                             write_date, create_uid, write_uid)
           SELECT c, %s, o, now(), now(), 1, 1 FROM unnest(%s::int[], %s::bool[]) AS s(c, o)""",
        (mailing_list_id, contact_ids, opt_outs),
    )
    cr.execute(
        """INSERT INTO phone_blacklist (number, active, create_date, write_date,
                                        create_uid, write_uid)
           SELECT n, TRUE, now(), now(), 1, 1 FROM unnest(%s::text[]) AS b(n)""",
        (blacklist,),
    )
