# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
from urllib.parse import quote

from werkzeug.exceptions import NotFound

from odoo import http
from odoo.http import request

# the page carries a CSRF token and a personal code: keep it out of caches and indexes
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
}


class SmsOptOutController(http.Controller):
    """Public pages behind the ``STOP SMS:`` link of SMS mailings (SPEC O2, O3, O4, C6)."""

    @http.route(
        "/sms/<int:mailing_id>/<string:code>",
        type="http",
        auth="public",
        methods=["GET", "POST"],
        website=True,
        sitemap=False,
    )
    def sms_optout(self, mailing_id, code, action=None, blacklist=None, reason_id=None, **post):
        """GET shows the page and changes nothing; POST (with the CSRF token) opts out or,
        with ``action=undo``, takes a recent opt-out back."""
        trace_sudo = request.env["mailing.trace"].sudo()._sms_find_by_code(mailing_id, code)
        if not trace_sudo:
            raise NotFound()
        last_action = False
        if request.httprequest.method == "POST":
            if action == "undo":
                last_action = "undo" if trace_sudo._sms_opt_out_undo() else "undo_expired"
            else:
                trace_sudo._sms_opt_out(blacklist=blacklist == "1", reason_id=reason_id)
                last_action = "opt_out"
        values = dict(
            trace_sudo._sms_opt_out_page_values(),
            mailing_id=mailing_id,
            code=code,
            last_action=last_action,
        )
        return request.render("mass_mailing_sms.sms_optout_page", values, headers=PAGE_HEADERS)

    @http.route(
        "/sms/<int:mailing_id>/unsubscribe/<string:code>",
        type="http",
        auth="public",
        methods=["GET", "POST"],
        website=True,
        sitemap=False,
    )
    def sms_optout_legacy(self, mailing_id, code, **post):
        """Address of the form of Odoo's former SMS Marketing (COMPAT tier B).

        A POST acts like the opt-out form of the page (CSRF token required); a GET leads to
        the page, where the recipient confirms.
        """
        if request.httprequest.method == "POST":
            return self.sms_optout(mailing_id, code, blacklist=post.get("blacklist"))
        return request.redirect(f"/sms/{mailing_id}/{quote(code, safe='')}", code=303)
