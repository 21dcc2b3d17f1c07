"""kill -9 during a load run: every message that got 250 is in the store and
reaches the primary after the restart, and nothing arrives twice.

The primary is down while the load runs, so no delivery is in flight at the
kill (a message handed to the primary whose result was not yet recorded is
the one case where at-least-once delivery can repeat; see ARCHITECTURE.md)."""
import os
import smtplib
import subprocess
import threading
import time
import uuid

from conftest import Continuity, eventually, files_containing, maildir, peers


def test_kill9_loses_nothing_and_delivers_once(postfix):
    c = Continuity(smtp_port=int(os.environ.get("CONTINUITY_CRASH_SMTP_PORT", "2626")))
    c.start()
    peers("outage")
    acked, lock, stop = [], threading.Lock(), threading.Event()
    run = uuid.uuid4().hex[:8]

    def sender(n):
        i = 0
        while not stop.is_set():
            try:
                with smtplib.SMTP("127.0.0.1", c.smtp_port, timeout=5) as s:
                    while not stop.is_set():
                        mid = f"crash-{run}-{n}-{i}"
                        s.sendmail("s@remote.test", ["erin@example.test"],
                                   f"Subject: {mid}\r\nMessage-ID: <{mid}@remote.test>\r\n\r\nx\r\n")
                        with lock:
                            acked.append(mid)
                        i += 1
            except (OSError, smtplib.SMTPException):
                time.sleep(0.05)

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    source = subprocess.Popen(
        ["smtp-source", "-s", "10", "-m", "1000", "-l", "2048", "-f", "s@remote.test",
         "-t", "erin@example.test", f"127.0.0.1:{c.smtp_port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # kill -9 in the middle of smtp-source's 1,000 messages
    eventually("load under way", lambda: c.query("SELECT count(*) FROM messages")[0][0] >= 250, timeout=30)
    assert source.poll() is None, "smtp-source was still running at the kill"
    c.kill9()
    stop.set()
    for t in threads:
        t.join()
    source.kill()
    source.wait()
    assert len(acked) > 20, f"the load ran ({len(acked)} acknowledged)"

    c.start()
    stored = {s for (s,) in c.query("SELECT subject FROM messages")}
    missing = [m for m in acked if m not in stored]
    assert not missing, f"{len(missing)} acknowledged messages lost, e.g. {missing[:3]}"
    total = c.query("SELECT count(*) FROM messages")[0][0]
    print(f"crash test: {len(acked)} tracked messages acknowledged, {total} stored in all (with smtp-source's)")
    box = maildir("erin")
    before = len(os.listdir(box)) if os.path.isdir(box) else 0  # other tests' mail
    peers("recover")
    try:
        eventually("queue drained", lambda: c.query(
            "SELECT count(*) FROM deliveries WHERE status != 'delivered'")[0][0] == 0, timeout=180)
        time.sleep(2)
        files = os.listdir(box)
        assert len(files) - before == total, \
            f"{len(files) - before} new files at the primary for {total} stored messages"
        for m in acked[:: max(1, len(acked) // 50)]:
            assert len(files_containing(box, f"Message-ID: <{m}@remote.test>")) == 1, m
    finally:
        c.stop()
