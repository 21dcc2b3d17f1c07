"""Login bench helper (run by scripts/bench-login): bob turns two-step login
on in the webmail (the code computed from the key the page shows) and makes
an app password; then the same imaplib client times STARTTLS + LOGIN +
LOGOUT, ROUNDS times one after the other and ROUNDS times 8 at once, for
alice's password on Continuity, bob's app password on Continuity, and the
same argon2id hash on Dovecot.

    python3 bench_login.py OURS_IMAP OURS_WEB PW DV_IMAP DV_USER
"""
import base64
import concurrent.futures
import hmac
import html
import http.client
import imaplib
import os
import re
import ssl
import statistics
import struct
import sys
import time
import urllib.parse

ROUNDS = int(os.environ.get("ROUNDS", "40"))
(ours, web, pw, dv, dv_user) = sys.argv[1:6]


def ctx():
    c = ssl.create_default_context()
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c


def totp(secret, at):
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    d = hmac.new(key, struct.pack(">Q", int(at) // 30), "sha1").digest()
    o = d[-1] & 15
    return "%06d" % ((struct.unpack(">I", d[o:o + 4])[0] & 0x7FFFFFFF) % 1_000_000)


class Web:
    def __init__(self):
        self.cookie = None

    def req(self, method, path, fields=None):
        c = http.client.HTTPConnection("127.0.0.1", int(web), timeout=30)
        h = {"Origin": f"http://127.0.0.1:{web}"}
        body = None
        if fields is not None:
            h["Content-Type"] = "application/x-www-form-urlencoded"
            body = urllib.parse.urlencode(fields)
        if self.cookie:
            h["Cookie"] = self.cookie
        c.request(method, path, body, h)
        r = c.getresponse()
        return r, r.read().decode("utf-8", "replace")


def app_password():
    w = Web()
    r, _ = w.req("POST", "/auth/login", {"address": "bob@example.test", "password": pw})
    w.cookie = r.getheader("Set-Cookie").split(";")[0]
    _, page = w.req("GET", "/settings")
    csrf = html.unescape(page.split('name="csrf" value="', 1)[1].split('"', 1)[0])
    w.req("POST", "/settings/security/totp/begin", {"csrf": csrf})
    _, page = w.req("GET", "/settings?setup=1")
    uri = html.unescape(re.search(r'data-uri="([^"]+)"', page).group(1))
    secret = urllib.parse.parse_qs(urllib.parse.urlparse(uri).query)["secret"][0]
    r, _ = w.req("POST", "/settings/security/totp/confirm", {"csrf": csrf, "code": totp(secret, time.time())})
    assert "done=on" in r.getheader("Location"), r.getheader("Location")
    r, _ = w.req("POST", "/settings/security/app-passwords/new", {"csrf": csrf, "name": "bench"})
    _, page = w.req("GET", r.getheader("Location").split("#")[0])
    return re.search(r'id="app-password">([a-z2-9-]+)<', page).group(1)


def once(port, user, password):
    t0 = time.perf_counter()
    m = imaplib.IMAP4("127.0.0.1", int(port))
    m.starttls(ssl_context=ctx())
    m.login(user, password)
    m.logout()
    return (time.perf_counter() - t0) * 1000


def run(port, user, password, parallel):
    if parallel == 1:
        return [once(port, user, password) for _ in range(ROUNDS)]
    with concurrent.futures.ThreadPoolExecutor(parallel) as ex:
        return list(ex.map(lambda _: once(port, user, password), range(ROUNDS)))


def main():
    app = app_password()
    cases = [
        ("Continuity, account password", ours, "alice@example.test", pw),
        ("Continuity, app password", ours, "bob@example.test", app),
        ("Dovecot, same argon2id hash", dv, dv_user, pw),
    ]
    for parallel in (1, 8):
        print(f"== STARTTLS + LOGIN + LOGOUT, {ROUNDS} logins, {parallel} at a time (median ms; per second)")
        res = {}
        for name, port, user, password in cases:
            once(port, user, password)  # warm
            t0 = time.perf_counter()
            times = run(port, user, password, parallel)
            wall = time.perf_counter() - t0
            res[name] = statistics.median(times)
            print(f"  {name:32} {res[name]:8.1f} ms   {ROUNDS / wall:7.1f} logins/s")
        dvm = res["Dovecot, same argon2id hash"]
        for name in list(res)[:2]:
            print(f"  ratio {name} / Dovecot: {res[name] / dvm:.2f} (lower is faster)")


main()
