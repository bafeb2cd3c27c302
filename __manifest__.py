# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
{
    "name": "SMS Marketing",
    "summary": "Design, send and track SMS campaigns with mailing lists, "
    "link tracking, A/B tests and opt-out links",
    "version": "18.0.2.6.0",
    "category": "Marketing/Email Marketing",
    "author": "mass_mailing_sms contributors",
    "website": "https://github.com/mass-mailing-sms/mass_mailing_sms",
    "license": "LGPL-3",
    "depends": ["portal", "mass_mailing", "sms"],
    "external_dependencies": {"python": ["phonenumbers"]},
    "data": [
        "security/ir.model.access.csv",
        "data/utm_medium_data.xml",
        "data/res_company_data.xml",
        "data/mailing_sms_keyword_data.xml",
        "wizard/mailing_mailing_schedule_date_views.xml",
        "wizard/mailing_sms_send_confirm_views.xml",
        "wizard/mailing_sms_test_views.xml",
        "views/mailing_mailing_views.xml",
        "views/mailing_trace_views.xml",
        "views/mailing_list_views.xml",
        "views/mailing_contact_views.xml",
        "views/utm_campaign_views.xml",
        "views/sms_twilio_number_views.xml",
        "views/mailing_sms_reply_views.xml",
        "views/mailing_sms_keyword_views.xml",
        "views/res_config_settings_views.xml",
        "report/mailing_trace_report_views.xml",
        "views/mass_mailing_sms_templates_portal.xml",
        "views/mass_mailing_sms_menus.xml",
    ],
    "demo": [
        "demo/mailing_list_demo.xml",
        "demo/mailing_mailing_demo.xml",
    ],
    "assets": {
        "web.assets_backend": [
            "mass_mailing_sms/static/src/**/*",
        ],
        "web.assets_tests": [
            "mass_mailing_sms/static/tests/tours/**/*",
        ],
    },
    "application": True,
}
