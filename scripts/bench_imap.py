"""Mailbox-scale bench helper (run by scripts/bench-imap): the same mailbox
of N generated messages in Continuity and in Dovecot, the same client
(imaplib over STARTTLS) on each, timing what a mail app waits for:
connect + LOGIN, SELECT, FETCH of the newest 50 (FLAGS, size, ENVELOPE),
opening one message (BODY.PEEK[]), NOOP, a flag STORE, SEARCH FROM /
SUBJECT / TEXT on the planted sender and words. Each operation once per
round on different messages (nothing asked twice in a round); the first
round is "cold" (Continuity: the first SELECT after the import; Dovecot: its
first look at the Maildir, building its index), the best of the others
"warm". Then, on Continuity only (Dovecot has no webmail), the webmail's
pages as a browser asks for them, logged in: the inbox and its next pages,
search results, messages. Prints each figure and the ratio Continuity /
Dovecot (lower is faster).

    python3 bench_imap.py OURS_IMAP OURS_WEB USER PW DV_IMAP DV_USER DV_PW DV_BOX
"""
import imaplib
import os
import re
import socket
import ssl
import sys
import time
import urllib.parse

ROUNDS = int(os.environ.get("ROUNDS", "5"))
PAGES = int(os.environ.get("PAGES", "20"))
(ours_port, web_port, user, pw, dv_port, dv_user, dv_pw, dv_box) = sys.argv[1:9]
SENDER = os.environ.get("PLANTED_SENDER", "q.zorglub@planted.test")
SUBJECT = os.environ.get("PLANTED_SUBJECT", "xylophonique")
BODY = os.environ.get("PLANTED_BODY", "zanzibarique")


def ctx():
    c = ssl.create_default_context()
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c


def ms(fn):
    t0 = time.perf_counter()
    r = fn()
    return (time.perf_counter() - t0) * 1000, r


def imap_round(port, u, p, box, r):
    out = {}
    m = imaplib.IMAP4("127.0.0.1", int(port))
    m.starttls(ssl_context=ctx())
    out["connect+LOGIN"], _ = ms(lambda: m.login(u, p))
    m.enable("CONDSTORE")
    out["SELECT"], res = ms(lambda: m.select(box))
    n = int(res[1][0])
    highest = int(m.untagged_responses.pop("HIGHESTMODSEQ")[0])
    top = n - 50 * r
    out["FETCH newest 50"], res = ms(lambda: m.fetch(f"{top - 49}:{top}", "(FLAGS RFC822.SIZE ENVELOPE)"))
    assert len([x for x in res[1] if isinstance(x, tuple) or b"FETCH" in x]) >= 50, res[1][:2]
    one = str(n - 1000 - 997 * r)
    out["open a message"], res = ms(lambda: m.fetch(one, "(BODY.PEEK[])"))
    assert res[1][0][1].startswith(b"From:"), res[1][0][:1]
    out["NOOP"], _ = ms(m.noop)
    op = "+FLAGS" if r % 2 == 0 else "-FLAGS"
    out["STORE a flag"], _ = ms(lambda: m.store(str(n - 3 - r), op, "(\\Flagged)"))
    # what a CONDSTORE mail app asks when it comes back: what changed since
    out["FETCH CHANGEDSINCE"], res = ms(lambda: m.fetch("1:*", f"(FLAGS) (CHANGEDSINCE {highest})"))
    assert len(res[1]) >= 1 and b"MODSEQ" in res[1][0], res[1][:2]
    msg = (f"From: bench@remote.test\r\nTo: {u}\r\nSubject: appended {r} {time.time()}\r\n"
           f"Message-ID: <append-{r}-{time.time()}@bench.test>\r\n\r\n" + "a line of text\r\n" * 300).encode()
    out["APPEND 5 KB"], res = ms(lambda: m.append(box, None, None, msg))
    assert res[0] == "OK", res
    # each search once per round, a different one each round
    which = [("FROM", SENDER), ("SUBJECT", SUBJECT), ("TEXT", BODY)]
    for key, word in which:
        q = word if r == 0 else word[: max(4, len(word) - r)]
        t, res = ms(lambda: m.search(None, key, q))
        out[f"SEARCH {key}"] = t
        if r == 0:
            out[f"hits {key}"] = len(res[1][0].split())
    m.logout()
    return out, n


def http(method, path, body=None, cookie=None):
    s = socket.create_connection(("127.0.0.1", int(web_port)))
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/html\r\nConnection: close\r\n"
    data = b""
    if cookie:
        head += f"Cookie: {cookie}\r\n"
    if body is not None:
        data = urllib.parse.urlencode(body).encode()
        head += f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(data)}\r\n"
    t0 = time.perf_counter()
    s.sendall(head.encode() + b"\r\n" + data)
    raw = b""
    while chunk := s.recv(1 << 16):
        raw += chunk
    t = (time.perf_counter() - t0) * 1000
    s.close()
    status = int(raw.split(b" ", 2)[1])
    headers, _, page = raw.partition(b"\r\n\r\n")
    return t, status, headers.decode(errors="replace"), page.decode(errors="replace")


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, round((len(v) - 1) * p))]


def webmail(uids):
    _, status, headers, _ = http("POST", "/auth/login", {"address": user, "password": pw})
    cookie = re.search(r"(?im)^set-cookie:\s*(continuity=[^;]+)", headers)
    assert status == 303 and cookie, (status, headers)
    cookie = cookie.group(1)
    times = {"inbox page": [], "next inbox page": [], "search page": [], "message page": []}
    cursor = None
    for i in range(PAGES):
        t, st, _, page = http("GET", "/mail/inbox", cookie=cookie)
        assert st == 200, st
        times["inbox page"].append(t)
        nxt = re.search(r'href="(/mail/inbox\?before=[^"]+)"', page)
        path = nxt.group(1).replace("&amp;", "&") if i == 0 or cursor is None else cursor
        t, st, _, page = http("GET", path, cookie=cookie)
        assert st == 200, st
        times["next inbox page"].append(t)
        more = re.search(r'href="(/mail/inbox\?before=[^"]+)"', page)
        cursor = more.group(1).replace("&amp;", "&") if more else None
        words = [SUBJECT, BODY, "ra", "mon tel", SENDER.split("@")[0]]
        t, st, _, _ = http("GET", "/mail/search?q=" + urllib.parse.quote(words[i % len(words)] + ("" if i < 5 else str(i % 3))), cookie=cookie)
        assert st == 200, st
        times["search page"].append(t)
        t, st, _, page = http("GET", f"/mail/m/{uids[i * 37 % len(uids)]}", cookie=cookie)
        assert st == 200, st
        times["message page"].append(t)
    return times


def main():
    rows = {}
    hits = {}
    for r in range(ROUNDS):
        a, n_ours = imap_round(ours_port, user, pw, "INBOX", r)
        b, n_dv = imap_round(dv_port, dv_user, dv_pw, dv_box, r)
        assert n_ours == n_dv, (n_ours, n_dv)
        for k in a:
            if k.startswith("hits"):
                hits[k] = (a[k], b[k])
                continue
            rows.setdefault(k, []).append((a[k], b[k]))
    print(f"IMAP, {n_ours} messages in each, {ROUNDS} rounds (cold = the first; warm = best of the others)")
    print(f"{'':18s} {'continuity':>22s} {'dovecot':>22s}   ratio (warm)")
    for k, v in rows.items():
        (ca, cb), rest = v[0], v[1:] or v
        wa, wb = min(x[0] for x in rest), min(x[1] for x in rest)
        print(f"{k:18s} cold {ca:8.1f} warm {wa:7.1f} ms  cold {cb:8.1f} warm {wb:7.1f} ms   {wa / max(wb, 0.001):6.2f}")
    for k, (a, b) in hits.items():
        print(f"{k:18s} continuity {a} dovecot {b}")
    m = imaplib.IMAP4("127.0.0.1", int(ours_port))
    m.starttls(ssl_context=ctx())
    m.login(user, pw)
    m.select("INBOX", readonly=True)
    uids = m.uid("SEARCH", None, "ALL")[1][0].split()[::97]
    m.logout()
    times = webmail([u.decode() for u in uids])
    print(f"webmail, {PAGES} of each page, whole HTTP round trip (continuity only)")
    for k, v in times.items():
        print(f"{k:18s} p50 {pct(v, .5):7.1f} ms   p95 {pct(v, .95):7.1f} ms")


main()
