/** @odoo-module **/
// Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.

import { Component, useEffect, xml } from "@odoo/owl";
import { Dialog } from "@web/core/dialog/dialog";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { standardWidgetProps } from "@web/views/widgets/standard_widget_props";

/** SPEC E1: the SMS could not all go out for lack of credits; offer to buy some. */
export class InsufficientCreditsDialog extends Component {
    static template = "mass_mailing_sms.InsufficientCreditsDialog";
    static components = { Dialog };
    static props = {
        close: Function,
        mailingId: { type: Number, optional: true },
        isTest: { type: Boolean, optional: true },
    };

    setup() {
        this.action = useService("action");
        this.orm = useService("orm");
    }

    async onBuyCredits() {
        const action = await this.orm.call(
            "mailing.mailing",
            "action_buy_sms_credits",
            [this.props.mailingId ? [this.props.mailingId] : []]
        );
        this.props.close();
        await this.action.doAction(action);
    }
}

// Mailings already warned about in this browser tab: the dialog is shown once, the
// banner at the top of the form stays (SPEC E3).
const warnedMailingIds = new Set();

/** Opens the dialog when the mailing on screen has SMS failed for lack of credits. */
export class InsufficientCreditsNotifier extends Component {
    static template = xml``;
    static props = { ...standardWidgetProps };

    setup() {
        this.dialog = useService("dialog");
        useEffect(
            (hasFailure, resId) => {
                if (hasFailure && resId && !warnedMailingIds.has(resId)) {
                    warnedMailingIds.add(resId);
                    this.dialog.add(InsufficientCreditsDialog, { mailingId: resId });
                }
            },
            () => [this.props.record.data.sms_has_insufficient_credit, this.props.record.resId]
        );
    }
}

registry.category("view_widgets").add("mass_sms_credit_dialog", {
    component: InsufficientCreditsNotifier,
    fieldDependencies: [{ name: "sms_has_insufficient_credit", type: "boolean" }],
});

/** Client action returned by the test dialog when the provider refused for lack of credits. */
function openInsufficientCreditsDialog(env, action) {
    const params = action.params || {};
    env.services.dialog.add(InsufficientCreditsDialog, {
        mailingId: params.mailing_id,
        isTest: Boolean(params.is_test),
    });
    return params.next;
}

registry.category("actions").add("mass_mailing_sms_insufficient_credits", openInsufficientCreditsDialog);
