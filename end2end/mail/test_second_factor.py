"""Issue 21, item 3, with real clients against the real binary: once a user
turns on two-step login in the webmail, mail apps need an app password.

- the webmail: two-step login turned on from Settings (the code computed
  from the key the page shows, RFC 6238), then a login takes a code;
- IMAP over TLS (imaplib) and submission over TLS (smtplib): the account's
  own password is refused, with words that say to make an app password
  (IMAP: AUTHENTICATIONFAILED; submission: 534 5.7.9, as the big providers
  answer); the app password made in Settings opens both; revoked, it opens
  nothing; its last use is shown in Settings;
- the operator's `user reset-second-factor` (a lost phone): the password
  alone opens the webmail and IMAP again.
"""
import base64
import hmac
import html
import imaplib
import os
import re
import smtplib
import socket
import struct
import subprocess
import time
import urllib.parse

from conftest import BIN, Continuity, eventually
from test_compose import Webmail
from test_imap import unverified

PASSWORD = "copper-Meadow-finch-58"
BASE = int(os.environ.get("CONTINUITY_2FA_PORT_BASE", "2720"))
SMTP, WEB, IMAPS, SUBMISSIONS = BASE, BASE + 1, BASE + 2, BASE + 3


def totp(secret_b32, at):
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    digest = hmac.new(key, struct.pack(">Q", int(at) // 30), "sha1").digest()
    o = digest[-1] & 15
    return "%06d" % ((struct.unpack(">I", digest[o:o + 4])[0] & 0x7FFFFFFF) % 1_000_000)


def csrf_of(page):
    return html.unescape(page.split('name="csrf" value="', 1)[1].split('"', 1)[0])


def imap_login(password):
    m = imaplib.IMAP4_SSL("127.0.0.1", IMAPS, ssl_context=unverified())
    try:
        m.login("alice@example.test", password)
    except imaplib.IMAP4.error as e:
        m.shutdown()
        return str(e)
    typ, data = m.select("INBOX")
    m.logout()
    return typ


def submission_login(password):
    with smtplib.SMTP_SSL("127.0.0.1", SUBMISSIONS, context=unverified(), timeout=10) as s:
        try:
            s.login("alice@example.test", password)
        except smtplib.SMTPAuthenticationError as e:
            return e.smtp_code, e.smtp_error.decode()
        return 235, "ok"


def test_mail_apps_need_an_app_password_with_two_step_login(postfix):
    c = Continuity(smtp_port=SMTP)
    c.env.update(
        CONTINUITY_WEB_LISTEN=f"127.0.0.1:{WEB}",
        CONTINUITY_SMTP_SELF_SIGNED="true",
        CONTINUITY_IMAP_LISTEN="127.0.0.1:0",
        CONTINUITY_IMAP_TLS_LISTEN=f"127.0.0.1:{IMAPS}",
        CONTINUITY_SUBMISSION_LISTEN="127.0.0.1:0",
        CONTINUITY_SUBMISSION_TLS_LISTEN=f"127.0.0.1:{SUBMISSIONS}",
    )
    subprocess.run([BIN, "user", "set-password", "alice@example.test"], input=PASSWORD + "\n",
                   env=c.env, text=True, check=True, capture_output=True)
    c.start()
    try:
        for p in (IMAPS, SUBMISSIONS):
            eventually(f"port {p}", lambda: socket.create_connection(("127.0.0.1", p), timeout=1).close() or True)
        # before: the password opens both
        assert imap_login(PASSWORD) == "OK"
        assert submission_login(PASSWORD)[0] == 235

        w = Webmail(WEB)
        w.login("alice@example.test", PASSWORD)
        r, _ = w.request("POST", "/settings/security/totp/begin", {"csrf": w.csrf})
        assert r.status == 303 and r.getheader("Location") == "/settings?setup=1#security"
        _, page = w.request("GET", "/settings?setup=1")
        uri = html.unescape(re.search(r'data-uri="([^"]+)"', page).group(1))
        secret = urllib.parse.parse_qs(urllib.parse.urlparse(uri).query)["secret"][0]
        enrolled = time.time()
        r, _ = w.request("POST", "/settings/security/totp/confirm",
                         {"csrf": w.csrf, "code": totp(secret, enrolled)})
        assert r.getheader("Location").startswith("/settings?done=on&reveal="), r.getheader("Location")

        # the webmail now asks for a code after the password
        other = Webmail(WEB)
        r, _ = other.request("POST", "/auth/login", {"address": "alice@example.test", "password": PASSWORD})
        assert r.getheader("Location") == "/login/code?next=%2Fmail%2Finbox", r.getheader("Location")
        other.cookie = r.getheader("Set-Cookie").split(";")[0]
        assert other.cookie.startswith("continuity-2fa="), other.cookie
        r, _ = other.request("POST", "/auth/code", {"code": totp(secret, enrolled + 30)})
        assert r.getheader("Location") == "/mail/inbox", r.getheader("Location")

        # mail apps: the password is refused, saying what to do instead
        said = imap_login(PASSWORD)
        assert "AUTHENTICATIONFAILED" in said and "app password" in said, said
        code, said = submission_login(PASSWORD)
        assert code == 534 and "5.7.9" in said and "Application-specific password required" in said, said
        # a wrong password is just wrong
        assert "Invalid credentials" in imap_login("not-the-password-at-all")
        assert submission_login("not-the-password-at-all")[0] == 535

        r, _ = w.request("POST", "/settings/security/app-passwords/new",
                         {"csrf": w.csrf, "name": "Thunderbird"})
        to = r.getheader("Location")
        assert to.startswith("/settings?done=app&reveal="), to
        _, page = w.request("GET", to.split("#")[0])
        app_password = re.search(r'id="app-password">([a-z2-9-]+)<', page).group(1)
        assert imap_login(app_password) == "OK"
        assert submission_login(app_password)[0] == 235
        _, page = w.request("GET", "/settings")
        row = re.search(r'<tr data-app-password="Thunderbird">.*?</tr>', page, re.S).group(0)
        assert "127.0.0.1" in row and "SMTP" in row, row

        # revoked: nothing opens with it
        revoke = re.search(r'action="(/settings/security/app-passwords/\d+/revoke)"', page).group(1)
        r, _ = w.request("POST", revoke, {"csrf": csrf_of(page)})
        assert r.getheader("Location") == "/settings?done=revoked#security"
        assert "Invalid credentials" in imap_login(app_password)
        assert submission_login(app_password)[0] == 535

        # a lost phone, no recovery code left: the operator turns it off
        r = subprocess.run([BIN, "user", "reset-second-factor", "alice@example.test"],
                           env=c.env, capture_output=True, text=True)
        assert r.returncode == 0 and "two-step login turned off" in r.stdout, r.stdout + r.stderr
        assert imap_login(PASSWORD) == "OK"
        r, _ = other.request("POST", "/auth/login", {"address": "alice@example.test", "password": PASSWORD})
        assert r.getheader("Location") == "/mail/inbox", r.getheader("Location")
        r = subprocess.run([BIN, "user", "reset-second-factor", "alice@example.test"],
                           env=c.env, capture_output=True, text=True)
        assert r.returncode == 0 and "had no two-step login" in r.stdout, r.stdout
    finally:
        c.stop()
