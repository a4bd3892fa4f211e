"""WeCom compatibility through a real SDK: wechatpy 1.8.18 against `qiye serve`.

Usage: python test_wechatpy.py PATH_TO_QIYE_BINARY
Starts qiye on a fresh data directory and a free loopback port, drives it
with wechatpy.enterprise.WeChatClient (base URL changed, nothing else), and
exits non-zero on the first failed check.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import unittest

from wechatpy.enterprise import WeChatClient
from wechatpy.exceptions import APILimitedException, WeChatClientException

QIYE = os.path.abspath(sys.argv.pop(1)) if len(sys.argv) > 1 else "qiye"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def client_class(base):
    class QiyeClient(WeChatClient):
        API_BASE_URL = base + "/cgi-bin/"

        def fetch_access_token(self):
            return self._fetch_access_token(
                url=self.API_BASE_URL + "gettoken",
                params={"corpid": self.corp_id, "corpsecret": self.secret},
            )

    return QiyeClient


class WechatpyAgainstQiye(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.data = tempfile.TemporaryDirectory()
        env = dict(os.environ, QIYE_DATA_DIR=cls.data.name, QIYE_TOKEN_CACHE_MS="0", RUST_LOG="warn")
        env.pop("QIYE_DATABASE_URL", None)
        cls.env = env
        port = free_port()
        cls.server = subprocess.Popen(
            [QIYE, "serve", "--listen", f"127.0.0.1:{port}", "--no-metrics"],
            env=env, cwd=cls.data.name, stdout=subprocess.PIPE, text=True,
        )
        creds = {}
        for line in cls.server.stdout:
            parts = line.split()
            if line.strip().startswith("corpid"):
                creds["corpid"] = parts[1]
            if line.strip().startswith("contacts secret"):
                creds["secret"] = parts[2]
            if line.startswith("qiye: serving"):
                break
        cls.corpid, cls.contact_secret = creds["corpid"], creds["secret"]
        while True:  # the listener is bound before "serving" is printed
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                continue
        cls.base = f"http://127.0.0.1:{port}"
        app = cls.qiye("app", "create", "--corpid", cls.corpid, "--name", "OA", "--all-visible", "--json")
        cls.agentid, cls.app_secret = app["agentid"], app["secret"]
        cls.Client = client_class(cls.base)

    @classmethod
    def tearDownClass(cls):
        cls.server.kill()
        cls.server.wait()
        cls.server.stdout.close()
        cls.data.cleanup()

    @classmethod
    def qiye(cls, *args):
        out = subprocess.run([QIYE, *args], env=cls.env, cwd=cls.data.name, capture_output=True, text=True, check=True)
        return json.loads(out.stdout)

    def test_token_and_agent_reads(self):
        client = self.Client(self.corpid, self.app_secret)
        token = client.access_token
        self.assertTrue(token)
        self.assertEqual(client.fetch_access_token()["access_token"], token, "same token while valid")
        agent = client.agent.get(self.agentid)
        self.assertEqual(agent["agentid"], self.agentid)
        self.assertEqual(agent["name"], "OA")
        self.assertEqual(agent["allow_partys"]["partyid"], [1])
        agents = client.agent.list()
        self.assertEqual([a["agentid"] for a in agents], [self.agentid])

    def test_agent_set_with_legacy_fields_and_no_content_type(self):
        app = self.qiye("app", "create", "--corpid", self.corpid, "--name", "Settings", "--json")
        client = self.Client(self.corpid, app["secret"])
        result = client.agent.set(app["agentid"], name="OA 审批", description="Approvals for all", report_location_flag=1)
        self.assertEqual(result["errcode"], 0)
        agent = client.agent.get(app["agentid"])
        self.assertEqual(agent["name"], "OA 审批")
        self.assertEqual(agent["report_location_flag"], 1)
        self.assertEqual(agent["isreportenter"], 1)
        with self.assertRaises(WeChatClientException) as refused:
            client.agent.set(app["agentid"], description="abc")
        self.assertEqual(refused.exception.errcode, 45004)

    def test_wrong_secret_and_forbidden_api(self):
        with self.assertRaises(WeChatClientException) as wrong:
            self.Client(self.corpid, "not-the-secret").access_token
        self.assertEqual(wrong.exception.errcode, 40001)
        contacts = self.Client(self.corpid, self.contact_secret)
        with self.assertRaises(WeChatClientException) as forbidden:
            contacts.agent.get(self.agentid)
        self.assertEqual(forbidden.exception.errcode, 48002)

    def test_invalid_token_is_refetched_once(self):
        client = self.Client(self.corpid, self.app_secret)
        client.session.set(client.access_token_key, "revoked-or-bogus")
        client.expires_at = None
        # 40014 makes wechatpy fetch a fresh token and retry the call.
        self.assertEqual(client.agent.get(self.agentid)["agentid"], self.agentid)

    def test_rate_limit_raises_api_limited(self):
        corp = self.qiye("corp", "create", "--name", "Limited", "--json")
        app = self.qiye("app", "create", "--corpid", corp["corpid"], "--name", "Bot", "--json")
        self.qiye("corp", "set-limits", "--corpid", corp["corpid"], "--app-per-minute", "1", "--app-per-hour", "10", "--json")
        client = self.Client(corp["corpid"], app["secret"])
        client.agent.get(app["agentid"])
        with self.assertRaises(APILimitedException) as limited:
            client.agent.get(app["agentid"])
        self.assertEqual(limited.exception.errcode, 45009)


if __name__ == "__main__":
    unittest.main(verbosity=2)
