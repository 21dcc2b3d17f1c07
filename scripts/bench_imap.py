"""IMAP bench helper (run by scripts/bench-imap): the same mailbox of N
messages in Continuity and in Dovecot; the same client (imaplib over
STARTTLS) times, on each, login + SELECT, FETCH of the headers a mail app
lists (FLAGS, size, ENVELOPE) for all, FETCH of every whole message, a
SEARCH on a word in the body, and a UID STORE that sets (or clears) \\Flagged on all. Prints each
time and the ratio Continuity / Dovecot (lower is faster)."""
import imaplib
import os
import ssl
import sys
import time

N = int(os.environ.get("MESSAGES", "2000"))
ROUNDS = int(os.environ.get("ROUNDS", "3"))
ours_port, ours_user, ours_pw, dv_port, dv_user, dv_pw = sys.argv[1:7]


def ctx():
    c = ssl.create_default_context()
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c


def connect(port, user, pw):
    m = imaplib.IMAP4("127.0.0.1", int(port))
    m.starttls(ssl_context=ctx())
    m.login(user, pw)
    return m


def message(i):
    body = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 30 + "\r\n") * 4
    word = "needle" if i % 100 == 0 else "hay"
    return (f"From: Sender {i} <s{i}@remote.test>\r\nTo: alice@example.test\r\nSubject: message {i} {word}\r\n"
            f"Date: Wed, 02 Dec 2026 10:00:00 +0000\r\nMessage-ID: <bench-{i}@remote.test>\r\n\r\n{body}{word}\r\n").encode()


def fill(port, user, pw, box):
    m = connect(port, user, pw)
    try:
        m.create(box)
    except imaplib.IMAP4.error:
        pass
    typ, data = m.select(box)
    if int(data[0]) != N:
        if int(data[0]) > 0:
            m.store("1:*", "+FLAGS", "(\\Deleted)")
            m.expunge()
        for i in range(N):
            m.append(box, None, None, message(i))
    m.logout()


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def run(port, user, pw, box, r):
    out = {}
    m = None

    def login():
        nonlocal m
        m = connect(port, user, pw)
        m.select(box)
    out["login+select"] = timed(login)
    out["fetch headers"] = timed(lambda: m.fetch("1:*", "(FLAGS RFC822.SIZE ENVELOPE)"))
    out["fetch bodies"] = timed(lambda: m.fetch("1:*", "(BODY.PEEK[])"))
    hits = []
    out["search body"] = timed(lambda: hits.append(m.search(None, "BODY", "needle")[1][0].split()))
    assert len(hits[0]) == N // 100, len(hits[0])
    # a flag every message lacks (set in even rounds, cleared in odd ones):
    # each STORE changes every message, for both servers
    op = "+FLAGS.SILENT" if r % 2 == 0 else "-FLAGS.SILENT"
    out["store flags"] = timed(lambda: m.uid("STORE", "1:*", op, "(\\Flagged)"))
    m.logout()
    return out


# Dovecot: INBOX is the primary's Maildir; the bench uses its own folder there
fill(dv_port, dv_user, dv_pw, "Bench")
# Continuity has INBOX and Sent: the bench fills INBOX
fill(ours_port, ours_user, ours_pw, "INBOX")
print(f"{N} messages of ~{len(message(1))} bytes, {ROUNDS} rounds, best of each")
best = {}
for r in range(ROUNDS):
    a = run(ours_port, ours_user, ours_pw, "INBOX", r)
    b = run(dv_port, dv_user, dv_pw, "Bench", r)
    for k in a:
        ca, cb = best.get(k, (1e9, 1e9))
        best[k] = (min(ca, a[k]), min(cb, b[k]))
for k, (a, b) in best.items():
    print(f"{k:15s} continuity {a * 1000:8.1f} ms   dovecot {b * 1000:8.1f} ms   ratio {a / b:5.2f}")
