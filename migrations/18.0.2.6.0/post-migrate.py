# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
"""Senders serve several countries (issue 29): each sender's one country (``country_id``,
Odoo 19's field) becomes the first of its countries."""


def migrate(cr, version):
    if not version:
        return
    cr.execute(
        """INSERT INTO sms_twilio_number_res_country_rel (sender_id, country_id)
           SELECT id, country_id FROM sms_twilio_number WHERE country_id IS NOT NULL
           ON CONFLICT DO NOTHING"""
    )
