# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
from werkzeug.exceptions import NotFound

from odoo import http
from odoo.http import request


class SmsLinkTracker(http.Controller):
    @http.route(
        "/r/<string:code>/s/<int:sms_id>", type="http", auth="public", website=True, sitemap=False
    )
    def sms_short_link_redirect(self, code, sms_id, **post):
        """Follow a short link of an SMS and count the click on its recipient's trace (C9).

        The click is counted only when the SMS belongs to the mailing that created the link
        and reached the provider; any other id (forged, of another mailing, of an SMS never
        sent) only redirects, without touching statistics, not even an anonymous click.
        """
        redirect_url = request.env["link.tracker"].sudo().get_url_from_code(code)
        if not redirect_url:
            raise NotFound()
        trace_sudo = (
            request.env["mailing.trace"]
            .sudo()
            ._sms_find_for_click(code, sms_id)
            ._sms_filter_clickable()
        )
        if trace_sudo and not request.env["ir.http"].is_a_bot():
            request.env["link.tracker.click"].sudo().add_click(
                code,
                ip=request.httprequest.remote_addr,
                country_code=request.geoip.country_code,
                mailing_trace_id=trace_sudo.id,
            )
        return request.redirect(redirect_url, code=301, local=False)
