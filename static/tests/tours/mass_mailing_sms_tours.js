/** @odoo-module **/
// Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.

import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";

const tours = registry.category("web_tour.tours");

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

function createSmsMailing() {
    return [
        ...openSmsApp(),
        {
            content: "Create an SMS mailing",
            trigger: ".o_control_panel .o-kanban-button-new",
            run: "click",
        },
    ];
}

function openMenu(parentXmlid, menuXmlid) {
    return [
        {
            content: "Open the parent menu",
            trigger: `.o_main_navbar [data-menu-xmlid="${parentXmlid}"]`,
            run: "click",
        },
        {
            content: "Open the menu",
            trigger: `.o-dropdown--menu [data-menu-xmlid="${menuXmlid}"]`,
            run: "click",
        },
    ];
}

// F1, C4, A3, A4: write, count, test and send an SMS mailing
tours.add("mass_mailing_sms_create_and_send", {
    url: "/odoo",
    steps: () => [
        ...createSmsMailing(),
        {
            content: "The form is the SMS one: SMS Content tab, no email body",
            trigger: ".o_mass_sms_form .o_notebook a[name='sms_body']",
        },
        {
            content: "No subject field but a title",
            trigger: ".o_form_view:not(:has(div[name='subject'])) div[name='sms_subject'] input",
            run: "edit Tour Spring Sale",
        },
        {
            content: "Pick the mailing list",
            trigger: "div[name='contact_list_ids'] input",
            run: "edit Tour SMS List",
        },
        {
            trigger: ".o-autocomplete--dropdown-item a:contains('Tour SMS List')",
            run: "click",
        },
        {
            content: "Write the SMS with a link",
            trigger: "div[name='body_plaintext'] textarea",
            run: "edit Spring sale: 20% off at https://www.example.com/spring-sale-of-the-year",
        },
        {
            content: "The counter counts the link at its shortened length",
            trigger:
                ".o_mass_sms_counter:contains('links counted at their shortened length'):contains('fits in 1 SMS (GSM7)')",
        },
        {
            content: "Leave the text: the estimate is computed again",
            trigger: "div[name='sms_subject'] input",
            run: "click",
        },
        {
            content: "The estimate before sending: 2 recipients x 1 part = 2 parts",
            trigger:
                ".o_mass_sms_estimate:has(.o_mass_sms_estimate_recipients:contains('2')):has(.o_mass_sms_estimate_parts:contains('1')):has(.o_mass_sms_estimate_total:contains('2'))",
        },
        ...stepUtils.saveForm(),
        {
            content: "Open the test dialog",
            trigger: ".o_form_statusbar button[name='action_test']",
            run: "click",
        },
        {
            content: "The test dialog explains itself",
            trigger: ".modal .o_mass_sms_test_description",
        },
        {
            content: "Give a number",
            trigger: ".modal div[name='numbers'] textarea",
            run: "edit Tour Tester, +32 456 00 11 22",
        },
        {
            content: "Send the sample",
            trigger: ".modal button[name='action_send_sms']:contains('Send Sample SMS')",
            run: "click",
        },
        {
            content: "The dialog is closed",
            trigger: "body:not(:has(.modal))",
        },
        {
            content: "Send it to everyone",
            trigger: ".o_form_statusbar button.o_mass_sms_send_now",
            run: "click",
        },
        {
            content: "The confirmation has the SMS wording and the estimate",
            trigger:
                ".modal:contains('This will send the SMS Text Message to all recipients. Do you still want to proceed?') .o_mass_sms_estimate .o_mass_sms_estimate_total:contains('2')",
        },
        {
            content: "Confirm",
            trigger: ".modal .modal-footer button.o_mass_sms_confirm_send:contains('Send to all')",
            run: "click",
        },
        {
            content: "The mailing is queued",
            trigger: ".o_statusbar_status .o_arrow_button_current:contains('In Queue')",
        },
    ],
});

// A1, A2: the SMS Sent smart button lists recipients with their mobile
tours.add("mass_mailing_sms_sent_recipients", {
    url: "/odoo",
    steps: () => [
        ...openSmsApp(),
        {
            content: "Open the sent mailing",
            trigger: ".o_kanban_record:contains('Tour Spring Sale')",
            run: "click",
        },
        {
            content: "SMS wording of the status lines",
            trigger: ".o_form_view span[name='sent_text_sms']:contains('SMS Text Message(s) have been sent.')",
        },
        {
            content: "Open the SMS Sent smart button",
            trigger: "button[name='action_view_traces_sent'].o_mass_sms_sent_button:contains('SMS Sent')",
            run: "click",
        },
        {
            content: "The recipients list shows the Mobile column",
            trigger: ".o_list_view th[data-name='sms_number']:contains('Mobile')",
        },
        {
            content: "with the numbers the SMS went to",
            trigger: ".o_list_view td[name='sms_number']:contains('+32470112233')",
        },
    ],
});

// G4, L2: lists and contacts from the SMS app show phone data, not email data
tours.add("mass_mailing_sms_lists_contacts", {
    url: "/odoo",
    steps: () => [
        ...openSmsApp(),
        ...openMenu(
            "mass_mailing_sms.mass_mailing_sms_menu_contacts",
            "mass_mailing_sms.mailing_list_menu_sms"
        ),
        {
            content: "Wait for the mailing lists to be shown",
            trigger: ".o_last_breadcrumb_item:contains('Mailing Lists')",
        },
        {
            content: "Switch the lists to the list view",
            trigger: ".o_switch_view.o_list",
            run: "click",
        },
        {
            content: "SMS recipients are counted, bounces and email blacklist are not shown",
            trigger:
                ".o_list_view:not(:has(th[data-name='contact_pct_bounce'])):not(:has(th[data-name='contact_pct_blacklisted'])) th[data-name='contact_count_sms']",
        },
        ...openMenu(
            "mass_mailing_sms.mass_mailing_sms_menu_contacts",
            "mass_mailing_sms.mailing_contact_menu_sms"
        ),
        {
            content: "Contacts show their mobile and no email column",
            trigger:
                ".o_list_view:not(:has(th[data-name='email'])):not(:has(th[data-name='message_bounce'])) th[data-name='mobile']",
        },
        {
            content: "The tour contact is listed with its mobile",
            trigger: ".o_list_view td[name='mobile']:contains('+32 470 11 22 33')",
        },
    ],
});

// B1: blacklist and un-blacklist a phone number
tours.add("mass_mailing_sms_blacklist", {
    url: "/odoo",
    steps: () => [
        ...openSmsApp(),
        ...openMenu(
            "mass_mailing_sms.mass_mailing_sms_menu_configuration",
            "mass_mailing_sms.phone_blacklist_menu"
        ),
        {
            content: "Blacklist a new number",
            trigger: ".o_control_panel .o_list_button_add",
            run: "click",
        },
        {
            trigger: "div[name='number'] input",
            run: "edit +32 470 55 66 77",
        },
        ...stepUtils.saveForm(),
        {
            content: "Un-blacklist it",
            trigger: ".o_form_statusbar button[name='phone_action_blacklist_remove']",
            run: "click",
        },
        {
            trigger: ".modal div[name='reason'] input",
            run: "edit Asked to hear from us again",
        },
        {
            trigger: ".modal button[name='action_unblacklist_apply']",
            run: "click",
        },
        {
            content: "The number is no longer blacklisted",
            trigger: "body:not(:has(.modal)) .o_form_statusbar button[name='action_add']",
        },
    ],
});

// E1: a test refused for lack of credits opens the "Insufficient credits" dialog
tours.add("mass_mailing_sms_insufficient_credits_test", {
    url: "/odoo",
    steps: () => [
        ...openSmsApp(),
        {
            trigger: ".o_kanban_record:contains('Tour Credits')",
            run: "click",
        },
        {
            trigger: ".o_form_statusbar button[name='action_test']",
            run: "click",
        },
        {
            trigger: ".modal div[name='numbers'] textarea",
            run: "edit Tour Tester, +32 456 00 11 22",
        },
        {
            trigger: ".modal button[name='action_send_sms']",
            run: "click",
        },
        {
            content: "The dialog offers to buy credits",
            trigger: ".modal .modal-title:contains('Insufficient credits')",
        },
        {
            trigger: ".modal .o_mass_sms_buy_credits",
        },
        {
            trigger: ".modal .modal-footer .btn-secondary:contains('Close')",
            run: "click",
        },
        {
            trigger: "body:not(:has(.modal))",
        },
    ],
});

// E1-E3: a mailing whose SMS failed for lack of credits
tours.add("mass_mailing_sms_insufficient_credits_mailing", {
    url: "/odoo",
    steps: () => [
        ...openSmsApp(),
        {
            content: "The kanban card tells about the missing credits",
            trigger: ".o_kanban_record:contains('Tour Credits') .o_mass_sms_kanban_credit",
            run: "click",
        },
        {
            content: "The dialog opens with the mailing",
            trigger: ".modal .modal-title:contains('Insufficient credits')",
        },
        {
            trigger: ".modal .o_mass_sms_buy_credits",
        },
        {
            trigger: ".modal .modal-footer .btn-secondary:contains('Close')",
            run: "click",
        },
        {
            content: "The banner stays at the top of the form, with the retry",
            trigger:
                "body:not(:has(.modal)) .o_mass_sms_insufficient_credit:has(button[name='action_buy_sms_credits']):has(button[name='action_retry_failed'])",
        },
    ],
});

// issue 9: the cost estimate, placeholders filled for a sample, before sending
tours.add("mass_mailing_sms_estimate", {
    url: "/odoo",
    steps: () => [
        ...createSmsMailing(),
        {
            trigger: "div[name='sms_subject'] input",
            run: "edit Tour Estimate",
        },
        {
            content: "Pick the list of three long-named contacts",
            trigger: "div[name='contact_list_ids'] input",
            run: "edit Tour Estimate List",
        },
        {
            trigger: ".o-autocomplete--dropdown-item a:contains('Tour Estimate List')",
            run: "click",
        },
        {
            content: "A text with a placeholder and a character outside GSM-7",
            trigger: "div[name='body_plaintext'] textarea",
            run: "edit Hi {{ object.name }}, Łukasz says our spring sale starts today",
        },
        {
            content: "Leave the text: the estimate is computed again",
            trigger: "div[name='sms_subject'] input",
            run: "click",
        },
        {
            content: "Filled with a real name it takes 2 Unicode parts: 3 x 2 = 6",
            trigger:
                ".o_mass_sms_estimate:has(.o_mass_sms_estimate_recipients:contains('3')):has(.o_mass_sms_estimate_parts:contains('2')):contains('Unicode'):has(.o_mass_sms_estimate_total:contains('6'))",
        },
        ...stepUtils.saveForm(),
        {
            content: "Send",
            trigger: ".o_form_statusbar button.o_mass_sms_send_now",
            run: "click",
        },
        {
            content: "The confirmation shows the same estimate",
            trigger:
                ".modal .o_mass_sms_estimate:has(.o_mass_sms_estimate_recipients:contains('3')):has(.o_mass_sms_estimate_total:contains('6'))",
        },
        {
            content: "Think again: cancel",
            trigger: ".modal .modal-footer button:contains('Cancel')",
            run: "click",
        },
        {
            content: "Nothing was sent: the mailing is still a draft",
            trigger: "body:not(:has(.modal)) .o_statusbar_status .o_arrow_button_current:contains('Draft')",
        },
    ],
});

// R1, issue 25.2: SMS Reporting offers no Opened/Replied measure, in the graph and the pivot
function measuresWithoutOpenedReplied(viewName) {
    return [
        {
            content: `Open the Measures menu of the ${viewName}`,
            trigger: ".o_action_manager button:contains('Measures')",
            run: "click",
        },
        {
            content: "Sent, Delivered and Clicked are offered",
            trigger:
                ".o-dropdown--menu:has(.o_menu_item:contains('Sent')):has(.o_menu_item:contains('Delivered')):has(.o_menu_item:contains('Clicked'))",
        },
        {
            content: "Opened and Replied are not",
            trigger:
                ".o-dropdown--menu:has(.o_menu_item:contains('Bounced')):not(:has(.o_menu_item:contains('Opened'))):not(:has(.o_menu_item:contains('Replied')))",
        },
        {
            content: "Close the Measures menu",
            trigger: ".o_action_manager button:contains('Measures')",
            run: "click",
        },
    ];
}

tours.add("mass_mailing_sms_reporting_measures", {
    url: "/odoo",
    steps: () => [
        ...openSmsApp(),
        {
            content: "Open SMS Reporting",
            trigger: '.o_main_navbar [data-menu-xmlid="mass_mailing_sms.mass_mailing_sms_menu_reporting"]',
            run: "click",
        },
        {
            content: "It opens on the graph of SMS sent per mailing",
            trigger: ".o_graph_view .o_graph_renderer canvas",
        },
        ...measuresWithoutOpenedReplied("graph"),
        {
            content: "Switch to the pivot",
            trigger: ".o_switch_view.o_pivot",
            run: "click",
        },
        {
            content: "The pivot shows the mailing",
            trigger: ".o_pivot_view .o_pivot th:contains('Tour Reporting')",
        },
        ...measuresWithoutOpenedReplied("pivot"),
    ],
});

// issue 25.4: an empty text is 0 parts for the counter and the estimate alike
function emptyTextCountsNothing(content) {
    return [
        {
            content: `${content}: the counter says 0 characters, 0 SMS`,
            trigger: ".o_mass_sms_counter .o_sms_count:contains('0 characters, fits in 0 SMS')",
        },
        {
            content: `${content}: the estimate says 2 recipients x 0 parts = 0`,
            trigger:
                ".o_mass_sms_estimate:has(.o_mass_sms_estimate_recipients:contains('2')):has(.o_mass_sms_estimate_total:contains('0'))",
        },
    ];
}

tours.add("mass_mailing_sms_empty_text", {
    url: "/odoo",
    steps: () => [
        ...createSmsMailing(),
        {
            trigger: "div[name='sms_subject'] input",
            run: "edit Tour Empty Text",
        },
        {
            trigger: "div[name='contact_list_ids'] input",
            run: "edit Tour SMS List",
        },
        {
            trigger: ".o-autocomplete--dropdown-item a:contains('Tour SMS List')",
            run: "click",
        },
        ...emptyTextCountsNothing("No text yet"),
        {
            content: "Include the opt-out link",
            trigger: "div[name='sms_allow_unsubscribe'] input:not(:checked)",
            run: "click",
        },
        ...emptyTextCountsNothing("No text, opt-out link on"),
        {
            content: "Write a word",
            trigger: "div[name='body_plaintext'] textarea",
            run: "edit Hello",
        },
        {
            content: "Leave the text: the estimate is computed again",
            trigger: "div[name='sms_subject'] input",
            run: "click",
        },
        {
            content: "One part each, the opt-out line counted",
            trigger:
                ".o_mass_sms_counter .o_sms_count:contains('opt-out link included'):contains('fits in 1 SMS')",
        },
        {
            trigger:
                ".o_mass_sms_estimate:has(.o_mass_sms_estimate_parts:contains('1')):has(.o_mass_sms_estimate_total:contains('2'))",
        },
        {
            content: "Erase it again",
            trigger: "div[name='body_plaintext'] textarea",
            run: "clear",
        },
        {
            trigger: "div[name='sms_subject'] input",
            run: "click",
        },
        ...emptyTextCountsNothing("Text erased"),
        {
            content: "Send refuses an empty text",
            trigger: ".o_form_statusbar button.o_mass_sms_send_now",
            run: "click",
        },
        {
            content: "the text is required: nothing is saved or sent",
            trigger: "div[name='body_plaintext'].o_field_invalid",
        },
        {
            content: "Discard the mailing",
            trigger: ".o_form_button_cancel",
            run: "click",
        },
        {
            content: "Nothing left unsaved",
            trigger: "body:not(:has(.o_form_dirty))",
        },
    ],
});

// issue 25.1: the Test dialog of a sent mailing counts the text it will send
tours.add("mass_mailing_sms_test_sent_mailing", {
    url: "/odoo",
    steps: () => [
        ...openSmsApp(),
        {
            content: "Open the sent mailing",
            trigger: ".o_kanban_record:contains('Tour Sent Sample')",
            run: "click",
        },
        {
            content: "It is sent",
            trigger: ".o_statusbar_status .o_arrow_button_current:contains('Sent')",
        },
        {
            content: "Test it",
            trigger: ".o_form_statusbar button[name='action_test']",
            run: "click",
        },
        {
            content: "The dialog counts 2 parts: the name filled in, the opt-out line added",
            trigger:
                ".modal .o_mass_sms_test_parts:has(.o_mass_sms_test_parts_count:contains('2')):contains('GSM-7')",
        },
        {
            content: "Close it",
            trigger: ".modal .modal-footer button:contains('Discard')",
            run: "click",
        },
        {
            trigger: "body:not(:has(.modal))",
        },
    ],
});

// issue 25.3: a demo recipient's opt-out page, as on her phone: opt out, then undo
tours.add("mass_mailing_sms_demo_optout", {
    steps: () => [
        {
            content: "Aurélie's number, masked, and the list she is on",
            trigger:
                ".o_sms_optout:has(.o_sms_optout_number:contains('+32 4•• •• •• 56')):contains('SMS Subscribers')",
        },
        {
            content: "Unsubscribe",
            trigger: ".o_sms_optout_form button:contains('Unsubscribe me')",
            run: "click",
        },
        {
            content: "Done, with a way back",
            trigger: ".o_sms_optout .alert-success:contains('You are unsubscribed from')",
        },
        {
            trigger: ".o_sms_optout_undo button:contains('Undo')",
            run: "click",
        },
        {
            content: "Subscribed again",
            trigger: ".o_sms_optout .alert-info:contains('your opt-out is cancelled')",
        },
    ],
});
