# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
"""Keywords of inbound SMS (issue 27): a whole message compared without case, accents or
punctuation, so that "stop", "Stop." and "Arrêt !" match and "don't stop" does not."""

import re
import unicodedata

_NOT_WORD = re.compile(r"[^A-Z0-9]+")


def normalize_keyword(text):
    """``text`` as keywords are compared: accents dropped, upper case, every run of
    punctuation or spaces made one space, none at the ends."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return _NOT_WORD.sub(" ", plain.upper()).strip()
