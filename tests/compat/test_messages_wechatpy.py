"""App messages and app chats through wechatpy 1.8.18 against `qiye serve`.

Usage: python test_messages_wechatpy.py PATH_TO_QIYE_BINARY
Reuses the server start-up of test_wechatpy.py. Sends with wechatpy's own
helpers (send_text, send_markdown, send_text_card, send_articles, appchat)
and, for template cards, which 1.8.18 has no helper for, client.post with
the path. Checks what WeCom reports (invaliduser, 81013, response_code) and
that the member finds the message in qiye's member API.
"""

import itertools
import json
import unittest
import urllib.request

import test_wechatpy as base  # takes the binary path off sys.argv
from wechatpy.exceptions import WeChatClientException

_seq = itertools.count(1)


def unique(prefix):
    return f"{prefix}{next(_seq)}"


class MessagesAgainstQiye(unittest.TestCase):
    setUpClass = base.WechatpyAgainstQiye.__dict__["setUpClass"]
    tearDownClass = base.WechatpyAgainstQiye.__dict__["tearDownClass"]
    qiye = base.WechatpyAgainstQiye.__dict__["qiye"]

    def setUp(self):
        self.contacts = self.Client(self.corpid, self.contact_secret)
        self.app = self.Client(self.corpid, self.app_secret)

    def member(self):
        userid = unique("m")
        self.contacts.user.create(userid, userid, department=[1])
        return userid

    def api(self, method, path, token=None, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.base}/api/v1{path}", data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(req) as resp:
            raw = resp.read()
            return json.loads(raw) if raw else None

    def session(self, userid):
        one_time = self.qiye("member", "reset-password", "--corpid", self.corpid, "--userid", userid, "--json")["password"]
        token = self.api("POST", "/session", body={"corpid": self.corpid, "login": userid, "password": one_time})["token"]
        self.api("POST", "/me/password", token, {"old": one_time, "new": "wechatpy-compat-1"})
        return token

    def inbox(self, userid):
        """The member's entries in their conversation with the app."""
        token = self.session(userid)
        convs = [c for c in self.api("GET", "/conversations", token)["conversations"] if c.get("agentid") == self.agentid]
        self.assertEqual(len(convs), 1, convs)
        return self.api("GET", f"/conversations/{convs[0]['id']}/entries", token)["entries"]

    def test_send_text_reports_invalid_users_as_wecom(self):
        alice, bob = self.member(), self.member()
        res = self.app.message.send_text(self.agentid, f"{alice}|Ghost|{bob}", "审批提醒: 请处理")
        self.assertEqual(res["errcode"], 0)
        self.assertEqual(res["invaliduser"], "ghost")
        self.assertTrue(res["msgid"])
        got = self.inbox(bob)
        self.assertEqual(got[-1]["content"]["content"], "审批提醒: 请处理")
        self.assertEqual(got[-1]["msgid"], res["msgid"])
        with self.assertRaises(WeChatClientException) as raised:
            self.app.message.send_text(self.agentid, "nobody|ghost", "x")
        self.assertEqual(raised.exception.errcode, 81013)

    def test_markdown_textcard_and_articles(self):
        carol = self.member()
        md = self.app.message.send_markdown(self.agentid, carol, "**上线通知** <font color=\"info\">完成</font>")
        self.assertEqual(md["errcode"], 0)
        card = self.app.message.send_text_card(self.agentid, carol, "报销", "<div class=\"gray\">2026-11-24</div>", "https://example.com/x")
        self.assertEqual(card["errcode"], 0)
        news = self.app.message.send_articles(self.agentid, carol, [
            {"title": "周报", "description": "第47周", "url": "https://example.com/w", "image": "https://example.com/p.png"},
        ])
        self.assertEqual(news["errcode"], 0)
        got = self.inbox(carol)
        self.assertEqual([e["msgtype"] for e in got], ["markdown", "textcard", "news"])
        self.assertEqual(got[1]["content"]["btntxt"], "详情", "wechatpy's default button text")
        self.assertEqual(got[2]["content"]["articles"][0]["picurl"], "https://example.com/p.png")

    def test_template_card_gets_a_response_code_and_recall(self):
        dave = self.member()
        res = self.app.post("message/send", data={
            "touser": dave, "msgtype": "template_card", "agentid": self.agentid,
            "template_card": {
                "card_type": "button_interaction", "task_id": unique("task"),
                "main_title": {"title": "采购申请", "desc": "¥12,000"},
                "button_list": [{"text": "同意", "style": 1, "key": "approve"},
                                {"text": "驳回", "style": 2, "key": "reject"}],
            },
        })
        self.assertEqual(res["errcode"], 0)
        self.assertTrue(res["response_code"], "interactive cards answer a response_code")
        self.assertEqual(self.inbox(dave)[-1]["content"]["card_type"], "button_interaction")
        recalled = self.app.post("message/recall", data={"msgid": res["msgid"]})
        self.assertEqual(recalled["errcode"], 0)
        with self.assertRaises(WeChatClientException) as raised:
            self.app.post("message/send", data={"touser": dave, "msgtype": "template_card", "agentid": self.agentid,
                                                "template_card": {"card_type": "button_interaction"}})
        self.assertEqual(raised.exception.errcode, 40058)

    def test_appchat_create_get_update_send(self):
        a, b, c = self.member(), self.member(), self.member()
        chatid = self.app.appchat.create(name="项目群", owner=a, user_list=[a, b], chat_id=unique("chat"))["chatid"]
        info = self.app.appchat.get(chatid)
        self.assertEqual(info["owner"], a)
        self.assertEqual(info["userlist"], [a, b])
        self.app.appchat.update(chatid, add_user_list=[c], del_user_list=[b], name="项目群二")
        info = self.app.appchat.get(chatid)
        self.assertEqual(info["name"], "项目群二")
        self.assertEqual(info["userlist"], [a, c])
        self.assertEqual(self.app.appchat.send_text(chatid, "大家好")["errcode"], 0)
        with self.assertRaises(WeChatClientException) as raised:
            self.app.appchat.get("nosuchchat")
        self.assertEqual(raised.exception.errcode, 86003)


if __name__ == "__main__":
    unittest.main(verbosity=2)
