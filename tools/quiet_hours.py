# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
"""Quiet hours in the recipient's local time (issues 9 and 16).

A window such as 21:00-09:00 is read where the recipient is: the time zone of its contact
when set, else the zones ``phonenumbers`` gives for the number (``America/Los_Angeles`` for
+1 415, ``America/New_York`` for +1 212), else the main zone of the number's country (the
first the tz database lists). A number that spans several zones (an Australian mobile) is
held until the window has ended in all of them. Times are hours as floats, as Odoo's
``float_time`` widget writes them (21.5 = 21:30).
"""

from datetime import datetime, time, timedelta
from functools import lru_cache

import phonenumbers
import pytz
from phonenumbers import timezone as number_zones

from odoo.exceptions import ValidationError


def float_to_time(hours):
    """09:30 from 9.5; 24.0 and beyond wrap to midnight."""
    minutes = round((hours or 0.0) * 60) % (24 * 60)
    return time(minutes // 60, minutes % 60)


def check_times_of_day(env, *hours):
    """ValidationError unless each of ``hours`` is a time of day (00:00 to 23:59): the
    bounds of a quiet window, the company's or a mailing's own."""
    if not all(0 <= (value or 0.0) < 24 for value in hours):
        raise ValidationError(env._("Quiet hours are times of day, from 00:00 to 23:59."))


def format_window(start, end):
    """ "21:00-09:00" for the window (start, end)."""
    return "%s-%s" % (float_to_time(start).strftime("%H:%M"), float_to_time(end).strftime("%H:%M"))


@lru_cache(maxsize=4096)
def _timezone_of_region(region):
    zones = pytz.country_timezones.get(region or "", [])
    return zones[0] if zones else None


def _parse(number):
    try:
        return phonenumbers.parse(number, None) if number else None
    except phonenumbers.NumberParseException:
        return None


def _country_timezone(parsed):
    """Main time zone of the country of a parsed number (its calling code when phonenumbers
    cannot place the number itself)."""
    region = phonenumbers.region_code_for_number(
        parsed
    ) or phonenumbers.region_code_for_country_code(parsed.country_code)
    return _timezone_of_region(region)


def number_timezone(number):
    """Main time zone (name) of the country of an E.164 ``number``, None if unknown (the
    last resort of ``recipient_timezones``)."""
    parsed = _parse(number)
    return parsed and _country_timezone(parsed)


def recipient_timezones(number, partner_tz=None):
    """The time zones (names) the recipient of ``number`` may be in, best known first:
    its contact's own, else those of the number's area, else its country's main one;
    () when nothing is known."""
    if partner_tz and partner_tz in pytz.all_timezones_set:
        return (partner_tz,)
    parsed = _parse(number)
    if not parsed:
        return ()
    zones = tuple(
        zone
        for zone in number_zones.time_zones_for_number(parsed)
        if zone in pytz.all_timezones_set
    )
    if zones:
        return zones
    main = _country_timezone(parsed)
    return (main,) if main else ()


def quiet_until_all(now_utc, tz_names, start, end):
    """When the window has ended in every zone of ``tz_names`` (naive UTC), if ``now_utc``
    falls in it in one of them; None when it falls in none."""
    until = now_utc
    for _round in range(len(tz_names) + 1):  # each round moves past one zone's window
        ends = [quiet_until(until, tz_name, start, end) for tz_name in tz_names]
        ends = [end_utc for end_utc in ends if end_utc]
        if not ends:
            break
        until = max(ends)
    return until if until != now_utc else None


def quiet_until(now_utc, tz_name, start, end):
    """When the quiet window ends (naive UTC) if ``now_utc`` (naive UTC) falls in it in
    ``tz_name``; None when it does not, or when the window is empty (start == end)."""
    start_time, end_time = float_to_time(start), float_to_time(end)
    if start_time == end_time or not tz_name:
        return None
    zone = pytz.timezone(tz_name)
    local_now = pytz.utc.localize(now_utc).astimezone(zone)
    now_time = local_now.time().replace(tzinfo=None)
    if start_time < end_time:
        quiet = start_time <= now_time < end_time
    else:  # the window crosses midnight
        quiet = now_time >= start_time or now_time < end_time
    if not quiet:
        return None
    end_date = local_now.date()
    if now_time >= end_time:  # the window ends tomorrow
        end_date += timedelta(days=1)
    # a window edge in a DST gap or overlap is read as standard time, never refused
    local_end = zone.localize(datetime.combine(end_date, end_time))
    return local_end.astimezone(pytz.utc).replace(tzinfo=None)
