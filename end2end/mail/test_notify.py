"""Issue 21, item 1, against real peers: a Postfix primary fails and comes
back; each covered user's backup address receives one notice of the start
and one of the end (through the normal outbound path, here the smarthost
sink), and the SMS gateway (a small HTTP receiver here, its signature
checked) one request per user and event; the primary failing again within
the quiet period sends nothing more; a user the Continuity Service does not
cover gets nothing; a backup address in the failing domain is never used.
"""
import hashlib
import hmac
import http.server
import json
import os
import sqlite3
import threading
import time

from conftest import Continuity, eventually, files_containing, peers, sink_dir

BASE = int(os.environ.get("CONTINUITY_NOTIFY_PORT_BASE", "2730"))
SMTP, SMS = BASE, BASE + 1
KEY = "notify-test-signing-key"


class Gateway(http.server.BaseHTTPRequestHandler):
    got = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        t, v1 = self.headers["Continuity-Signature"].split(",v1=")
        want = hmac.new(KEY.encode(), f"{t[2:]}.{body}".encode(), hashlib.sha256).hexdigest()
        Gateway.got.append({"body": json.loads(body), "signed": hmac.compare_digest(v1, want),
                            "id": self.headers["Continuity-Notice-Id"]})
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def state(c):
    return c.query("SELECT state FROM domains WHERE name = 'example.test'")[0][0]


def test_users_are_told_when_the_primary_fails_and_comes_back(postfix):
    run = str(int(time.time()))
    gw = http.server.ThreadingHTTPServer(("127.0.0.1", SMS), Gateway)
    threading.Thread(target=gw.serve_forever, daemon=True).start()
    c = Continuity(smtp_port=SMTP, smarthost="127.0.0.1:2527")
    key = os.path.join(c.dir, "sms.key")
    with open(key, "w") as f:
        f.write(KEY + "\n")
    c.env.update(
        CONTINUITY_NOTIFY_SMS_URL=f"http://127.0.0.1:{SMS}/send",
        CONTINUITY_NOTIFY_SMS_SECRET_FILE=key,
    )
    alice_home, carol_home = f"alice.home.{run}@remote.test", f"carol.home.{run}@remote.test"
    c.cli("user", "contacts", "alice@example.test", "--alt-email", alice_home, "--mobile", "+33 6 11 11 11 11")
    # bob's backup address is another mailbox of the failing domain
    c.cli("user", "contacts", "bob@example.test", "--alt-email", "erin@example.test", "--mobile", "+33622222222")
    c.cli("user", "contacts", "carol@example.test", "--alt-email", carol_home, "--mobile", "+33633333333")
    # the Continuity Service covers alice and bob only
    con = sqlite3.connect(os.path.join(c.dir, "continuity.db"))
    with con:
        con.execute("UPDATE domains SET continuity_scope = 'selected' WHERE name = 'example.test'")
        con.execute("INSERT INTO continuity_users (domain_id, user_id, added_at) "
                    "SELECT u.domain_id, u.id, 0 FROM users u WHERE u.address IN "
                    "('alice@example.test', 'bob@example.test')")
    con.close()
    c.start()
    try:
        peers("outage")
        try:
            eventually("outage seen", lambda: state(c) == "outage", timeout=60)
            got = eventually("the start notice at alice's backup address",
                             lambda: files_containing(sink_dir(), alice_home), timeout=60)
            text = open(got[0], "rb").read().decode("utf-8", "replace")
            assert "example.test mail is down" in text and "/login" in text, text
            eventually("two SMS (alice, bob)", lambda: len(Gateway.got) == 2, timeout=30)
        finally:
            peers("recover")
        eventually("back to normal", lambda: state(c) == "normal", timeout=90)
        eventually("the end notice", lambda: len(files_containing(sink_dir(), alice_home)) == 2, timeout=60)
        eventually("two more SMS", lambda: len(Gateway.got) == 4, timeout=30)
        assert all(g["signed"] for g in Gateway.got), Gateway.got
        to = sorted(g["body"]["to"] for g in Gateway.got)
        assert to == ["+33611111111", "+33611111111", "+33622222222", "+33622222222"], to
        assert len({g["id"] for g in Gateway.got}) == 4, "one request per user and event"

        # the primary fails again at once: within the quiet period, nobody is told again
        peers("outage")
        try:
            eventually("outage again", lambda: state(c) == "outage", timeout=60)
            eventually("the second start recorded", lambda: c.query(
                "SELECT COUNT(*) FROM notice_events WHERE done_at IS NOT NULL")[0][0] == 3, timeout=30)
        finally:
            peers("recover")
        eventually("normal again", lambda: state(c) == "normal", timeout=90)
        eventually("the second end recorded", lambda: c.query(
            "SELECT COUNT(*) FROM notice_events WHERE done_at IS NOT NULL")[0][0] == 4, timeout=30)
        time.sleep(2)
        assert len(files_containing(sink_dir(), alice_home)) == 2
        assert len(Gateway.got) == 4
        quiet = c.query("SELECT COUNT(*) FROM user_notices WHERE detail = 'quiet'")[0][0]
        assert quiet == 6, quiet  # alice: mail and SMS, bob: SMS; start and end

        # carol is not covered; bob's backup address was never used
        assert files_containing(sink_dir(), carol_home) == []
        assert c.query("SELECT COUNT(*) FROM deliveries WHERE rcpt = 'erin@example.test'")[0][0] == 0
        skipped = c.query("SELECT COUNT(*) FROM user_notices WHERE detail = 'failing-domain'")[0][0]
        assert skipped == 4, skipped  # each start and each end, recorded as not sent
    finally:
        c.stop()
        gw.shutdown()
