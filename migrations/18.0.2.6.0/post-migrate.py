# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
"""Issue 29: senders serve several countries: each sender's one country (``country_id``,
Odoo 19's field) becomes the first of its countries; the companies reply STOP in the
countries of the default."""

from odoo import SUPERUSER_ID, api


def migrate(cr, version):
    if not version:
        return
    api.Environment(cr, SUPERUSER_ID, {})["res.company"]._sms_init_stop_countries()
    cr.execute(
        """INSERT INTO sms_twilio_number_res_country_rel (sender_id, country_id)
           SELECT id, country_id FROM sms_twilio_number WHERE country_id IS NOT NULL
           ON CONFLICT DO NOTHING"""
    )
