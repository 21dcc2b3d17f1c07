"""Sending from the webmail against real peers: a reply to an outside
sender goes out through the Postfix smarthost (bytes and threading headers
checked there), a message to a colleague reaches their primary's Maildir,
and what is sent while the primary is down arrives there — and in the
sender's own mailbox on her primary — exactly once after it is back."""
import email
import http.client
import os
import subprocess
import time
import urllib.parse

from conftest import BIN, Continuity, eventually, files_containing, maildir, peers, settled, sink_dir

PASSWORD = "amber-Lighthouse-wren-41"


class Webmail:
    def __init__(self, port):
        self.port = port
        self.cookie = None
        self.csrf = None

    def request(self, method, path, fields=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        headers = {"Origin": f"http://127.0.0.1:{self.port}", "Accept": "text/html"}
        body = None
        if fields is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            body = urllib.parse.urlencode(fields)
        if self.cookie:
            headers["Cookie"] = self.cookie
        conn.request(method, path, body, headers)
        r = conn.getresponse()
        data = r.read().decode("utf-8", "replace")
        return r, data

    def login(self, address, password):
        r, _ = self.request("POST", "/auth/login", {"address": address, "password": password})
        assert r.status == 303 and r.getheader("Location") == "/mail/inbox", r.getheader("Location")
        self.cookie = r.getheader("Set-Cookie").split(";")[0]
        _, page = self.request("GET", "/mail/compose")
        self.csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]

    def send(self, **fields):
        r, _ = self.request("POST", "/mail/send", {"csrf": self.csrf, "action": "send", **fields})
        assert r.status == 303, r.status
        return r.getheader("Location")


def test_webmail_mail_reaches_the_smarthost_and_the_primary_once(postfix):
    web = int(os.environ.get("CONTINUITY_COMPOSE_WEB_PORT", "2634"))
    c = Continuity(smtp_port=int(os.environ.get("CONTINUITY_COMPOSE_SMTP_PORT", "2633")),
                   smarthost="127.0.0.1:2527")
    c.env["CONTINUITY_WEB_LISTEN"] = f"127.0.0.1:{web}"
    subprocess.run([BIN, "user", "set-password", "alice@example.test"], input=PASSWORD + "\n",
                   env=c.env, text=True, check=True, capture_output=True)
    c.start()
    try:
        # an outside message to alice, delivered to her primary as usual
        import smtplib
        with smtplib.SMTP("127.0.0.1", c.smtp_port, timeout=10) as s:
            s.sendmail("xavier@remote.test", ["alice@example.test"],
                       "From: Xavier <xavier@remote.test>\r\nTo: alice@example.test\r\n"
                       "Subject: Budget 2027\r\nMessage-ID: <budget@remote.test>\r\n\r\nCan we meet?\r\n")
        w = Webmail(web)
        w.login("alice@example.test", PASSWORD)
        _, inbox = w.request("GET", "/mail/inbox")
        entry = inbox.split('href="/mail/m/', 1)[1].split('"', 1)[0]
        run = str(int(time.time()))

        # reply: through the smarthost, threaded
        loc = w.send(**{"from": "alice@example.test", "to": "xavier@remote.test",
                        "subject": f"Re: Budget 2027 {run}", "body": "Yes, Monday.\n",
                        "mode": "reply", "reference": entry})
        assert loc == "/mail/sent?sent=1", loc
        got = eventually("the reply at the smarthost",
                         lambda: files_containing(sink_dir(), f"Re: Budget 2027 {run}"), timeout=30)
        with open(got[0], "rb") as f:
            m = email.message_from_bytes(f.read())
        assert m["In-Reply-To"] == "<budget@remote.test>"
        assert "<budget@remote.test>" in m["References"]
        assert m["From"].endswith("<alice@example.test>") or m["From"] == "alice@example.test"
        assert "Yes, Monday." in m.get_payload(decode=True).decode()

        # to a colleague while their primary is down: held, then exactly once
        peers("outage")
        try:
            loc = w.send(**{"from": "alice@example.test", "to": "bob@example.test",
                            "subject": f"Held note {run}", "body": "Sent during the outage.\n"})
            assert loc == "/mail/sent?sent=1"
            eventually("held", lambda: c.query(
                "SELECT COUNT(*) FROM deliveries d JOIN messages m ON m.id = d.message_id "
                "WHERE m.subject = ? AND d.status IN ('queued', 'delayed')", f"Held note {run}")[0][0] == 2)
        finally:
            peers("recover")
        eventually("delivered to bob's primary",
                   lambda: files_containing(maildir("bob"), f"Held note {run}"), timeout=60)
        eventually("the sender's own copy at her primary",
                   lambda: files_containing(maildir("alice"), f"Held note {run}"), timeout=60)
        settled(c)
        assert len(files_containing(maildir("bob"), f"Held note {run}")) == 1
        # the sender's own copy: at her own primary too, exactly once
        assert len(files_containing(maildir("alice"), f"Held note {run}")) == 1
        assert len(files_containing(maildir("alice"), f"Re: Budget 2027 {run}")) == 1
        # and both are in alice's Sent
        _, sent = w.request("GET", "/mail/sent")
        assert f"Held note {run}" in sent and f"Re: Budget 2027 {run}" in sent
    finally:
        c.stop()
