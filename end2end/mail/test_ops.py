"""What an operator runs around the service: `continuity check-config`
before a restart reads everything a start would meet and changes nothing."""
import os
import sqlite3
import subprocess

from conftest import BIN, ROOT, scratch


def check(env):
    return subprocess.run([BIN, "check-config"], env=env, capture_output=True, text=True)


def test_check_config_before_a_start_and_after_a_newer_version_migrated():
    d = scratch("continuity-check-")
    data = os.path.join(d, "data")
    env = dict(os.environ, CONTINUITY_SERVER_DATA_DIR=data, RUST_BACKTRACE="0",
               CONTINUITY_LOG="warn")
    # a fresh machine: nothing yet, and check-config makes nothing
    r = check(env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "the database: none yet, created at the first start" in r.stdout, r.stdout
    assert r.stdout.strip().endswith("the configuration is ready"), r.stdout
    assert not os.path.exists(data), "check-config created the data directory"

    # a certificate that is not there: named, and the exit status says so
    bad = dict(env, CONTINUITY_SMTP_TLS_CERT=os.path.join(d, "nope.pem"),
               CONTINUITY_SMTP_TLS_KEY=os.path.join(d, "nope.key"))
    r = check(bad)
    assert r.returncode == 1, r.stdout
    assert "FAILED TLS certificate" in r.stdout and "nope.pem" in r.stdout, r.stdout

    # a database made by this version: up to date
    subprocess.run([BIN, "domain", "add", "example.test", "--primary", "127.0.0.1:2526",
                    "--tls", "none"], env=env, check=True, capture_output=True)
    r = check(env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "the database: up to date" in r.stdout, r.stdout
    assert f"data directory {data} is writable" in r.stdout, r.stdout

    # then a newer version migrated it: this binary would refuse it
    db = os.path.join(data, "continuity.db")
    con = sqlite3.connect(db)
    con.execute("INSERT INTO _sqlx_migrations (version, description, success, checksum, "
                "execution_time) VALUES (99990101000001, 'from the future', 1, x'00', 0)")
    con.commit()
    con.close()
    before = os.path.getmtime(db)
    r = check(env)
    assert r.returncode == 1, r.stdout
    assert "1 migration(s) this binary does not know (first 99990101000001)" in r.stdout, r.stdout
    assert os.path.getmtime(db) == before, "check-config wrote to the database"


def test_backup_while_mail_flows_restores_every_acknowledged_message_and_serves_the_webmail():
    """2,000 messages sent on four connections; a backup taken in the middle
    of them: restored into a new data directory and started, it holds every
    message whose 250 came before the backup began, byte for byte, and its
    webmail lets alice in."""
    import http.client
    import smtplib
    import threading
    import time
    import urllib.parse
    import uuid

    from conftest import Continuity, eventually, wait_port

    password = "amber-Lighthouse-wren-41"
    c = Continuity(smtp_port=int(os.environ.get("CONTINUITY_BACKUP_SMTP_PORT", "2647")))
    subprocess.run([BIN, "user", "set-password", "alice@example.test"], input=password + "\n",
                   env=c.env, text=True, check=True, capture_output=True)
    c.start()
    run = uuid.uuid4().hex[:8]
    acked = {}  # subject -> (time of its 250, bytes sent)
    lock = threading.Lock()

    def sender(k):
        with smtplib.SMTP("127.0.0.1", c.smtp_port, timeout=60) as s:
            for i in range(500):
                subject = f"backup {run} {k}-{i}"
                raw = (f"From: s@remote.test\r\nTo: alice@example.test\r\nSubject: {subject}\r\n"
                       f"Message-ID: <{run}.{k}.{i}@remote.test>\r\n\r\n"
                       + f"line {i} of sender {k}\r\n" * (1 + i % 40)).encode()
                s.sendmail("s@remote.test", ["alice@example.test"], raw)
                with lock:
                    acked[subject] = (time.time(), raw)

    # outside the data directory, removed with the run's other scratch
    out = os.path.join(scratch("continuity-backup-"), f"backup-{run}.tar.zst")
    threads = [threading.Thread(target=sender, args=(k,)) for k in range(4)]
    try:
        for t in threads:
            t.start()
        eventually("some mail acknowledged", lambda: len(acked) >= 400, timeout=120)
        began = time.time()
        r = subprocess.run([BIN, "backup", "--out", out], env=c.env, capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
        for t in threads:
            t.join(timeout=300)
        assert len(acked) == 2000
    finally:
        c.stop()
    before = {s: raw for s, (t, raw) in acked.items() if t < began}
    assert 400 <= len(before) < 2000, len(before)
    print(f"{len(before)} of 2000 acknowledged before the backup began")
    assert "made by Continuity" in r.stdout and "SHA-256" in r.stdout, r.stdout

    restored = scratch("continuity-restored-")
    os.rmdir(restored)  # a directory that does not exist yet is fine too
    web = int(os.environ.get("CONTINUITY_BACKUP_WEB_PORT", "2648"))
    env = dict(c.env, CONTINUITY_SERVER_DATA_DIR=restored,
               CONTINUITY_SMTP_LISTEN="127.0.0.1:2649", CONTINUITY_WEB_LISTEN=f"127.0.0.1:{web}")
    r = subprocess.run([BIN, "restore", out], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "restored into" in r.stdout, r.stdout
    # a second restore into it: refused, nothing changed
    again = subprocess.run([BIN, "restore", out], env=env, capture_output=True, text=True)
    assert again.returncode != 0 and "nothing was changed" in again.stderr, again.stderr

    con = sqlite3.connect(f"file:{restored}/continuity.db?mode=ro", uri=True)
    stored = dict(con.execute(
        "SELECT m.subject, b.raw FROM messages m JOIN message_blobs b ON b.message_id = m.id "
        "WHERE m.subject LIKE ?", (f"backup {run} %",)).fetchall())
    con.close()
    missing = [s for s in before if s not in stored]
    assert not missing, f"{len(missing)} acknowledged before the backup but not in it: {missing[:3]}"
    # byte for byte (the stored copy begins with our Received header)
    wrong = [s for s, raw in before.items() if not bytes(stored[s]).endswith(raw)]
    assert not wrong, wrong[:3]

    p = subprocess.Popen([BIN, "serve"], env=env, stdout=c.log, stderr=c.log)
    try:
        wait_port(web)
        eventually("ready", lambda: http.client.HTTPConnection("127.0.0.1", web, timeout=5)
                   .request("GET", "/readyz") or True)
        conn = http.client.HTTPConnection("127.0.0.1", web, timeout=10)
        conn.request("POST", "/auth/login",
                     urllib.parse.urlencode({"address": "alice@example.test", "password": password}),
                     {"Origin": f"http://127.0.0.1:{web}", "Accept": "text/html",
                      "Content-Type": "application/x-www-form-urlencoded"})
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 303 and resp.getheader("Location") == "/mail/inbox", resp.status
        cookie = resp.getheader("Set-Cookie").split(";")[0]
        conn = http.client.HTTPConnection("127.0.0.1", web, timeout=10)
        conn.request("GET", "/mail/inbox", headers={"Cookie": cookie, "Accept": "text/html"})
        resp = conn.getresponse()
        page = resp.read().decode()
        assert resp.status == 200 and f"backup {run}" in page, resp.status
    finally:
        p.terminate()
        p.wait(timeout=30)


def test_the_unit_file_passes_systemd_analyze_verify():
    unit = os.path.join(ROOT, "contrib", "systemd", "continuity.service")
    d = scratch("continuity-unit-")
    with open(unit) as f:
        text = f.read()
    assert "Type=notify" in text and "WatchdogSec=" in text and "ExecReload=" in text
    # the packaged path, pointed at the binary under test (verify wants it)
    local = os.path.join(d, "continuity.service")
    with open(local, "w") as f:
        f.write(text.replace("/usr/bin/continuity", os.path.abspath(BIN)))
    # the man page comes with the package (test_package.py verifies with it)
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", local], capture_output=True,
                       text=True)
    assert r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(), r.stdout + r.stderr


def test_systemd_notify_and_a_new_certificate_on_sighup():
    """Type=notify without systemd: READY=1, WATCHDOG=1 pings, and SIGHUP
    with a new certificate in place: RELOADING=1 then READY=1; a new
    STARTTLS session presents the new certificate, one opened before goes
    on with the old and delivers its message; STOPPING=1 at the end."""
    import signal
    import smtplib
    import socket
    import ssl
    import time

    from conftest import Continuity

    d = scratch("continuity-notify-")
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")

    def make_certificate(cn):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-subj", f"/CN={cn}",
                        "-days", "30", "-keyout", key + ".new", "-out", cert + ".new"],
                       check=True, capture_output=True)
        os.replace(key + ".new", key)
        os.replace(cert + ".new", cert)

    make_certificate("first.continuity.test")
    sock_path = os.path.join(d, "notify.sock")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(sock_path)
    notify.settimeout(30)

    def until(word):
        got = []
        while True:
            msg = notify.recv(4096).decode()
            got.append(msg)
            if word in msg.split("\n"):
                return got

    c = Continuity(smtp_port=int(os.environ.get("CONTINUITY_NOTIFY_SMTP_PORT", "2651")))
    c.env.update(NOTIFY_SOCKET=sock_path, WATCHDOG_USEC="2000000",
                 CONTINUITY_SMTP_TLS_CERT=cert, CONTINUITY_SMTP_TLS_KEY=key)
    c.env.pop("WATCHDOG_PID", None)
    c.start()
    try:
        got = until("READY=1")
        assert any(m.startswith("READY=1") and "STATUS=serving" in m for m in got), got
        until("WATCHDOG=1")

        def presented(s):
            der = s.sock.getpeercert(binary_form=True)
            pem = ssl.DER_cert_to_PEM_cert(der)
            out = subprocess.run(["openssl", "x509", "-noout", "-subject"], input=pem,
                                 capture_output=True, text=True, check=True).stdout
            return out.strip()

        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        before = smtplib.SMTP("127.0.0.1", c.smtp_port, timeout=10)
        before.starttls(context=ctx)
        assert "first.continuity.test" in presented(before)

        make_certificate("second.continuity.test")
        c.proc.send_signal(signal.SIGHUP)
        got = until("READY=1")
        assert any("RELOADING=1" in m.split("\n") for m in got), got

        after = smtplib.SMTP("127.0.0.1", c.smtp_port, timeout=10)
        after.starttls(context=ctx)
        assert "second.continuity.test" in presented(after)
        after.quit()
        # the session opened before the reload was not dropped
        before.sendmail("s@remote.test", ["alice@example.test"], "Subject: across a reload\r\n\r\nx\r\n")
        before.quit()

        # a certificate that does not load: the one in use stays
        with open(cert, "w") as f:
            f.write("not a certificate\n")
        c.proc.send_signal(signal.SIGHUP)
        until("READY=1")
        again = smtplib.SMTP("127.0.0.1", c.smtp_port, timeout=10)
        again.starttls(context=ctx)
        assert "second.continuity.test" in presented(again)
        again.quit()
        assert c.proc.poll() is None

        c.proc.send_signal(signal.SIGTERM)
        until("STOPPING=1")
        c.proc.wait(timeout=30)
        time.sleep(0.1)
        with open(os.path.join(c.dir, "continuity.log"), errors="replace") as f:
            log = f.read()
        assert "TLS certificate reloaded" in log and "TLS certificate not reloaded" in log, log[-2000:]
    finally:
        c.stop()
        notify.close()
