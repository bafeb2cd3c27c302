# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
"""Which sender an SMS leaves from (issue 29): the company's sender for the recipient's
country, else its default sender. Built from records once, then used without ``env``
(the Twilio requests run in threads)."""

import re

from .sms_countries import NumberCountries, calling_codes_of

# a sender: a number in E.164, or an alphanumeric sender ID of 1 to 11 letters, digits and
# spaces, not digits only (what carriers accept as a name)
E164_PATTERN = re.compile(r"^\+[1-9]\d{6,14}$")
ALPHANUMERIC_PATTERN = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")


def is_valid_sender(name):
    """Whether ``name`` is a number in E.164 or an alphanumeric sender ID."""
    return bool(name and (E164_PATTERN.match(name) or ALPHANUMERIC_PATTERN.match(name)))


class SenderChoice:
    """The sender of each recipient number.

    :param senders: ``[(name, country codes, is default)]`` in the company's order; the
      first sender naming a country serves it, the default (else the first) the others.
    """

    def __init__(self, senders, countries=None):
        self.countries = countries or NumberCountries()
        self.by_country = {}
        for name, codes, _is_default in senders:
            for code in codes:
                self.by_country.setdefault(code, name)
        self.calling_codes = calling_codes_of(self.by_country)
        defaults = [name for name, _codes, is_default in senders if is_default]
        self.default = (defaults or [name for name, _codes, _default in senders] or [""])[0]

    def __bool__(self):
        return bool(self.default)

    def sender_for(self, number):
        """The sender of an SMS to ``number`` (E.164); "" when the company has none."""
        if not self.by_country:
            return self.default
        country = self.countries.code(number, self.calling_codes)
        return self.by_country.get(country, self.default)
