/** @odoo-module **/
// Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.

import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";

function openSmsApp() {
    return [
        stepUtils.showAppsMenuItem(),
        {
            content: "Open the SMS Marketing app",
            trigger: '.o_app[data-menu-xmlid="mass_mailing_sms.mass_mailing_sms_menu_root"]',
            run: "click",
        },
    ];
}

// issue 26: the administrator sends the company's SMS through Twilio
registry.category("web_tour.tours").add("mass_mailing_sms_twilio_settings", {
    url: "/odoo",
    steps: () => [
        ...openSmsApp(),
        {
            trigger: '.o_main_navbar [data-menu-xmlid="mass_mailing_sms.mass_mailing_sms_menu_configuration"]',
            run: "click",
        },
        {
            content: "Open the settings",
            trigger: '.o-dropdown--menu [data-menu-xmlid="mass_mailing_sms.mass_mailing_sms_menu_settings"]',
            run: "click",
        },
        {
            content: "The Twilio fields hide while Odoo IAP sends",
            trigger: "#sms_provider_setting:not(:has(.o_mass_sms_twilio:visible))",
        },
        {
            content: "Choose Twilio",
            trigger: "#sms_provider_setting select",
            run: 'select "twilio"',
        },
        {
            content: "Fill in the Account SID",
            trigger: "#sms_provider_setting div[name='sms_twilio_account_sid'] input",
            run: "edit AC11111111111111111111111111111111",
        },
        {
            content: "Fill in the Auth Token, a password field",
            trigger: "#sms_provider_setting div[name='sms_twilio_auth_token'] input[type='password']",
            run: "edit 5ec2e7-auth-token-of-the-tests",
        },
        {
            content: "Save the settings",
            trigger: ".o_control_panel .o_form_button_save",
            run: "click",
            expectUnloadPage: true,
        },
        {
            content: "Saved: the page reloads with the account",
            trigger: "#sms_provider_setting div[name='sms_twilio_account_sid'] input:value(AC11111111111111111111111111111111)",
        },
        {
            content: "Open the sender numbers",
            trigger: "#sms_provider_setting button[name='action_sms_twilio_numbers']",
            run: "click",
        },
        {
            content: "Add a number",
            trigger: ".o_control_panel .o_list_button_add",
            run: "click",
        },
        {
            trigger: ".o_list_view .o_selected_row div[name='name'] input",
            run: "edit +1 415 555 0100",
        },
        {
            content: "The sender serves the United States",
            trigger: ".o_list_view .o_selected_row div[name='country_ids'] input",
            run: "edit United States",
        },
        {
            trigger: ".o-autocomplete--dropdown-item a:contains('United States')",
            run: "click",
        },
        {
            trigger: ".o_list_view .o_selected_row div[name='country_ids'] .o_tag:contains('United States')",
        },
        {
            content: "Save the number",
            trigger: ".o_control_panel .o_list_button_save",
            run: "click",
        },
        {
            content: "The number is written the international way",
            trigger: ".o_list_view .o_data_row:has(td[name='country_ids']:contains('United States')) td[name='name']:contains('+14155550100')",
        },
        {
            content: "Back to the settings",
            trigger: ".o_breadcrumb .o_back_button a, .o_breadcrumb li:first-child a",
            run: "click",
        },
        {
            content: "Test the connection",
            trigger: "#sms_provider_setting button[name='action_sms_test_connection']",
            run: "click",
        },
        {
            content: "Twilio answers in plain words",
            trigger: ".o_notification:contains('Twilio answers: the account Test is active.')",
        },
    ],
});

// issue 27: a marketer reads what a recipient texted back to a mailing
registry.category("web_tour.tours").add("mass_mailing_sms_replies", {
    url: "/odoo",
    steps: () => [
        ...openSmsApp(),
        {
            content: "Open the mailing",
            trigger: ".o_kanban_record:contains('Tour Replies Sale')",
            run: "click",
        },
        {
            content: "The Replies button counts the one reply",
            trigger: ".o_mass_sms_replies_button:contains('1'):contains('Replies')",
            run: "click",
        },
        {
            content: "Open the reply",
            trigger: ".o_mass_sms_reply_list .o_data_row td:contains('Is the sale on Sunday too?')",
            run: "click",
        },
        {
            content: "Read it, with who sent it",
            trigger: ".o_mass_sms_reply_form:has(.o_field_widget[name='recipient_name']:contains('Tour Replier')) .o_mass_sms_reply_body:contains('Is the sale on Sunday too?')",
        },
    ],
});
