"""Directory change callbacks received by a wechatpy 1.8.18 receiver.

Usage: python test_directory_callbacks_wechatpy.py PATH_TO_QIYE_BINARY
Starts `qiye serve` like test_wechatpy.py, runs a callback receiver on
loopback whose GET answers the echostr handshake with
wechatpy.enterprise.crypto.WeChatCrypto.check_signature and whose POST
decrypts each event with decrypt_message, registers it for a new app with
`qiye app set-callback`, changes the directory through wechatpy's
WeChatClient and checks that every change_contact event arrives, decrypted,
in order, with its fields. wechatpy 1.8.18 has no change_contact model: the
plaintext is parsed with xmltodict (wechatpy's own XML parser) and must come
out of wechatpy.enterprise.parse_message as an event it does not know.
"""

import base64
import http.server
import json
import os
import secrets
import string
import threading
import time
import unittest
import urllib.parse

import test_wechatpy as base  # takes the binary path off sys.argv
import xmltodict
from wechatpy.enterprise import parse_message
from wechatpy.enterprise.crypto import WeChatCrypto
from wechatpy.enterprise.exceptions import InvalidCorpIdException
from wechatpy.exceptions import InvalidSignatureException

# How long the receiver may wait for every event. The server polls its
# outbox every 500 ms; this bound only ends a run that would otherwise hang.
DELIVERY_DEADLINE_SECS = 60


class Receiver:
    """A callback endpoint as a WeCom app developer would write it with
    wechatpy: verify and decrypt, remember what arrived."""

    def __init__(self, token, aes_key, corp_id):
        self.crypto = WeChatCrypto(token, aes_key, corp_id)
        self.corp_id = corp_id
        self.changed = threading.Condition()
        self.handshakes = []  # echostr plaintexts answered
        self.events = []  # (envelope dict, plaintext dict), in arrival order
        self.raw_posts = []  # (body, signature, timestamp, nonce)
        self.refused = []  # why a request was refused
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def query(self):
                parsed = urllib.parse.urlsplit(self.path)
                return {k: v[0] for k, v in urllib.parse.parse_qs(parsed.query).items()}

            def answer(self, status, body=b""):
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                q = self.query()
                try:
                    echo = receiver.crypto.check_signature(q["msg_signature"], q["timestamp"], q["nonce"], q["echostr"])
                except (KeyError, InvalidSignatureException, InvalidCorpIdException) as err:
                    receiver.refuse(f"GET {self.path}: {err!r}")
                    return self.answer(403)
                echo = echo.decode() if isinstance(echo, bytes) else echo
                with receiver.changed:
                    receiver.handshakes.append(echo)
                    receiver.changed.notify_all()
                self.answer(200, echo.encode())

            def do_POST(self):
                q = self.query()
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                try:
                    plain = receiver.crypto.decrypt_message(body, q["msg_signature"], q["timestamp"], q["nonce"])
                except (KeyError, InvalidSignatureException, InvalidCorpIdException) as err:
                    receiver.refuse(f"POST {self.path}: {err!r}")
                    return self.answer(403)
                plain = plain.decode() if isinstance(plain, bytes) else plain
                envelope = xmltodict.parse(body)["xml"]
                event = xmltodict.parse(plain)["xml"]
                with receiver.changed:
                    receiver.events.append((envelope, event, parse_message(plain)))
                    receiver.raw_posts.append((body, q["msg_signature"], q["timestamp"], q["nonce"]))
                    receiver.changed.notify_all()
                self.answer(200, b"success")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/wecom/callback"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def refuse(self, why):
        with self.changed:
            self.refused.append(why)
            self.changed.notify_all()

    def wait_for_events(self, count):
        """Waits (bounded) until `count` events arrived; returns them all."""
        deadline = time.monotonic() + DELIVERY_DEADLINE_SECS
        with self.changed:
            while len(self.events) < count and not self.refused:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self.changed.wait(remaining)
            return list(self.events)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def random_token():
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(24))


def random_aes_key():
    return base64.b64encode(os.urandom(32)).decode()[:43]


class DirectoryCallbacksAgainstQiye(unittest.TestCase):
    setUpClass = base.WechatpyAgainstQiye.__dict__["setUpClass"]
    tearDownClass = base.WechatpyAgainstQiye.__dict__["tearDownClass"]
    qiye = base.WechatpyAgainstQiye.__dict__["qiye"]

    def setUp(self):
        self.token, self.aes_key = random_token(), random_aes_key()
        self.receiver = Receiver(self.token, self.aes_key, self.corpid)
        self.addCleanup(self.receiver.close)
        app = self.qiye("app", "create", "--corpid", self.corpid, "--name", "Contacts Listener", "--all-visible",
                        "--json")
        self.listener = app["agentid"]
        self.qiye("app", "set-callback", "--corpid", self.corpid, "--agentid", str(self.listener),
                  "--url", self.receiver.url, "--token", self.token, "--aes-key", self.aes_key, "--json")
        self.c = self.Client(self.corpid, self.contact_secret)

    def change_the_directory(self):
        """Every kind of directory change, through wechatpy; returns the
        events a receiver must see, in order, as (ChangeType, fields)."""
        c = self.c
        dept = c.department.create("Callbacks 回调", parent_id=1, order=7)["id"]
        c.user.create("cb-zhang", "张三", department=[dept], position="Engineer", mobile="13700000001",
                      email="cb-zhang@example.com")
        c.user.create("cb-li", "李四", department=[dept], is_leader_in_dept=[1])
        c.user.update("cb-zhang", position="Architect")
        c.user.update("cb-li", new_userid="cb-li2")
        c.department.update(dept, name="Callbacks Renamed")
        tagid = int(c.tag.create("Callback Tag")["tagid"])  # tag/create has no event
        c.tag.add_users(tagid, ["cb-zhang", "cb-li2"])
        c.tag.delete_users(tagid, ["cb-zhang"])
        c.post("tag/addtagusers", data={"tagid": tagid, "partylist": [dept]})
        c.user.delete("cb-zhang")
        c.user.delete("cb-li2")
        c.department.delete(dept)
        d = str(dept)
        return [
            ("create_party", {"Id": d, "Name": "Callbacks 回调", "ParentId": "1", "Order": "7"}),
            ("create_user", {"UserID": "cb-zhang", "Name": "张三", "Department": d, "Position": "Engineer",
                             "Mobile": "13700000001", "Email": "cb-zhang@example.com"}),
            ("create_user", {"UserID": "cb-li", "Name": "李四", "Department": d, "IsLeaderInDept": "1"}),
            ("update_user", {"UserID": "cb-zhang", "Position": "Architect"}),
            ("update_user", {"UserID": "cb-li", "NewUserID": "cb-li2"}),
            ("update_party", {"Id": d, "Name": "Callbacks Renamed"}),
            ("update_tag", {"TagId": str(tagid), "AddUserItems": "cb-zhang,cb-li2"}),
            ("update_tag", {"TagId": str(tagid), "DelUserItems": "cb-zhang"}),
            ("update_tag", {"TagId": str(tagid), "AddPartyItems": d}),
            ("delete_user", {"UserID": "cb-zhang"}),
            ("delete_user", {"UserID": "cb-li2"}),
            ("delete_party", {"Id": d}),
        ]

    def test_receiver_decrypts_every_change_event(self):
        self.assertEqual(len(self.receiver.handshakes), 1, "set-callback verified the URL once")
        expected = self.change_the_directory()
        events = self.receiver.wait_for_events(len(expected))
        self.assertEqual(self.receiver.refused, [], "the receiver refused a request")
        got_types = [e["ChangeType"] for _, e, _ in events]
        self.assertEqual(got_types, [t for t, _ in expected], "every event, once, in order")

        for (envelope, event, parsed), (change_type, fields) in zip(events, expected):
            with self.subTest(change_type=change_type, fields=fields):
                self.assertEqual(envelope["ToUserName"], self.corpid)
                self.assertEqual(envelope["AgentID"], str(self.listener))
                self.assertEqual(event["ToUserName"], self.corpid)
                self.assertEqual(event["FromUserName"], "sys")
                self.assertEqual(event["MsgType"], "event")
                self.assertEqual(event["Event"], "change_contact")
                self.assertLessEqual(abs(int(event["CreateTime"]) - time.time()), 600)
                for name, value in fields.items():
                    self.assertEqual(event.get(name), value, name)
                # wechatpy 1.8.18 has no change_contact model; it must still
                # parse the document (as an unknown message).
                self.assertEqual(parsed.type, "unknown")
                self.assertEqual(parsed.source, "sys")
                self.assertEqual(parsed.target, self.corpid)
        # Updates carry only what changed.
        _, zhang_update, _ = events[3]
        self.assertNotIn("Name", zhang_update)
        self.assertNotIn("Mobile", zhang_update)
        _, party_update, _ = events[5]
        self.assertNotIn("ParentId", party_update, "the department did not move")

        # Delivery is in order per app, so once a later event has arrived,
        # every earlier one is recorded as delivered.
        sentinel = self.c.department.create("Sentinel", parent_id=1)["id"]
        events = self.receiver.wait_for_events(len(expected) + 1)
        self.assertEqual([e.get("Id") for _, e, _ in events[len(expected):]], [str(sentinel)],
                         "no event delivered twice")
        deliveries = self.qiye("app", "deliveries", "--corpid", self.corpid, "--agentid", str(self.listener), "--json")
        self.assertEqual(len(deliveries), len(expected) + 1, "the outbox holds exactly the received events")
        earlier = sorted(deliveries, key=lambda d: d["seq"])[:len(expected)]
        self.assertEqual([d["event"] for d in earlier], [f"change_contact/{t}" for t, _ in expected])
        self.assertTrue(all(d["delivered_at"] and d["attempts"] == 1 for d in earlier), earlier)

    def test_tampered_signatures_are_rejected_by_wechatcrypto(self):
        self.c.department.create("Tamper Check", parent_id=1)
        events = self.receiver.wait_for_events(1)
        self.assertEqual(len(events), 1, self.receiver.refused)
        body, signature, timestamp, nonce = self.receiver.raw_posts[0]
        crypto = self.receiver.crypto
        self.assertIn("<ChangeType><![CDATA[create_party]]></ChangeType>",
                      crypto.decrypt_message(body, signature, timestamp, nonce))
        tampered = ("0" if signature[0] != "0" else "1") + signature[1:]
        with self.assertRaises(InvalidSignatureException):
            crypto.decrypt_message(body, tampered, timestamp, nonce)
        with self.assertRaises(InvalidSignatureException):
            crypto.decrypt_message(body, signature, str(int(timestamp) + 1), nonce)
        with self.assertRaises(InvalidCorpIdException):
            WeChatCrypto(self.token, self.aes_key, "ww0000000000000000").decrypt_message(
                body, signature, timestamp, nonce)
        with self.assertRaises(InvalidSignatureException):
            WeChatCrypto("someoneelse", self.aes_key, self.corpid).decrypt_message(body, signature, timestamp, nonce)

    def test_set_callback_fails_when_the_receiver_refuses_the_handshake(self):
        # A receiver holding another token refuses qiye's handshake, so the
        # CLI must not save the settings.
        other = Receiver(random_token(), self.aes_key, self.corpid)
        self.addCleanup(other.close)
        with self.assertRaises(Exception) as refused:
            self.qiye("app", "set-callback", "--corpid", self.corpid, "--agentid", str(self.listener),
                      "--url", other.url, "--token", self.token, "--aes-key", self.aes_key, "--json")
        self.assertIn("returned non-zero exit status", str(refused.exception))
        self.assertEqual(len(other.refused), 1, "the receiver saw and refused one handshake")
        # The earlier settings still hold: events keep reaching the first receiver.
        self.c.department.create("Still Delivered", parent_id=1)
        events = self.receiver.wait_for_events(1)
        self.assertEqual([e["ChangeType"] for _, e, _ in events], ["create_party"])
        self.assertEqual(other.events, [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
