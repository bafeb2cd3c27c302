# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
import ast

from lxml import etree

from odoo import fields
from odoo.tests import TransactionCase, tagged
from odoo.tools.safe_eval import safe_eval

from odoo.addons.mail.tests.common import mail_new_test_user

SPEC_A4 = "This will send the SMS Text Message to all recipients. Do you still want to proceed?"
SPEC_A6 = {
    "canceled_text_sms": "SMS Text Message(s) have been ignored and will not be sent.",
    "scheduled_text_sms": "SMS Text Message(s) are in queue and will be sent soon.",
    "failed_text_sms": "SMS Text Message(s) could not be sent.",
}


@tagged("post_install", "-at_install", "mass_mailing_sms")
class TestViewsMailing(TransactionCase):
    """What the SMS app shows and hides (SPEC F1, A1-A6, C7, G2, G4, G5, K1, L2, R1, U1, B1)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user_marketing = mail_new_test_user(
            cls.env,
            login="views_sms_marketing",
            groups="base.group_user,base.group_no_one,mass_mailing.group_mass_mailing_user",
        )
        cls.env = cls.env(user=cls.user_marketing)
        cls.mailing_sms = cls.env["mailing.mailing"].create(
            {"mailing_type": "sms", "subject": "Views SMS", "body_plaintext": "Hello"}
        )
        cls.mailing_mail = cls.env["mailing.mailing"].create(
            {"mailing_type": "mail", "subject": "Views Email", "body_html": "<p>Hello</p>"}
        )

    # ------------------------------------------------------------
    # HELPERS
    # ------------------------------------------------------------

    def _arch(self, xmlid):
        """The view as its inheritance builds it, with every group's nodes."""
        return etree.fromstring(self.env.ref(xmlid).sudo().get_combined_arch())

    def _eval_context(self, record, **context):
        values = {}
        for fname, field in record._fields.items():
            value = record[fname]
            values[fname] = value.id if field.type == "many2one" else value
        values.update(context=context, uid=self.env.uid)
        return values

    def _is_visible(self, node, values):
        while node is not None:
            invisible = node.get("invisible")
            if invisible and safe_eval(invisible, values):
                return False
            node = node.getparent()
        return True

    def _one(self, arch, xpath):
        nodes = arch.xpath(xpath)
        self.assertEqual(len(nodes), 1, f"exactly one {xpath}")
        return nodes[0]

    # ------------------------------------------------------------
    # TESTS
    # ------------------------------------------------------------

    def test_sms_form_hides_email_fields(self):
        """A5 hidden, F1 shown, on the form of the SMS app."""
        arch = self._arch("mass_mailing_sms.mailing_mailing_view_form_sms")
        values = self._eval_context(self.mailing_sms)
        for xpath in (
            "//field[@name='subject']",
            "//field[@name='email_from']",
            "//field[@name='reply_to']",
            "//field[@name='attachment_ids']",
            "//field[@name='mail_server_id']",
            "//page[@name='mail_body']",
            "//button[@name='action_view_opened']",
            "//button[@name='action_view_replied']",
            "//button[@name='action_view_delivered']",
        ):
            self.assertFalse(self._is_visible(self._one(arch, xpath), values), xpath)
        page = self._one(arch, "//page[@name='sms_body']")
        self.assertEqual(page.get("string"), "SMS Content")
        self.assertTrue(self._is_visible(page, values))
        body = self._one(arch, "//page[@name='sms_body']//field[@name='body_plaintext']")
        self.assertEqual(body.get("widget"), "mass_sms_widget", "C4: the part counter")
        for fname in ("sms_allow_unsubscribe", "sms_template_id", "sms_subject"):
            self.assertTrue(self._is_visible(self._one(arch, f"//field[@name='{fname}']"), values))
        # F1: placed where the email body tab would be
        pages = [page.get("name") for page in arch.xpath("//notebook/page")]
        self.assertEqual(pages.index("sms_body") + 1, pages.index("mail_body"))

    def test_email_form_unchanged_for_emails(self):
        """G2: the Email app's form keeps its email fields and shows no SMS part."""
        arch = self._arch("mass_mailing.view_mail_mass_mailing_form")
        values = self._eval_context(self.mailing_mail)
        for xpath in (
            "//field[@name='subject']",
            "//page[@name='mail_body']",
            "//field[@name='email_from']",
        ):
            self.assertTrue(self._is_visible(self._one(arch, xpath), values), xpath)
        for xpath in (
            "//page[@name='sms_body']",
            "//field[@name='sms_subject']",
            "//button[hasclass('o_mass_sms_sent_button')]",
            "//div[hasclass('o_mass_sms_insufficient_credit')]",
        ):
            self.assertFalse(self._is_visible(self._one(arch, xpath), values), xpath)

    def test_sms_wording(self):
        """A1, A4, A6, E3: the texts of the SMS form as the spec words them."""
        arch = self._arch("mass_mailing_sms.mailing_mailing_view_form_sms")
        values = self._eval_context(self.mailing_sms)
        visible_buttons = [
            button.get("name")
            for button in arch.xpath("//header/button")
            if self._is_visible(button, values)
        ]
        self.assertNotIn("action_launch", visible_buttons, "Send Now asks the SMS confirmation")
        self.assertEqual(visible_buttons.count("action_sms_confirm_send"), 1)
        action = self.mailing_sms.action_sms_confirm_send()
        self.assertEqual(action["res_model"], "mailing.sms.send.confirm")
        confirm_arch = self._arch("mass_mailing_sms.mailing_sms_send_confirm_view_form")
        self.assertEqual(
            self._one(confirm_arch, "//p[hasclass('o_mass_sms_confirm_text')]").text, SPEC_A4
        )
        self._one(confirm_arch, "//div[hasclass('o_mass_sms_estimate')]")
        for name, text in SPEC_A6.items():
            span = self._one(arch, f"//span[@name='{name}']")
            self.assertEqual(span.text, text)
            self.assertFalse(safe_eval(span.get("invisible"), values))
        values["state"] = "done"
        sent_button = self._one(arch, "//button[hasclass('o_mass_sms_sent_button')]")
        self.assertEqual(sent_button.get("icon"), "fa-comment-o")
        self.assertEqual(sent_button.xpath("./field")[0].get("string"), "SMS Sent")
        self.assertTrue(self._is_visible(sent_button, values))
        delivered_button = self._one(arch, "//button[hasclass('o_mass_sms_delivered_button')]")
        delivered_field = delivered_button.xpath("./field")[0]
        self.assertEqual(
            (delivered_field.get("name"), delivered_field.get("string")), ("delivered", "Delivered")
        )
        self.assertTrue(self._is_visible(delivered_button, values))
        self.assertFalse(
            self._is_visible(self._one(arch, "//button[@name='action_view_delivered']"), values)
        )
        # C3: SMS waiting for their delivery report are said so, not counted as delivered
        pending_line = self._one(arch, "//div[hasclass('o_mass_sms_pending')]")
        values["pending"] = 0
        self.assertFalse(self._is_visible(pending_line, values))
        values["pending"] = 3
        self.assertTrue(self._is_visible(pending_line, values))
        self.assertIn("wait for its delivery report", pending_line.xpath("./span")[0].text)
        banner = self._one(arch, "//div[hasclass('o_mass_sms_insufficient_credit')]")
        self.assertFalse(self._is_visible(banner, values))
        values["sms_has_insufficient_credit"] = True
        self.assertTrue(self._is_visible(banner, values))
        self.assertTrue(banner.xpath(".//button[@name='action_buy_sms_credits']"))
        self.assertTrue(banner.xpath(".//button[@name='action_retry_failed']"))

    def test_sms_sent_lists_recipients_with_mobile(self):
        """A1, A2."""
        action = self.mailing_sms.action_view_traces_sent()
        list_view = self.env.ref("mass_mailing_sms.mailing_trace_view_tree_sms")
        self.assertEqual(action["views"][0], (list_view.id, "list"))
        arch = self._arch("mass_mailing_sms.mailing_trace_view_tree_sms")
        self.assertEqual(self._one(arch, "//field[@name='sms_number']").get("string"), "Mobile")
        self.assertFalse(arch.xpath("//field[@name='email']"))
        self.assertFalse(arch.xpath("//field[@name='open_datetime']"))

    def test_sms_delivered_lists_confirmed_only(self):
        """C3: "Delivered" lists the SMS a delivery report (or a click) confirmed, not those
        only handed to the provider nor the bounced ones."""
        partners = self.env["res.partner"].sudo().create([{"name": f"R{i}"} for i in range(4)])
        traces = (
            self.env["mailing.trace"]
            .sudo()
            .create(
                [
                    {
                        "trace_type": "sms",
                        "mass_mailing_id": self.mailing_sms.id,
                        "model": "res.partner",
                        "res_id": partners[index].id,
                        "sms_number": f"+3247000000{index}",
                        "trace_status": status,
                        "sent_datetime": fields.Datetime.now(),
                    }
                    for index, status in enumerate(("pending", "sent", "open", "bounce"))
                ]
            )
        )
        action = self.mailing_sms.action_view_traces_delivered()
        self.assertEqual(action["views"][0][1], "list")
        self.assertTrue(action["context"].get("search_default_filter_sms_delivered"))
        search_arch = self._arch("mass_mailing.mailing_trace_view_search")
        domain = ast.literal_eval(
            self._one(search_arch, "//filter[@name='filter_sms_delivered']").get("domain")
        )
        found = self.env["mailing.trace"].search(domain + [("id", "in", traces.ids)])
        self.assertEqual(found, traces[1:3].with_env(self.env))
        self.mailing_sms.invalidate_recordset()
        self.assertEqual((self.mailing_sms.sent, self.mailing_sms.delivered), (4, 2))

    def test_test_dialog(self):
        """A3."""
        action = self.mailing_sms.action_test()
        self.assertEqual(action["res_model"], "mailing.sms.test")
        arch = self._arch("mass_mailing_sms.mailing_sms_test_view_form")
        self.assertTrue(arch.xpath("//p[hasclass('o_mass_sms_test_description')]"))
        self.assertEqual(
            self._one(arch, "//field[@name='numbers']").get("placeholder"), "(123)-456-7890"
        )
        self.assertEqual(
            self._one(arch, "//button[@name='action_send_sms']").get("string"), "Send Sample SMS"
        )

    def test_mixed_form(self):
        """C7 (COMPAT): mailing type visible and editable in draft, domain present."""
        arch = self._arch("mass_mailing_sms.mailing_mailing_view_form_mixed")
        values = self._eval_context(self.mailing_mail)
        mailing_type = self._one(arch, "//field[@name='mailing_type']")
        self.assertTrue(self._is_visible(mailing_type, values))
        self.assertFalse(safe_eval(mailing_type.get("readonly"), values))
        self.assertTrue(arch.xpath("//field[@name='mailing_domain']"))

    def test_statistics_without_opened_replied(self):
        """K1, R1, U1: SMS lists, kanban, reports and campaigns show no Opened/Replied."""
        for xmlid in (
            "mass_mailing_sms.mailing_mailing_view_tree_sms",
            "mass_mailing_sms.mailing_mailing_view_kanban_sms",
            "mass_mailing_sms.mailing_trace_report_view_tree_sms",
        ):
            arch = self._arch(xmlid)
            for fname in ("opened", "replied", "opened_ratio", "replied_ratio"):
                self.assertFalse(arch.xpath(f"//field[@name='{fname}']"), f"{xmlid}: {fname}")
        campaign_arch = self._arch("utm.utm_campaign_view_form")
        sms_list = self._one(campaign_arch, "//field[@name='mailing_sms_ids']/list")
        self.assertFalse(sms_list.xpath(".//field[@name='opened_ratio']"))
        self.assertFalse(sms_list.xpath(".//field[@name='replied_ratio']"))
        report_action = self.env.ref("mass_mailing_sms.mailing_trace_report_action_sms").sudo()
        self.assertEqual(ast.literal_eval(report_action.domain), [("mailing_type", "=", "sms")])

    def _report_views(self):
        """The graph and pivot views of SMS Reporting as the web client loads them."""
        action = self.env.ref("mass_mailing_sms.mailing_trace_report_action_sms").sudo()
        views = [(view.view_id.id, view.view_mode) for view in action.view_ids]
        # the search view brings every field of the model, as in the web client
        views.append((action.search_view_id.id, "search"))
        result = self.env["mailing.trace.report"].get_views(views)
        fields_info = result["models"]["mailing.trace.report"]["fields"]
        return {
            view_type: etree.fromstring(result["views"][view_type]["arch"])
            for view_type in ("graph", "pivot")
        }, fields_info

    def _offered_measures(self, arch, fields_info):
        """What the Measures menu lists (web's computeReportMeasures): every aggregated
        numeric field that the view does not mark invisible, plus Count."""
        hidden = {
            node.get("name")
            for node in arch.xpath("//field")
            if node.get("invisible") in ("1", "True")
        }
        return {"__count"} | {
            name
            for name, field in fields_info.items()
            if name != "id"
            and name not in hidden
            and field["type"] in ("integer", "float", "monetary")
            and field.get("aggregator")
        }

    def test_reporting_measures_without_opened_replied(self):
        """R1: SMS Reporting's graph and pivot offer no Opened/Replied measure (the web client
        lists every numeric field the view does not hide), but Sent, Delivered, Clicked."""
        archs, fields_info = self._report_views()
        self.assertTrue({"opened", "replied"} <= set(fields_info), "the model has them")
        for view_type, arch in archs.items():
            measures = self._offered_measures(arch, fields_info)
            self.assertFalse(measures & {"opened", "replied"}, view_type)
            self.assertTrue({"sent", "delivered", "clicked", "bounced"} <= measures, view_type)
        # issue 25.2: the graph groups by mailing only, not by numbers read as series
        graph = archs["graph"]
        group_bys = [
            node.get("name")
            for node in graph.xpath("//field")
            if node.get("type") != "measure" and node.get("invisible") not in ("1", "True")
        ]
        self.assertEqual(group_bys, ["name"])
        self.assertEqual(graph.xpath("//field[@type='measure']/@name"), ["sent"])
        email_graph = self._arch("mass_mailing.mailing_trace_report_view_graph")
        self.assertIn(
            "opened",
            self._offered_measures(email_graph, fields_info),
            "the email report keeps Opened",
        )

    def test_lists_and_contacts_phone_centric(self):
        """G4, L2: from the SMS app, phone data in, email data out."""
        contact_list = self._arch("mass_mailing_sms.mailing_contact_view_tree_sms")
        self.assertTrue(contact_list.xpath("//field[@name='mobile']"))
        for fname in ("email", "is_blacklisted", "message_bounce"):
            self.assertFalse(contact_list.xpath(f"//field[@name='{fname}']"), fname)
        list_list = self._arch("mass_mailing_sms.mailing_list_view_tree_sms")
        self.assertTrue(list_list.xpath("//field[@name='contact_count_sms']"))
        self.assertFalse(list_list.xpath("//field[@name='contact_pct_bounce']"))
        mailing_list = self.env["mailing.list"].create(
            {
                "name": "Phones",
                "contact_ids": [
                    (0, 0, {"name": "With mobile", "mobile": "+32470000001"}),
                    (0, 0, {"name": "Email only", "email": "email.only@example.com"}),
                ],
            }
        )
        self.assertEqual(mailing_list.contact_count_sms, 1)
        action = mailing_list.action_view_contacts_sms()
        self.assertEqual(
            action["id"], self.env.ref("mass_mailing_sms.mailing_contact_action_sms").id
        )
        action = mailing_list.action_send_mailing_sms()
        self.assertEqual(action["context"]["default_mailing_type"], "sms")

    def test_settings_without_mail_server(self):
        """G5."""
        action = self.env.ref("mass_mailing_sms.res_config_settings_action_sms").sudo()
        context = safe_eval(action.context)
        arch = self._arch("base.res_config_settings_view_form")
        setting = self._one(arch, "//setting[@name='dedicated_server_setting_container']")
        self.assertTrue(safe_eval(setting.get("invisible"), {"context": context}))
        self.assertFalse(safe_eval(setting.get("invisible"), {"context": {}}))

    def test_menus_for_marketing_users(self):
        """G1, B1: the app and its phone blacklist menu, for a marketing user (not admin)."""
        visible = self.env["ir.ui.menu"]._visible_menu_ids()
        for xmlid in (
            "mass_mailing_sms.mass_mailing_sms_menu_root",
            "mass_mailing_sms.mass_mailing_sms_menu_mass_sms",
            "mass_mailing_sms.mailing_list_menu_sms",
            "mass_mailing_sms.mailing_contact_menu_sms",
            "mass_mailing_sms.mass_mailing_sms_menu_reporting",
            "mass_mailing_sms.link_tracker_menu",
            "mass_mailing_sms.phone_blacklist_menu",
        ):
            self.assertIn(self.env.ref(xmlid).id, visible, xmlid)
        self.assertNotIn(
            self.env.ref("mass_mailing_sms.mass_mailing_sms_menu_settings").id, visible
        )
        blacklist = self.env["phone.blacklist"].create({"number": "+32470000002"})
        self.assertTrue(blacklist.active)
        action = self.env.ref("mass_mailing_sms.mailing_mailing_action_sms").sudo()
        self.assertEqual(
            safe_eval(action.context, {"uid": self.env.uid})["default_mailing_type"], "sms"
        )

    def test_activity_groups_split_email_and_sms(self):
        """COMPAT B: the systray lists SMS mailings' activities apart from the email ones."""
        activity_type = self.env.ref("mail.mail_activity_data_todo")
        for mailing in self.mailing_sms + self.mailing_mail:
            mailing.activity_schedule(
                activity_type_id=activity_type.id, user_id=self.user_marketing.id
            )
        groups = {
            group["name"]: group
            for group in self.env["res.users"]._get_activity_groups()
            if group.get("model") == "mailing.mailing"
        }
        self.assertEqual(groups["SMS Marketing"]["domain"], [("mailing_type", "=", "sms")])
        self.assertEqual(groups["SMS Marketing"]["total_count"], 1)
        self.assertEqual(groups["Email Marketing"]["total_count"], 1)
