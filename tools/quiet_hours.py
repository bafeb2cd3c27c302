# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
"""Quiet hours in the recipient's local time (issue 9).

A window such as 21:00-09:00 is read in the time zone of the number's country: its main
time zone, the first one the tz database lists for it (``America/New_York`` for +1,
``Europe/Brussels`` for +32). Times are hours as floats, as Odoo's ``float_time`` widget
writes them (21.5 = 21:30).
"""

from datetime import datetime, time, timedelta
from functools import lru_cache

import phonenumbers
import pytz

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


def number_timezone(number):
    """Main time zone (name) of the country of an E.164 ``number``, None if unknown."""
    if not number:
        return None
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return None
    return _timezone_of_region(phonenumbers.region_code_for_number(parsed))


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
