"""Directory (departments, members, tags) through wechatpy 1.8.18 against `qiye serve`.

Usage: python test_directory_wechatpy.py PATH_TO_QIYE_BINARY
Reuses the server start-up of test_wechatpy.py (fresh data directory, free
loopback port, bootstrap corp credentials) and drives the directory API with
the contact-sync secret through wechatpy.enterprise.WeChatClient. Calls that
1.8.18 has no wrapper for go through client.get/client.post (the
non-deprecated spelling of _get/_post) with the path.
"""

import base64
import hashlib
import io
import itertools
import json
import time
import unittest
import urllib.request

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

import test_wechatpy as base  # takes the binary path off sys.argv
from wechatpy.exceptions import WeChatClientException

_seq = itertools.count(1)


def unique(prefix):
    return f"{prefix}{next(_seq)}"


class DirectoryAgainstQiye(unittest.TestCase):
    setUpClass = base.WechatpyAgainstQiye.__dict__["setUpClass"]
    tearDownClass = base.WechatpyAgainstQiye.__dict__["tearDownClass"]
    qiye = base.WechatpyAgainstQiye.__dict__["qiye"]

    def setUp(self):
        self.c = self.Client(self.corpid, self.contact_secret)

    def errcode_of(self, call, *args, **kwargs):
        with self.assertRaises(WeChatClientException) as raised:
            call(*args, **kwargs)
        return raised.exception.errcode

    def tree(self):
        """Sales under the root and East under Sales, with fresh names."""
        sales = self.c.department.create(unique("Sales"), parent_id=1)["id"]
        east = self.c.department.create(unique("East"), parent_id=sales, order=5)["id"]
        return sales, east

    def test_tree_members_and_listing(self):
        sales, east = self.tree()
        listed = {d["id"]: d for d in self.c.department.get(sales)}
        self.assertEqual(set(listed), {sales, east}, "department/list?id= is the subtree")
        self.assertEqual(listed[east]["parentid"], sales)
        self.assertEqual(listed[east]["order"], 5)
        self.assertIn(sales, [d["id"] for d in self.c.department.get()])
        got = self.c.get("department/get", params={"id": east})["department"]
        self.assertEqual((got["id"], got["parentid"]), (east, sales))
        simple = self.c.get("department/simplelist", params={"id": sales})["department_id"]
        self.assertEqual({d["id"] for d in simple}, {sales, east})

        boss, seller = unique("boss"), unique("seller")
        self.assertEqual(self.c.user.create(boss, "Boss", department=[sales], position="Head")["errcode"], 0)
        # gender goes out as an int; tel is the legacy name of telephone.
        self.c.user.create(seller, "Seller", department=[east], gender=1, mobile="13900000001",
                           tel="0571-1234", email=f"{seller}@example.com")
        user = self.c.user.get(seller)
        self.assertEqual(user["userid"], seller)
        self.assertEqual(user["name"], "Seller")
        self.assertEqual(user["department"], [east])
        self.assertEqual(user["gender"], "1", "gender reads back as a string")
        self.assertEqual(user["mobile"], "13900000001")

        flat = self.c.department.get_users(sales)  # user/simplelist, no recursion
        self.assertEqual([u["userid"] for u in flat], [boss])
        deep = self.c.department.get_users(sales, fetch_child=1)
        self.assertEqual(sorted(u["userid"] for u in deep), sorted([boss, seller]))
        full = self.c.user.list(sales, fetch_child=True)  # user/list with full objects
        by_id = {u["userid"]: u for u in full}
        self.assertEqual(set(by_id), {boss, seller})
        self.assertEqual(by_id[boss]["position"], "Head")
        self.assertEqual(by_id[seller]["department"], [east])
        self.assertEqual([u["userid"] for u in self.c.user.list(east, simple=True)], [seller])

        self.assertEqual(self.c.department.update(east, name=unique("EastRenamed"))["errcode"], 0)
        self.c.user.update(seller, position="Rep", department=[east, sales])
        self.assertEqual(sorted(self.c.user.get(seller)["department"]), sorted([east, sales]))
        self.assertEqual(self.c.user.get(seller)["position"], "Rep")

    def test_member_lookups(self):
        sales, _ = self.tree()
        uid = unique("lookup")
        self.c.user.create(uid, "Look Up", department=[sales], mobile="13900000002", email=f"{uid}@example.com")
        self.assertEqual(self.c.post("user/getuserid", data={"mobile": "13900000002"})["userid"], uid)
        by_mail = self.c.post("user/get_userid_by_email", data={"email": f"{uid}@example.com", "email_type": 2})
        self.assertEqual(by_mail["userid"], uid)
        openid = self.c.user.convert_to_openid(uid)["openid"]
        self.assertTrue(openid)
        self.assertEqual(self.c.user.convert_to_openid(uid)["openid"], openid, "stable")
        self.assertEqual(self.c.user.verify(uid)["errcode"], 0)  # user/authsucc
        self.assertEqual(self.c.user.get(uid)["status"], 1)

    def test_rename_with_new_userid(self):
        sales, _ = self.tree()
        old, new = unique("old"), unique("new")
        self.c.user.create(old, "Renamed", department=[sales])
        self.assertEqual(self.c.user.update(old, new_userid=new, position="CEO")["errcode"], 0)
        user = self.c.user.get(new)
        self.assertEqual((user["userid"], user["name"], user["position"]), (new, "Renamed", "CEO"))
        self.assertEqual(self.errcode_of(self.c.user.get, old), 60111)
        self.assertEqual([u["userid"] for u in self.c.department.get_users(sales)], [new])

    def test_delete_members_and_departments(self):
        sales, east = self.tree()
        a, b, c = unique("del"), unique("del"), unique("del")
        for uid in (a, b, c):
            self.c.user.create(uid, uid, department=[east])
        self.assertEqual(self.errcode_of(self.c.department.delete, east), 60005, "has members")
        self.assertEqual(self.errcode_of(self.c.department.delete, sales), 60006, "has a sub-department")
        self.assertEqual(self.c.user.delete(a)["errcode"], 0)
        self.assertEqual(self.c.user.batch_delete([b, c])["errcode"], 0)
        for uid in (a, b, c):
            self.assertEqual(self.errcode_of(self.c.user.get, uid), 60111)
        self.assertEqual(self.c.department.delete(east)["errcode"], 0)
        self.assertEqual(self.c.department.delete(sales)["errcode"], 0)
        self.assertNotIn(sales, [d["id"] for d in self.c.department.get()])
        self.assertEqual(self.errcode_of(self.c.department.get_users, sales), 60003)

    def test_reference_errcodes(self):
        sales, east = self.tree()
        uid = unique("dup")
        self.c.user.create(uid, "Dup", department=[sales])
        self.assertEqual(self.errcode_of(self.c.user.create, uid, "Again", department=[sales]), 60102)
        self.assertEqual(self.errcode_of(self.c.user.create, unique("bad"), "Bad", department=[sales], mobile="not-a-phone"),
                         60103)
        self.assertEqual(self.errcode_of(self.c.user.get, "no-such-user"), 60111)
        self.assertEqual(self.errcode_of(self.c.user.update, "no-such-user", name="X"), 60111)
        self.assertEqual(self.errcode_of(self.c.user.delete, "no-such-user"), 60111)
        self.assertEqual(self.errcode_of(self.c.department.get_users, 987654), 60003)
        self.assertEqual(self.errcode_of(self.c.user.create, unique("lost"), "Lost", department=[987654]), 60003)
        self.assertEqual(self.errcode_of(self.c.department.update, 987654, name="Nowhere"), 60003)
        self.assertEqual(self.errcode_of(self.c.department.delete, 1), 60007)
        name = self.c.get("department/get", params={"id": sales})["department"]["name"]
        self.assertEqual(self.errcode_of(self.c.department.create, name, parent_id=1), 60008)
        self.assertEqual(self.errcode_of(self.c.department.update, sales, parent_id=east), 60010)
        self.assertEqual(self.errcode_of(self.c.department.update, sales, parent_id=sales), 60010)
        self.assertEqual(self.c.get("department/get", params={"id": sales})["department"]["parentid"], 1, "unchanged")

    def test_tags_round_trip(self):
        sales, _ = self.tree()
        u1, u2 = unique("tagged"), unique("tagged")
        for uid in (u1, u2):
            self.c.user.create(uid, uid, department=[sales])
        name = unique("VIP")
        tagid = int(self.c.tag.create(name)["tagid"])
        self.assertIn((tagid, name), [(int(t["tagid"]), t["tagname"]) for t in self.c.tag.list()])
        self.assertEqual(self.errcode_of(self.c.tag.create, name), 40071)

        self.assertEqual(self.c.tag.add_users(tagid, [u1])["errcode"], 0)
        partial = self.c.tag.add_users(tagid, [u2, "ghost-user"])
        self.assertEqual(partial["errcode"], 0)
        self.assertEqual(partial["invalidlist"], "ghost-user")
        self.assertEqual(self.errcode_of(self.c.tag.add_users, tagid, ["ghost-a", "ghost-b"]), 40070)
        members = self.c.tag.get_users(tagid)
        self.assertEqual(members["tagname"], name)
        self.assertEqual(sorted(u["userid"] for u in members["userlist"]), sorted([u1, u2]))

        self.assertEqual(self.c.tag.delete_users(tagid, [u1])["errcode"], 0)
        self.assertEqual([u["userid"] for u in self.c.tag.get_users(tagid)["userlist"]], [u2])
        renamed = unique("Gold")
        self.assertEqual(self.c.tag.update(tagid, renamed)["errcode"], 0)
        self.assertEqual(self.c.tag.get_users(tagid)["tagname"], renamed)
        other = int(self.c.tag.create(unique("Other"))["tagid"])
        self.assertEqual(self.errcode_of(self.c.tag.update, other, renamed), 40071)
        self.assertEqual(self.c.tag.delete(tagid)["errcode"], 0)
        self.assertNotIn(tagid, [int(t["tagid"]) for t in self.c.tag.list()])
        self.assertEqual(self.errcode_of(self.c.tag.get_users, tagid), 40068)

    def test_list_id_pages_every_membership_once(self):
        sales, east = self.tree()
        twice, once = unique("paged"), unique("paged")
        self.c.user.create(twice, "Twice", department=[sales, east])
        self.c.user.create(once, "Once", department=[east])
        whole = self.c.post("user/list_id", data={"limit": 10000})
        expected = sorted((r["userid"], r["department"]) for r in whole["dept_user"])
        self.assertIn((twice, sales), expected)
        self.assertIn((twice, east), expected)
        self.assertIn((once, east), expected)
        rows, cursor = [], None
        for _ in range(len(expected) + 2):
            body = {"limit": 1}
            if cursor:
                body["cursor"] = cursor
            page = self.c.post("user/list_id", data=body)
            self.assertLessEqual(len({r["userid"] for r in page["dept_user"]}), 1, "limit=1: one member a page")
            rows += [(r["userid"], r["department"]) for r in page["dept_user"]]
            cursor = page.get("next_cursor")
            if not cursor:
                break
        self.assertFalse(cursor, "paging ends")
        self.assertEqual(len(rows), len(set(rows)), "no membership twice")
        self.assertEqual(sorted(rows), expected)

    def test_app_visible_range(self):
        sales, east = self.tree()
        inside, outside = unique("east"), unique("sales")
        self.c.user.create(inside, "Inside", department=[east])
        self.c.user.create(outside, "Outside", department=[sales])
        app = self.qiye("app", "create", "--corpid", self.corpid, "--name", unique("CRM"), "--json")
        self.qiye("app", "set-range", "--corpid", self.corpid, "--agentid", str(app["agentid"]),
                  "--depts", str(east), "--json")
        scoped = self.Client(self.corpid, app["secret"])
        self.assertEqual(scoped.user.get(inside)["userid"], inside)
        self.assertEqual(self.errcode_of(scoped.user.get, outside), 60011)
        self.assertEqual(self.errcode_of(scoped.department.create, unique("X"), parent_id=sales), 60011)
        self.assertEqual([d["id"] for d in scoped.department.get()], [east])

    def wait_for_job(self, api, jobid, done):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            result = self.c.get(api, params={"jobid": jobid})
            if result["status"] == done:
                return result
            time.sleep(0.05)
        self.fail(f"job {jobid} did not finish: {result}")

    def upload_csv(self, text):
        f = io.BytesIO(text.encode("utf-8"))
        f.name = "members.csv"
        uploaded = self.c.media.upload("file", f)
        self.assertEqual(uploaded["type"], "file")
        return uploaded["media_id"]

    def test_batch_import_job_and_export(self):
        dept = unique("Imported")
        good = [unique("imp") for _ in range(5)]
        rows = "".join(f"成员{u},{u},{dept}/Team,男\n" for u in good)
        media_id = self.upload_csv("姓名,帐号,部门,性别\n" + rows + "Bad,bad id,X,男\n")
        # wechatpy always sends a callback object; with no URL there is none.
        jobid = self.c.batch.sync_user(None, None, None, media_id)["jobid"]
        result = self.wait_for_job("batch/getresult", jobid, 3)
        self.assertEqual(result["type"], "sync_user")
        self.assertEqual(result["total"], 6)
        failed = [r for r in result["result"] if r["errcode"] != 0]
        self.assertEqual([r["userid"] for r in failed], ["bad id"])
        self.assertEqual(self.c.user.get(good[0])["name"], f"成员{good[0]}")

        unreadable = self.upload_csv("a,b\n1,2\n")
        self.assertEqual(self.errcode_of(self.c.batch.replace_user, None, None, None, unreadable), 40092)
        self.assertEqual(self.errcode_of(self.c.batch.get_result, "nosuchjob"), 40088)

        # An export decrypts with nothing but the key: AES-256-CBC, IV = the
        # key's first 16 bytes, PKCS#7 to 32-byte blocks.
        key = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
        jobid = self.c.post("export/simple_user", data={"encoding_aeskey": key})["jobid"]
        files = self.wait_for_job("export/get_result", jobid, 2)["data_list"]
        raw = urllib.request.urlopen(files[0]["url"]).read()
        self.assertEqual(hashlib.md5(raw).hexdigest(), files[0]["md5"])
        aes_key = base64.b64decode(key + "=")
        plain = Cipher(algorithms.AES(aes_key), modes.CBC(aes_key[:16])).decryptor().update(raw)
        plain = plain[: -plain[-1]]
        exported = {u["userid"] for u in json.loads(plain)["userlist"]}
        self.assertTrue(set(good) <= exported)


if __name__ == "__main__":
    unittest.main(verbosity=2)
