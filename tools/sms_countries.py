# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
"""The country of a number, for what is chosen per recipient country (issue 29): the sender
an SMS leaves from and the opt-out wording of its footer."""

from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, country_code_for_region

from odoo.addons.phone_validation.tools.phone_validation import (
    phone_get_region_data_for_number,
)

NANP_CALLING_CODE = 1  # +1: each area code (the next 3 digits) belongs to one country
NON_GEOGRAPHIC_REGION = "001"  # phonenumbers' region of the codes of no country (+800)


class NumberCountries:
    """ISO codes ("US", "BE") of numbers in E.164, read once per calling code where it names
    a single country (+32: Belgium), per area code for +1 (US, Canada, the Caribbean), per
    number for the other shared codes (+44: the United Kingdom, Jersey, Guernsey, Man)."""

    def __init__(self):
        self._cache = {}

    def code(self, number, calling_codes=None):
        """The ISO code of ``number`` (E.164), "" when it names no country; with
        ``calling_codes`` (``calling_codes_of`` the countries the caller looks for), "" as
        well for a number of another calling code, whose country is then not read (a +44
        number, read per number, when only the US and Canada matter)."""
        if not number or not number.startswith("+") or not number[1:4].isdigit():
            return ""
        calling_code = calling_code_of(number)
        if calling_codes is not None and calling_code not in calling_codes:
            return ""
        regions = COUNTRY_CODE_TO_REGION_CODE.get(calling_code, ())
        if len(regions) <= 1:
            return "" if not regions or regions[0] == NON_GEOGRAPHIC_REGION else regions[0]
        key = number[:5] if calling_code == NANP_CALLING_CODE else number
        if key not in self._cache:
            self._cache[key] = phone_get_region_data_for_number(number)["code"] or ""
        return self._cache[key]


def calling_codes_of(iso_codes):
    """The calling codes of countries given by ISO code ({"US", "CA", "BE"}: {1, 32})."""
    return frozenset(filter(None, (country_code_for_region(code) for code in iso_codes)))


def calling_code_of(number):
    """The country calling code that starts ``number`` (E.164; codes are 1 to 3 digits and
    none is the start of another), None when no code does."""
    for length in (2, 3, 4):
        calling_code = int(number[1:length])
        if calling_code in COUNTRY_CODE_TO_REGION_CODE:
            return calling_code
    return None
