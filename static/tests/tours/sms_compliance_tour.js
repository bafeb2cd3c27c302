/** @odoo-module **/
// Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.

import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";

// 120 characters: one part with "Acme: " and "Reply STOP to opt out", two with the opt-out link
const TEXT = "Spring sale in all our shops this weekend, every shoe and every coat at half price!" +
    " Come early, the best sizes go first.";

registry.category("web_tour.tours").add("mass_mailing_sms_compliance", {
    url: "/odoo",
    steps: () => [
        stepUtils.showAppsMenuItem(),
        {
            content: "Open the SMS Marketing app",
            trigger: '.o_app[data-menu-xmlid="mass_mailing_sms.mass_mailing_sms_menu_root"]',
            run: "click",
        },
        {
            content: "Create an SMS mailing",
            trigger: ".o_control_panel .o-kanban-button-new",
            run: "click",
        },
        {
            trigger: "div[name='sms_subject'] input",
            run: "edit Tour Compliance",
        },
        {
            content: "Pick the list of an American and a Belgian contact",
            trigger: "div[name='contact_list_ids'] input",
            run: "edit Tour Compliance List",
        },
        {
            trigger: ".o-autocomplete--dropdown-item a:contains('Tour Compliance List')",
            run: "click",
        },
        {
            content: "Include the opt-out footer",
            trigger: "div[name='sms_allow_unsubscribe'] input:not(:checked)",
            run: "click",
        },
        {
            trigger: "div[name='body_plaintext'] textarea",
            run: `edit ${TEXT}`,
        },
        {
            content: "Leave the text: the estimate is computed again",
            trigger: "div[name='sms_subject'] input",
            run: "click",
        },
        {
            content: "The counter adds the brand prefix and the longest footer",
            trigger:
                ".o_mass_sms_counter .o_sms_count:contains('brand prefix included'):contains('opt-out link included')",
        },
        {
            content: "Reply STOP keeps the American SMS in one part, the Belgian link takes two: 1 + 2 = 3",
            trigger:
                ".o_mass_sms_estimate:has(.o_mass_sms_estimate_recipients:contains('2')):has(.o_mass_sms_estimate_parts:contains('2')):has(.o_mass_sms_estimate_total:contains('3'))",
        },
        {
            content: "The estimate names the sender of each country",
            trigger:
                ".o_mass_sms_estimate_senders:contains('+14155550100 (United States)'):contains('ACME BE (Belgium)'):contains('ACME for the other countries')",
        },
        ...stepUtils.saveForm(),
    ],
});
