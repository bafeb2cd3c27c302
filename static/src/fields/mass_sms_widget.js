/** @odoo-module **/
// Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.

import { useEffect, useState } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { browser } from "@web/core/browser/browser";
import { registry } from "@web/core/registry";
import { SmsWidget, smsWidget } from "@sms/components/sms_widget/fields_sms_widget";

// GSM 03.38: the basic set costs one septet a character, the extension set two.
const GSM7_BASIC = new Set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡" +
        "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
);
const GSM7_EXTENSION = new Set("^{}\\[~]|€\f");
const URL_PATTERN = /https?:\/\/[^\s<>"']+/g;
// what a link becomes in each SMS: <base>/r/<code>/s/<sms id> (code and id estimated)
const SHORT_LINK_SUFFIX = "/r/xxxx/s/xxxxxx";
const OPT_OUT_CODE = "x".repeat(10);
export const PARTS_WARNING_THRESHOLD = 3;

/**
 * Counts what an SMS mailing will really cost (SPEC C4): characters and parts in GSM-7
 * (160 for one part, 153 a part beyond) or, as soon as one character is outside GSM-7,
 * in Unicode (70, then 67 a part); links at the length of their short tracked version;
 * the opt-out line when the mailing includes it.
 */
export class MassSmsWidget extends SmsWidget {
    static template = "mass_mailing_sms.MassSmsWidget";

    setup() {
        super.setup();
        // count while typing: the record only gets the text when the textarea is left
        this.live = useState({ text: null, recordValue: null });
        useEffect(
            (textarea) => {
                if (!textarea) {
                    return;
                }
                const onInput = () => {
                    this.live.recordValue = this.recordValue;
                    this.live.text = textarea.value;
                };
                textarea.addEventListener("input", onInput);
                return () => textarea.removeEventListener("input", onInput);
            },
            () => [this.textareaRef.el]
        );
    }

    get recordValue() {
        return this.props.record.data[this.props.name] || "";
    }

    /** What is being typed, unless the record changed since (e.g. a template was chosen). */
    get value() {
        const recordValue = this.recordValue;
        if (this.live.text !== null && this.live.recordValue === recordValue) {
            return this.live.text;
        }
        return recordValue;
    }

    get baseUrl() {
        return browser.location.origin;
    }

    get content() {
        return this._getValueForSmsCounts(this.value);
    }

    get encoding() {
        return [...this.content].every((char) => GSM7_BASIC.has(char) || GSM7_EXTENSION.has(char))
            ? "GSM7"
            : "UNICODE";
    }

    get nbrChar() {
        const chars = [...this.content];
        if (this.encoding === "GSM7") {
            return chars.reduce((total, char) => total + (GSM7_EXTENSION.has(char) ? 2 : 1), 0);
        }
        return this.content.length; // UTF-16 code units, as UCS-2 counts them
    }

    get nbrCharExplanation() {
        const notes = [];
        if (this.value.match(URL_PATTERN)) {
            notes.push(_t("links counted at their shortened length"));
        }
        if (this.props.record.data.sms_counter_prefix && this.value.trim()) {
            notes.push(_t("brand prefix included"));
        }
        if (this.hasOptOut && this.value.trim()) {
            notes.push(_t("opt-out link included"));
        }
        return notes.length ? ` (${notes.join(", ")})` : "";
    }

    get hasOptOut() {
        return Boolean(this.props.record.data.sms_allow_unsubscribe);
    }

    get tooManyParts() {
        return this.nbrSMS > PARTS_WARNING_THRESHOLD;
    }

    _getValueForSmsCounts(value) {
        if (!value.trim()) {
            return ""; // nothing written yet: 0 characters, 0 SMS, as the estimate says
        }
        const shortLink = this.baseUrl + SHORT_LINK_SUFFIX;
        let content = value.replace(URL_PATTERN, () => shortLink);
        // the brand prefix and the longest opt-out footer of the company's countries
        const prefix = this.props.record.data.sms_counter_prefix || "";
        if (prefix && !content.startsWith(prefix)) {
            content = prefix + content;
        }
        if (this.hasOptOut) {
            const mailingId = this.props.record.resId || 1000;
            const footer =
                this.props.record.data.sms_counter_footer ||
                `\nSTOP SMS: ${this.baseUrl}/sms/${mailingId}/${OPT_OUT_CODE}`;
            content = `${content.trimEnd()}${footer}`;
        }
        return content;
    }
}

export const massSmsWidget = {
    ...smsWidget,
    component: MassSmsWidget,
};

registry.category("fields").add("mass_sms_widget", massSmsWidget);
