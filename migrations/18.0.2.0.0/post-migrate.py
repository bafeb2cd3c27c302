# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
"""From Odoo's own mass_mailing_sms (18.0.1.1) to ours, once our data is loaded.

The SMS medium keeps its record (every SMS mailing points to it) and takes the name of
SPEC F2. It is a no-update record, so only this step can rename it; a name the users
chose themselves is kept.
"""

import logging

from odoo import SUPERUSER_ID, api

_logger = logging.getLogger(__name__)

ODOO_MEDIUM_NAME = "SMS"
OUR_MEDIUM_NAME = "SMS Text Message"


def migrate(cr, version):
    if not version:
        return
    env = api.Environment(cr, SUPERUSER_ID, {})
    medium = env.ref("mass_mailing_sms.utm_medium_sms", raise_if_not_found=False)
    if not medium or medium.name != ODOO_MEDIUM_NAME:
        return
    if (
        env["utm.medium"]
        .with_context(active_test=False)
        .search_count([("name", "=", OUR_MEDIUM_NAME)], limit=1)
    ):
        _logger.info("medium %r kept: another medium is named %r", medium.name, OUR_MEDIUM_NAME)
        return
    medium.name = OUR_MEDIUM_NAME
