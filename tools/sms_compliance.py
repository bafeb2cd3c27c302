# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
"""The compliance wording of a marketing SMS (issue 29): the company's brand prefix before
the text, and the opt-out footer its recipient's country calls for: "Reply STOP to opt out"
where inbound keywords work (the US and Canada by default), the opt-out link elsewhere."""

from .sms_countries import NumberCountries, calling_codes_of
from .sms_text import opt_out_line


class Compliance:
    """The prefix and footers of one mailing's SMS, chosen per recipient number.

    :param prefix: put before every text ("Acme: "), "" for none;
    :param stop_codes: ISO codes of the countries whose recipients reply STOP;
    :param stop_line: the footer of those recipients ("Reply STOP to opt out");
    :param opt_out: whether the SMS end with an opt-out footer at all (the mailing's
      "Include opt-out link").
    """

    def __init__(self, prefix, stop_codes, stop_line, opt_out, countries=None):
        self.prefix = prefix or ""
        self.stop_codes = frozenset(stop_codes or ())
        self.stop_calling_codes = calling_codes_of(self.stop_codes)
        self.stop_line = stop_line
        self.opt_out = opt_out
        self.countries = countries or NumberCountries()

    def replies_stop(self, number):
        """Whether the recipient of ``number`` opts out by replying STOP."""
        if not self.stop_codes:
            return False
        return self.countries.code(number, self.stop_calling_codes) in self.stop_codes

    def footer(self, number, opt_out_url):
        """The opt-out line of an SMS to ``number`` ("" without opt-out footer)."""
        if not self.opt_out:
            return ""
        return self.stop_line if self.replies_stop(number) else opt_out_line(opt_out_url)

    def prefixed(self, body):
        """``body`` after the brand prefix (once: a text that starts with it keeps it)."""
        return body if body.startswith(self.prefix) else self.prefix + body

    def apply(self, body, number, opt_out_url):
        """``body`` as the recipient of ``number`` gets it: prefix, text, footer."""
        body = self.prefixed(body)
        footer = self.footer(number, opt_out_url)
        return f"{body.rstrip()}\n{footer}" if footer else body

    def footers(self, opt_out_url):
        """Every footer a recipient may get, the link's first (for counters)."""
        if not self.opt_out:
            return []
        return [opt_out_line(opt_out_url)] + ([self.stop_line] if self.stop_codes else [])
