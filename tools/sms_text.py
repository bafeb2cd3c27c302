# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
"""The text of an SMS: its parts (GSM-7 or Unicode, SPEC C4), its links and placeholders."""

import re

# GSM 03.38: one septet a character for the basic set, two for the extension set
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")
TEXT_URL = re.compile(r"https?://\S+")
PLACEHOLDER_PATTERN = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)


def sms_is_gsm7(text):
    """True when every character of ``text`` is in the GSM-7 alphabet."""
    return all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text)


def sms_parts_count(text):
    """Number of SMS parts ``text`` takes: GSM-7 (160 alone, 153 a part beyond) as long as
    every character is in GSM-7, else Unicode (70 alone, 67 a part beyond); none for an
    empty text (the counter of the form says the same)."""
    if not text:
        return 0
    if sms_is_gsm7(text):
        length = sum(2 if char in GSM7_EXTENSION else 1 for char in text)
        single, multi = 160, 153
    else:
        length = len(text.encode("utf-16-le")) // 2
        single, multi = 70, 67
    return 1 if length <= single else -(-length // multi)


def opt_out_line(url):
    """The line an SMS of a mailing ends with: its recipient's opt-out link (SPEC O2), never
    shortened (COMPAT)."""
    return f"STOP SMS: {url}"


def tag_short_links(pattern, body, sms_id):
    """``body`` with each short link matched by ``pattern`` followed by ``/s/<sms_id>``."""
    return pattern.sub(lambda link: f"{link[1]}/s/{sms_id}", body)
