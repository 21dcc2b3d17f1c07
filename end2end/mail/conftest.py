"""Fixtures for the mail tests: real Postfix peers (scripts/peers) and a real
`continuity` process on 127.0.0.1, configured with the same CLI a user has.

Environment: CONTINUITY_BIN (default target/debug/continuity), PEERS_DIR."""
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("CONTINUITY_BIN", os.path.join(ROOT, "target", "debug", "continuity"))
PEERS = os.path.join(ROOT, "scripts", "peers")
PEER_USERS = "alice bob carol erin"


def peers(cmd):
    env = dict(os.environ, PEER_USERS=PEER_USERS)
    return subprocess.run([PEERS, cmd], check=True, env=env, capture_output=True, text=True).stdout.strip()


_SCRATCH = []


def scratch(prefix):
    """A temporary directory for this run, removed at the end of a run that
    passed (kept after a failure, to read its logs and databases, and with
    KEEP_SCRATCH=1)."""
    d = tempfile.mkdtemp(prefix=prefix)
    _SCRATCH.append(d)
    return d


def pytest_sessionfinish(session, exitstatus):
    if exitstatus == 0 and not os.environ.get("KEEP_SCRATCH"):
        for d in _SCRATCH:
            shutil.rmtree(d, ignore_errors=True)


def wait_port(port, timeout=30, up=True):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            if up:
                return
        except OSError:
            if not up:
                return
        time.sleep(0.05)
    raise TimeoutError(f"port {port} {'up' if up else 'down'}")


def eventually(what, fn, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        v = fn()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class Continuity:
    """A continuity process with its own data directory and SMTP port."""

    def __init__(self, smtp_port, primary_port=2526, smarthost=None, store_url=None,
                 node_id=None, setup=True):
        """`store_url`: a shared PostgreSQL database (default: SQLite under
        the data directory); `setup`: add the test domain and users (a
        second node on the same database finds them there)."""
        self.dir = scratch("continuity-e2e-")
        self.store_url = store_url
        self.smtp_port = smtp_port
        self.log = open(os.path.join(self.dir, "continuity.log"), "wb")
        self.env = dict(
            os.environ,
            CONTINUITY_SERVER_DATA_DIR=self.dir,
            CONTINUITY_SERVER_HOSTNAME="mx.continuity.test",
            CONTINUITY_SMTP_LISTEN=f"127.0.0.1:{smtp_port}",
            CONTINUITY_WEB_LISTEN="127.0.0.1:0",
            CONTINUITY_QUEUE_RETRY_INTERVALS='["1s"]',
            CONTINUITY_QUEUE_POLL_INTERVAL="100ms",
            CONTINUITY_LOG="info",
        )
        if smarthost:
            self.env["CONTINUITY_OUTBOUND_SMARTHOST"] = smarthost
            self.env["CONTINUITY_OUTBOUND_SMARTHOST_TLS"] = "none"
        if store_url:
            self.env["CONTINUITY_STORE_URL"] = store_url
        if node_id:
            self.env["CONTINUITY_SERVER_NODE_ID"] = node_id
        self.proc = None
        if not setup:
            return
        self.cli("domain", "add", "example.test", "--primary", f"127.0.0.1:{primary_port}", "--tls", "none")
        # probe often so outages and recoveries are seen within the tests' waits
        self.cli("domain", "monitoring", "example.test", "--interval", "1s", "--timeout", "3s")
        # dave exists here but not at the primary: the primary answers 550 5.1.1
        for u in ["alice", "bob", "carol", "erin", "dave"]:
            self.cli("user", "add", f"{u}@example.test")
        self.proc = None

    def cli(self, *args):
        return subprocess.run([BIN, *args], env=self.env, check=True, capture_output=True, text=True).stdout

    def start(self):
        self.proc = subprocess.Popen([BIN, "serve"], env=self.env, stdout=self.log, stderr=self.log)
        wait_port(self.smtp_port)

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        wait_port(self.smtp_port, up=False)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def db(self):
        con = sqlite3.connect(f"file:{self.dir}/continuity.db?mode=ro", uri=True, timeout=10)
        return con

    def query(self, sql, *args):
        if self.store_url:
            return pg_query(self.store_url, sql, *args)
        con = self.db()
        try:
            return con.execute(sql, args).fetchall()
        finally:
            con.close()

    def statuses(self, subject):
        return [r[0] for r in self.query(
            "SELECT d.status FROM deliveries d JOIN messages m ON m.id = d.message_id "
            "WHERE m.subject = ? ORDER BY d.id", subject)]


def pg_query(url, sql, *args):
    """Rows of `sql` on PostgreSQL through psql; `?` placeholders bound
    (as psql variables, quoted by psql); numbers come back as ints."""
    parts = sql.split("?")
    assert len(parts) == len(args) + 1, sql
    text = parts[0] + "".join(f":'p{i}'" + rest for i, rest in enumerate(parts[1:]))
    cmd = ["psql", url, "-X", "-q", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1"]
    for i, a in enumerate(args):
        cmd += ["-v", f"p{i}={a}"]
    out = subprocess.run(cmd, input=text + ";\n", check=True, capture_output=True, text=True).stdout

    def value(v):
        try:
            return int(v)
        except ValueError:
            return v
    return [tuple(value(v) for v in line.split("\t")) for line in out.splitlines()]


def pg_database(admin):
    """A fresh database on the cluster whose admin URL is `admin`."""
    name = f"mail_{os.getpid()}_{int(time.time() * 1000) % 100000000}"
    subprocess.run(["psql", admin, "-X", "-q", "-c", f"CREATE DATABASE {name}"], check=True,
                   capture_output=True)
    return admin.rsplit("/", 1)[0] + "/" + name


def pg_ctl(port, cmd):
    """scripts/pg CMD (start, stop, reset) for the cluster on `port`; what
    it prints (start: the admin URL)."""
    env = dict(os.environ, CONTINUITY_PG_PORT=str(port))
    return subprocess.run([os.path.join(ROOT, "scripts", "pg"), cmd], env=env, check=True,
                          capture_output=True, text=True).stdout.strip()


def settled(c, timeout=120):
    """Nothing more can arrive: Continuity has no delivery left to try and
    the primary holds nothing it has not written to its Maildirs. Counts
    taken after this are final (a wait on that, not on the clock)."""
    eventually("Continuity's queue and the primary's settled", lambda: c.query(
        "SELECT count(*) FROM deliveries WHERE status IN ('queued', 'delayed', 'delivering') "
        "AND domain_id IS NOT NULL")[0][0] == 0
        and peers("queue") == "0", timeout=timeout)


def maildir_message_ids(user, prefix):
    """Message-IDs starting with `prefix` in the user's Maildir, counted
    (the part before the @: `<crash-1-2@remote.test>` counts as crash-1-2)."""
    from collections import Counter
    import re
    box = maildir(user)
    counts = Counter()
    if not os.path.isdir(box):
        return counts
    pat = re.compile(rb"^Message-ID: <(" + re.escape(prefix.encode()) + rb"[^>@]*)[^>]*>", re.M | re.I)
    for name in os.listdir(box):
        try:
            with open(os.path.join(box, name), "rb") as f:
                head = f.read(8192)
        except FileNotFoundError:
            continue
        for m in pat.findall(head):
            counts[m.decode()] += 1
    return counts


def maildir(user):
    return os.path.join(peers("dir"), "pf-primary", "mail", "example.test", user, "new")


def sink_dir():
    return os.path.join(peers("dir"), "pf-sink", "mail", "sink", "new")


def files_containing(d, needle):
    if not os.path.isdir(d):
        return []
    out = []
    for name in os.listdir(d):
        p = os.path.join(d, name)
        try:
            with open(p, "rb") as f:
                if needle.encode() in f.read():
                    out.append(p)
        except FileNotFoundError:
            pass
    return out


@pytest.fixture(scope="session")
def postfix():
    peers("start")
    yield
    peers("stop")


@pytest.fixture(scope="session")
def authrelay(postfix):
    """A smarthost that wants AUTH (Postfix + Dovecot SASL, private CA)."""
    peers("auth-start")
    yield
    peers("auth-stop")


@pytest.fixture(scope="session")
def cty(postfix):
    c = Continuity(smtp_port=int(os.environ.get("CONTINUITY_TEST_SMTP_PORT", "2625")), smarthost="127.0.0.1:2527")
    c.start()
    yield c
    c.stop()
