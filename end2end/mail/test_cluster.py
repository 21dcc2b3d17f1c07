"""Two nodes on one PostgreSQL, with the real Postfix primary.

- Chaos: nodes A and B share a database; while the primary is down,
  senders deliver through both (a sender whose node is gone tries the
  other, as an MTA does with two MX hosts); A is killed with SIGKILL in the
  middle of it and restarted; the primary comes back and both flush; B is
  killed in the middle of the flush and restarted. Every message that got
  a 250 is in the primary's Maildir exactly once (a second copy only where
  RFC 1047 leaves no choice: named below); continuity became active once;
  the monitor's lead moved to B when A died and B probed within seconds; a
  webmail session opened on A works on B; IMAP IDLE on B sees mail that
  arrived on A; the nodes tell that B runs with other shared settings.
- Database faults: PostgreSQL stopped for 10 s under SMTP load: the node
  answers 4xx (the sender keeps the message) and never 250 for what it
  could not commit, and takes mail again by itself once it is back."""
import email
import os
import smtplib
import socket
import shutil
import subprocess
import threading
import time
import uuid

import pytest

from conftest import (BIN, ROOT, Continuity, eventually, maildir, peers, pg_ctl, pg_database,
                      scratch, settled, wait_port)
from test_compose import Webmail

USERS = ["alice", "bob", "carol", "erin"]
PG_PORT = int(os.environ.get("CONTINUITY_MAIL_PG_PORT", "55438"))
BASE = int(os.environ.get("CONTINUITY_CLUSTER_PORT_BASE", "2690"))
PASSWORD = "tidal-Meadow-lantern-58"


@pytest.fixture(scope="module")
def pg():
    """A private PostgreSQL cluster for this module (scripts/pg), removed
    at the end: its admin URL."""
    admin = pg_ctl(PG_PORT, "start")
    yield admin
    if os.environ.get("KEEP_SCRATCH"):
        # the server's log (deadlocks are told there, with both statements)
        shutil.copy(os.path.join(ROOT, "target", "pg", str(PG_PORT), "pg.log"),
                    scratch("continuity-pg-log-"))
    pg_ctl(PG_PORT, "reset")


def node(name, port, url, setup):
    c = Continuity(smtp_port=port, store_url=url, node_id=name, setup=setup)
    c.web_port, c.imap_port = port + 1, port + 2
    c.env.update(
        CONTINUITY_WEB_LISTEN=f"127.0.0.1:{c.web_port}",
        CONTINUITY_IMAP_LISTEN=f"127.0.0.1:{c.imap_port}",
        CONTINUITY_IMAP_ALLOW_PLAINTEXT_AUTH="true",
    )
    return c


def start(c):
    c.start()
    wait_port(c.imap_port)
    wait_port(c.web_port)


def maildir_ids(run):
    """Message-ID -> copies in the primary's Maildirs (new and cur)."""
    counts = {}
    for u in USERS:
        base = os.path.dirname(maildir(u))
        for sub in ("new", "cur"):
            d = os.path.join(base, sub)
            if not os.path.isdir(d):
                continue
            for name in os.listdir(d):
                try:
                    with open(os.path.join(d, name), "rb") as f:
                        mid = email.message_from_bytes(f.read()).get("Message-ID", "")
                except FileNotFoundError:
                    continue
                if run in mid:
                    counts[mid] = counts.get(mid, 0) + 1
    return counts


class Senders:
    """One thread per node sending at a steady rate; a message a node could
    not take (connection lost, 4xx) is tried on the other node. Remembers
    what got a 250 and what was cut off mid-transaction (the node may have
    stored it though the sender never heard the 250: RFC 1047)."""

    def __init__(self, run, nodes, total, rate):
        self.run, self.nodes, self.total, self.rate = run, nodes, total, rate
        self.accepted, self.cut, self.refused = {}, set(), []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.send, args=(k,)) for k in range(len(nodes))]

    def start(self):
        for t in self.threads:
            t.start()

    def join(self):
        for t in self.threads:
            t.join(timeout=600)
            assert not t.is_alive()

    def send(self, k):
        t0 = time.time()
        mine = range(k, self.total, len(self.nodes))
        for j, i in enumerate(mine):
            delay = t0 + j / self.rate - time.time()
            if delay > 0:
                time.sleep(delay)
            rcpt = f"{USERS[i % len(USERS)]}@example.test"
            mid = f"<cluster-{self.run}-{i}@remote.test>"
            msg = (f"From: s@remote.test\r\nTo: {rcpt}\r\nSubject: cluster {i}\r\n"
                   f"Message-ID: {mid}\r\n\r\nmessage {i}\r\n")
            for attempt in range(6):
                c = self.nodes[(k + attempt) % len(self.nodes)]
                try:
                    with smtplib.SMTP("127.0.0.1", c.smtp_port, timeout=30) as s:
                        s.ehlo("cluster.remote.test")
                        s.mail("s@remote.test")
                        s.rcpt(rcpt)
                        try:
                            s.data(msg)
                        except (smtplib.SMTPServerDisconnected, OSError):
                            with self.lock:
                                self.cut.add(mid)
                            raise
                    with self.lock:
                        self.accepted[mid] = c.env["CONTINUITY_SERVER_NODE_ID"]
                    break
                except (smtplib.SMTPException, OSError):
                    time.sleep(0.2)
            else:
                with self.lock:
                    self.refused.append(mid)


def idle_sees_new_mail(on, via):
    """IMAP IDLE on node `on` wakes for a message that arrived on `via`."""
    s = socket.create_connection(("127.0.0.1", on.imap_port), timeout=20)
    f = s.makefile("rwb")

    def cmd(line, until):
        f.write(line.encode() + b"\r\n")
        f.flush()
        seen = []
        while True:
            got = f.readline()
            assert got, f"connection closed after {seen}"
            seen.append(got)
            if got.startswith(until.encode()):
                return seen

    f.readline()  # greeting
    assert b"OK" in cmd(f'a LOGIN alice@example.test "{PASSWORD}"', "a ")[-1]
    assert b"OK" in cmd("b SELECT INBOX", "b ")[-1]
    cmd("c IDLE", "+")
    subject = f"idle-{uuid.uuid4().hex[:8]}"
    with smtplib.SMTP("127.0.0.1", via.smtp_port, timeout=30) as m:
        m.sendmail("s@remote.test", ["alice@example.test"],
                   f"From: s@remote.test\r\nTo: alice@example.test\r\nSubject: {subject}\r\n\r\nhi\r\n")
    sent = time.time()
    line = f.readline()
    waited = time.time() - sent
    assert line.startswith(b"* ") and b"EXISTS" in line, line
    f.write(b"DONE\r\n")
    f.flush()
    s.close()
    return waited


def lease_holder(c, job):
    rows = c.query("SELECT holder FROM leases WHERE job = ? AND expires_at > ?", job,
                   int(time.time() * 1000))
    return rows[0][0] if rows else None


def test_two_nodes_lose_nothing_when_either_dies(postfix, pg):
    url = pg_database(pg)
    run = uuid.uuid4().hex[:10]
    a = node("a", BASE, url, setup=True)
    b = node("b", BASE + 3, url, setup=False)
    subprocess.run([BIN, "user", "set-password", "alice@example.test"], input=PASSWORD + "\n",
                   env=a.env, text=True, check=True, capture_output=True)
    start(a)
    # a leads the monitor (it started first); b starts and leads nothing
    eventually("a leads the monitor", lambda: lease_holder(a, "monitor") == "a")
    # b runs with one shared setting of its own: both are told
    b.env["CONTINUITY_QUEUE_MAX_AGE"] = "4d"
    start(b)
    try:
        eventually("the nodes see their settings differ", lambda: b"other shared settings" in open(
            os.path.join(a.dir, "continuity.log"), "rb").read(), timeout=15)
        nodes = a.cli("node", "list")
        assert "2 different shared settings" in nodes and " alive " in nodes, nodes
        # what one node learns, the other sees
        waited = idle_sees_new_mail(on=b, via=a)
        print(f"\nIMAP IDLE on b woke {waited:.2f} s after a took the message")
        w = Webmail(a.web_port)
        w.login("alice@example.test", PASSWORD)
        w.port = b.web_port
        r, page = w.request("GET", "/mail/inbox")
        assert r.status == 200, (r.status, r.getheader("Location"))

        # the primary goes down: mail is held once continuity is active
        peers("drain-outage")
        eventually("continuity active", lambda: a.query(
            "SELECT state FROM domains WHERE name = 'example.test'")[0][0] == "outage", timeout=30)
        senders = Senders(run, [a, b], total=400, rate=15.0)
        senders.start()
        # a dies in the middle of it, then comes back
        eventually("a took its share", lambda: sum(
            1 for n in list(senders.accepted.values()) if n == "a") >= 60, timeout=60)
        a.kill9()
        killed_a = time.time()
        eventually("b leads the monitor", lambda: lease_holder(b, "monitor") == "b", timeout=30)
        moved = time.time() - killed_a
        probes = open(os.path.join(b.dir, "continuity.log"), "rb").read().count(b"primary check failed")
        eventually("b probes the primary", lambda: open(
            os.path.join(b.dir, "continuity.log"), "rb").read().count(b"primary check failed") > probes,
            timeout=10)
        print(f"monitor lead moved to b {moved:.1f} s after a was killed; b probed")
        start(a)
        senders.join()
        assert not senders.refused, f"refused by both nodes: {senders.refused[:3]}"

        # the primary is back: both flush; b dies in the middle of it
        peers("recover")
        eventually("the flush under way", lambda: a.query(
            "SELECT count(*) FROM deliveries d JOIN messages m ON m.id = d.message_id "
            "WHERE m.message_id_hdr LIKE ? AND d.status = 'delivered'", f"cluster-{run}-%")[0][0] >= 40,
            timeout=60)
        pending = a.query("SELECT count(*) FROM deliveries WHERE status IN ('queued', 'delayed', "
                          "'delivering') AND domain_id IS NOT NULL")[0][0]
        b.kill9()
        assert pending > 0, "b was killed in the middle of the flush"
        start(b)
        settled(a, timeout=180)

        accepted = set(senders.accepted)
        counts = maildir_ids(run)
        missing = accepted - set(counts)
        assert not missing, f"acknowledged but not delivered: {sorted(missing)[:5]}"
        # a second copy only where no SMTP client can rule it out: the
        # sender was cut off mid-DATA and tried the other node (the dead
        # node had stored it), or a node was killed between the primary's
        # 250 and recording it (its claim was taken back, then sent again)
        interrupted = {f"<{m}>" for (m,) in a.query(
            "SELECT DISTINCT m.message_id_hdr FROM events e JOIN messages m ON m.id = e.message_id "
            "WHERE e.kind = 'requeued' AND m.message_id_hdr LIKE ?", f"cluster-{run}-%")}
        doubles = {m: n for m, n in counts.items() if n != 1}
        for m in doubles:
            print(m, a.query(
                "SELECT e.at, e.kind, e.detail FROM events e JOIN messages m ON m.id = e.message_id "
                "WHERE m.message_id_hdr = ? ORDER BY e.id", m.strip("<>")))
        for m, n in doubles.items():
            assert n == 2 and (m in senders.cut or m in interrupted), \
                f"{m} delivered {n} times with no ambiguous step"
        # how many: at most the claims the killed node held (the queue's
        # concurrency, 16 by default: each may have had the primary's 250
        # and not yet its record), and the senders cut off
        assert len(doubles) <= 16 + len(senders.cut), doubles
        # continuity became active once, and ended once: the flush is over,
        # and the monitor's leader (a, once b's lease has run out, when b
        # led it) records the end at its next tick
        eventually("continuity ended", lambda: a.query(
            "SELECT state FROM domains WHERE name = 'example.test'")[0][0] == "normal", timeout=45)
        changes = [s for (s,) in a.query(
            "SELECT t.to_state FROM domain_timeline t JOIN domains d ON d.id = t.domain_id "
            "WHERE d.name = 'example.test' ORDER BY t.at, t.id")]
        assert changes.count("outage") == 1, changes
        assert changes[-1] == "normal", changes
        print(f"{len(accepted)} accepted, all delivered; doubles {len(doubles)} "
              f"(cut mid-DATA {len(senders.cut)}, interrupted {len(interrupted)}); timeline {changes}")
    finally:
        for cmd in (("recover",),):
            try:
                peers(*cmd)
            except subprocess.CalledProcessError:
                pass
        a.stop()
        b.stop()


def test_database_stopped_under_load_means_4xx_never_250(postfix, pg):
    url = pg_database(pg)
    run = uuid.uuid4().hex[:10]
    c = node("solo", BASE + 6, url, setup=True)
    start(c)
    codes = {}
    # stop asked, start asked, start done (PostgreSQL takes connections a
    # moment before pg_ctl returns: a 250 then is a real commit)
    stop_at, restart_at, back_at = [], [], []

    def sender():
        t0 = time.time()
        for i in range(2000):
            delay = t0 + i / 20.0 - time.time()
            if delay > 0:
                time.sleep(delay)
            # until 12 s after the database is back
            if back_at and time.time() > back_at[0] + 12:
                break
            mid = f"<dbfault-{run}-{i}@remote.test>"
            rcpt = f"{USERS[i % len(USERS)]}@example.test"
            began = time.time()
            try:
                with smtplib.SMTP("127.0.0.1", c.smtp_port, timeout=60) as s:
                    s.sendmail("s@remote.test", [rcpt],
                               f"From: s@remote.test\r\nTo: {rcpt}\r\nSubject: db {i}\r\n"
                               f"Message-ID: {mid}\r\n\r\nbody {i}\r\n")
                codes[mid] = (began, time.time(), 250)
            except smtplib.SMTPResponseException as e:
                codes[mid] = (began, time.time(), e.smtp_code)
            except smtplib.SMTPRecipientsRefused as e:
                codes[mid] = (began, time.time(), list(e.recipients.values())[0][0])
            except (smtplib.SMTPException, OSError):
                codes[mid] = (began, time.time(), 0)

    try:
        th = threading.Thread(target=sender)
        th.start()
        time.sleep(8)
        stop_at.append(time.time())
        pg_ctl(PG_PORT, "stop")
        time.sleep(10)
        restart_at.append(time.time())
        pg_ctl(PG_PORT, "start")
        back_at.append(time.time())
        th.join(timeout=180)
        assert not th.is_alive()

        got = {m: code for m, (_, _, code) in codes.items()}
        assert all(code == 250 or 400 <= code < 500 for code in got.values()), \
            {m: c for m, c in got.items() if c != 250 and not 400 <= c < 500}
        during = [code for (_, t, code) in codes.values() if stop_at[0] + 1 < t < restart_at[0]]
        assert during and all(code != 250 for code in during), during
        # back by itself: mail offered from 8 s after is taken again (one
        # offered during the outage may wait for a connection until after
        # the database is back and still be answered 451: judged by when
        # it was offered, not when it was answered)
        late = [code for (t, _, code) in codes.values() if t > back_at[0] + 8]
        after = [(round(t - back_at[0], 1), round(u - back_at[0], 1), code)
                 for (t, u, code) in codes.values() if u > back_at[0] and code != 250]
        print("refused after the database was back (offered, answered, code):", after)
        assert late and all(code == 250 for code in late), (late, after)
        # every 250 was committed: stored, and delivered to the primary
        ok = {m for m, code in got.items() if code == 250}
        settled(c, timeout=120)
        counts = maildir_ids(run)
        assert ok <= set(counts), f"250 but lost: {sorted(ok - set(counts))[:5]}"
        assert all(counts[m] == 1 for m in ok)
        print(f"\n{len(ok)} taken, {len(during)} answered 4xx while the database was down, "
              f"{len(late)} taken again after it came back")
    finally:
        pg_ctl(PG_PORT, "start")
        c.stop()


def test_pg_dump_of_a_running_node_restores_into_a_database_a_new_node_serves(pg):
    """The PostgreSQL store is backed up with pg_dump while the node takes
    mail (one consistent snapshot), and pg_restore into a new database
    gives a node with every message acknowledged before the dump, byte for
    byte, and alice's webmail (the README's procedure)."""
    url = pg_database(pg)
    c = node("dump", BASE + 9, url, setup=True)
    subprocess.run([BIN, "user", "set-password", "alice@example.test"], input=PASSWORD + "\n",
                   env=c.env, text=True, check=True, capture_output=True)
    start(c)
    run = uuid.uuid4().hex[:8]
    sent = {}
    try:
        with smtplib.SMTP("127.0.0.1", c.smtp_port, timeout=30) as s:
            for i in range(300):
                raw = (f"From: s@remote.test\r\nTo: alice@example.test\r\nSubject: dump {run} {i}\r\n"
                       f"\r\n" + f"line {i}\r\n" * (1 + i % 30)).encode()
                s.sendmail("s@remote.test", ["alice@example.test"], raw)
                sent[f"dump {run} {i}"] = raw
        # continuity backup is for SQLite: it says what to use instead
        r = subprocess.run([BIN, "backup", "--out", os.path.join(c.dir, "x.tar.zst")], env=c.env,
                           capture_output=True, text=True)
        assert r.returncode != 0 and "pg_dump" in r.stderr, r.stderr
        dump = os.path.join(c.dir, "continuity.dump")
        subprocess.run(["pg_dump", "--format=custom", f"--file={dump}", url], check=True,
                       capture_output=True)
    finally:
        c.stop()

    target = pg_database(pg)
    subprocess.run(["pg_restore", "--no-owner", f"--dbname={target}", dump], check=True,
                   capture_output=True)
    d = node("restored", BASE + 12, target, setup=False)
    start(d)
    try:
        rows = d.query("SELECT m.subject, b.raw FROM messages m JOIN message_blobs b "
                       "ON b.message_id = m.id WHERE m.subject LIKE ?", f"dump {run} %")
        stored = {s: bytes.fromhex(raw[2:]) if isinstance(raw, str) else raw for s, raw in rows}
        assert set(stored) == set(sent), len(stored)
        wrong = [s for s, raw in sent.items() if not stored[s].endswith(raw)]
        assert not wrong, wrong[:3]
        w = Webmail(d.web_port)
        w.login("alice@example.test", PASSWORD)
        _, inbox = w.request("GET", "/mail/inbox")
        assert f"dump {run}" in inbox
    finally:
        d.stop()
