# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
"""Webhooks signed as the Standard Webhooks specification (v1.0) defines
(https://www.standardwebhooks.com, ``spec/standard-webhooks.md``): the headers
``webhook-id``, ``webhook-timestamp`` (Unix seconds) and ``webhook-signature`` (space-separated
``v1,<base64>`` entries); the key is the secret with its ``whsec_`` prefix removed, Base64-
decoded; the signed content is ``<id>.<timestamp>.<raw body>``, HMAC-SHA256. A timestamp more
than 5 minutes away from now is refused; signatures are compared in constant time."""

import base64
import binascii
import hashlib
import hmac

TOLERANCE_SECONDS = 5 * 60
SECRET_PREFIX = "whsec_"


def _key(secret):
    secret = (secret or "").strip()
    if secret.startswith(SECRET_PREFIX):
        secret = secret[len(SECRET_PREFIX) :]
    try:
        return base64.b64decode(secret, validate=True)
    except (binascii.Error, ValueError):
        return b""


def is_valid_secret(secret):
    """Whether ``secret`` is a usable key (``whsec_`` and Base64, as providers give it)."""
    return len(_key(secret)) >= 16


def sign(secret, webhook_id, timestamp, body):
    """The ``webhook-signature`` value of a message (one ``v1`` entry)."""
    content = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(secret, headers, body, now):
    """None when the message is signed with ``secret`` and fresh, else why not, in words.

    :param headers: the request's headers (a mapping, any case of names);
    :param body: the raw body (bytes);
    :param now: the current Unix time (seconds).
    """
    webhook_id = headers.get("webhook-id", "")
    timestamp = headers.get("webhook-timestamp", "")
    signatures = headers.get("webhook-signature", "")
    if not (webhook_id and timestamp and signatures):
        return "missing webhook-id, webhook-timestamp or webhook-signature"
    if not timestamp.isdigit() or abs(now - int(timestamp)) > TOLERANCE_SECONDS:
        return "timestamp more than 5 minutes away"
    if not is_valid_secret(secret):
        return "no webhook secret set"
    expected = sign(secret, webhook_id, timestamp, body)
    for entry in signatures.split():
        if entry.startswith("v1,") and hmac.compare_digest(entry, expected):
            return None
    return "wrong signature"
