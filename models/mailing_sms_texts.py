# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
"""The text each recipient gets: placeholders rendered, links shortened and tagged with
the SMS id (C9), the opt-out line (O4)."""

import logging
import re

from odoo import models

from ..tools.sms_compliance import Compliance
from ..tools.sms_text import PLACEHOLDER_PATTERN

_logger = logging.getLogger(__name__)


class MailingSmsTexts(models.AbstractModel):
    """SMS Mailing Texts, for ``mailing.mailing`` (which inherits it)."""

    _name = "mailing.sms.texts"
    _description = "SMS Mailing Texts"

    def _sms_render_bodies(self, records, template=None):
        """({res_id: body}, {res_id: error}): one broken record does not stop the others."""
        self.ensure_one()
        if not records:
            return {}, {}
        if template is None:
            template = self._sms_shorten_template_links(self.body_plaintext or "")
        if not PLACEHOLDER_PATTERN.search(template):
            return dict.fromkeys(records.ids, template), {}
        try:
            bodies = self._sms_render_template(template, records.ids)
        except Exception:  # noqa: BLE001 - isolate the failing records below
            bodies, errors = {}, {}
            for res_id in records.ids:
                try:
                    bodies.update(self._sms_render_template(template, [res_id]))
                except Exception as error:  # noqa: BLE001
                    _logger.info("SMS mailing %s: cannot render for record %s", self.id, res_id)
                    errors[res_id] = self.env._(
                        "The SMS text could not be written: %(error)s", error=error
                    )
            return self._sms_shorten_rendered_links(bodies), errors
        return self._sms_shorten_rendered_links(bodies), {}

    def _sms_render_template(self, template, res_ids):
        return self.env["mail.render.mixin"]._render_template(
            template, self.mailing_model_real, res_ids, engine="inline_template"
        )

    def _sms_shorten_template_links(self, template):
        """Shorten the links written in the body once per mailing (C9)."""
        if not template:
            return template
        # links built from placeholders are only known after rendering
        protected = {}

        def protect(match):
            key = f"\x00{len(protected)}\x00"
            protected[key] = match.group(0)
            return key

        masked = PLACEHOLDER_PATTERN.sub(protect, template)
        masked = re.sub(r"https?://\S*\x00\d+\x00\S*", protect, masked)
        shortened = self._sms_shorten_text_links(masked)
        # last protected first: a protected link may hold an earlier protected placeholder
        for key, value in reversed(protected.items()):
            shortened = shortened.replace(key, value)
        return shortened

    def _sms_shorten_rendered_links(self, bodies):
        cache = {}
        result = {}
        for res_id, body in bodies.items():
            if body not in cache:
                cache[body] = self._sms_shorten_text_links(body)
            result[res_id] = cache[body]
        return result

    def _sms_shorten_text_links(self, text):
        if not text or "http" not in text:
            return text
        return self.env["mail.render.mixin"]._shorten_links_text(
            text, self._get_link_tracker_values()
        )

    def get_sms_link_replacements_placeholders(self):
        """What a link and the opt-out line look like once in an SMS (COMPAT tier B), for
        counters that estimate the length of the text actually sent: the longest footer a
        recipient may get (issue 29)."""
        footers = self[:1]._sms_compliance(opt_out=True).footers(self[:1]._sms_sample_opt_out_url())
        return {
            "link": f"{self[:1].get_base_url().rstrip('/')}/r/xxxx/s/xxxxxx",
            "unsubscribe": "\n" + max(footers, key=len),
        }

    def _sms_sample_opt_out_url(self):
        """An opt-out link as long as a real one (a code of 10 characters)."""
        return "%s/sms/%s/%s" % (self[:1].get_base_url().rstrip("/"), self[:1].id or 0, "x" * 10)

    def _sms_compliance(self, opt_out=None):
        """The prefix and per-country footers of this mailing's SMS (``Compliance``), from
        the settings of its company; ``opt_out``: whether they end with a footer (default:
        the mailing's "Include opt-out link")."""
        company = (self[:1].user_id.company_id or self.env.company).sudo()
        return Compliance(
            prefix=company.sms_brand_prefix,
            stop_codes=company.sms_stop_country_ids.mapped("code"),
            stop_line=self.env._("Reply STOP to opt out"),
            opt_out=self[:1].sms_allow_unsubscribe if opt_out is None else opt_out,
        )

    def _sms_short_link_pattern(self):
        """Regex of this database's short links (``<base>/r/<code>``), to tag them per SMS."""
        base_url = self[:1].get_base_url() or ""
        if not base_url:
            return None
        return re.compile(rf"({re.escape(base_url.rstrip('/') + '/r/')}[\w-]+)(?![\w/-])")

    def _sms_get_unsubscribe_url(self, code, base_url=None):
        return "%s/sms/%s/%s" % ((base_url or self.get_base_url()).rstrip("/"), self.id, code)
