"""kill -9, twice: during a load run, and in the middle of the recovery flush
to a real Postfix primary. After each restart every message that got 250 is
stored and reaches the primary (so may one whose 250 the kill cut off: its
sender never saw the reply and would send it again); nothing arrives twice,
except — in the flush — at most the deliveries that were under way at the
kill (the primary may have taken a message whose outcome we had not
recorded yet: RFC 1047; see ARCHITECTURE.md)."""
import os
import smtplib
import subprocess
import threading
import time
import uuid

from conftest import Continuity, eventually, maildir_message_ids, peers, settled


def test_kill9_loses_nothing_and_delivers_once(postfix):
    c = Continuity(smtp_port=int(os.environ.get("CONTINUITY_CRASH_SMTP_PORT", "2626")))
    c.start()
    peers("outage")
    acked, lock, stop = [], threading.Lock(), threading.Event()
    # the message each sender had sent without its reply yet: the kill may
    # fall after its commit and before the 250 reached the sender (which
    # would send it again: RFC 1047's window on the receiving side)
    unanswered = {}
    run = uuid.uuid4().hex[:8]

    def sender(n):
        i = 0
        while not stop.is_set():
            try:
                with smtplib.SMTP("127.0.0.1", c.smtp_port, timeout=5) as s:
                    while not stop.is_set():
                        mid = f"crash-{run}-{n}-{i}"
                        with lock:
                            unanswered[n] = mid
                        s.sendmail("s@remote.test", ["erin@example.test"],
                                   f"Subject: {mid}\r\nMessage-ID: <{mid}@remote.test>\r\n\r\nx\r\n")
                        with lock:
                            acked.append(mid)
                            del unanswered[n]
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
    peers("recover")
    try:
        settled(c, timeout=180)
        # every acknowledged message at the primary, each exactly once (no
        # delivery was under way at the kill: the primary was down)
        counts = maildir_message_ids("erin", f"crash-{run}-")
        absent = [m for m in acked if counts[m] == 0]
        assert not absent, f"{len(absent)} acknowledged messages never delivered, e.g. {absent[:3]}"
        doubles = {m: n for m, n in counts.items() if n != 1}
        assert not doubles, f"delivered more than once: {list(doubles.items())[:5]}"
        extra = set(counts) - set(acked)
        assert extra <= set(unanswered.values()), \
            f"delivered but never sent: {sorted(extra - set(unanswered.values()))[:5]}"
    finally:
        c.stop()


def test_kill9_during_the_recovery_flush_repeats_at_most_what_was_in_flight(postfix):
    c = Continuity(smtp_port=int(os.environ.get("CONTINUITY_CRASH_SMTP_PORT", "2626")) + 1)
    # a flush that takes a few seconds: time to kill it half way
    c.env["CONTINUITY_QUEUE_RECOVERY_RATE"] = "60"
    c.start()
    run = uuid.uuid4().hex[:8]
    total = 400
    ids = [f"flush-{run}-{i}" for i in range(total)]
    peers("drain-outage")
    try:
        eventually("continuity active", lambda: c.query(
            "SELECT state FROM domains WHERE name = 'example.test'")[0][0] == "outage", timeout=30)
        with smtplib.SMTP("127.0.0.1", c.smtp_port, timeout=10) as s:
            for mid in ids:
                s.sendmail("s@remote.test", ["erin@example.test"],
                           f"Subject: {mid}\r\nMessage-ID: <{mid}@remote.test>\r\n\r\nheld\r\n")
    finally:
        peers("recover")
    # the primary is back: the held mail flows; kill -9 half way through
    eventually("the flush under way", lambda: c.query(
        "SELECT count(*) FROM deliveries WHERE status = 'delivered'")[0][0] >= total // 4, timeout=120)
    c.kill9()
    delivered, in_flight = c.query(
        "SELECT count(*) FILTER (WHERE status = 'delivered'), count(*) FILTER (WHERE status = 'delivering') "
        "FROM deliveries")[0]
    assert delivered < total, "killed before the flush ended"
    print(f"flush crash: killed with {delivered} delivered and {in_flight} under way")
    c.start()
    try:
        settled(c, timeout=180)
        counts = maildir_message_ids("erin", f"flush-{run}-")
        absent = [m for m in ids if counts[m] == 0]
        assert not absent, f"{len(absent)} held messages never delivered, e.g. {absent[:3]}"
        extra = sum(n - 1 for n in counts.values())
        assert extra <= in_flight, \
            f"{extra} duplicates for {in_flight} deliveries under way at the kill"
        print(f"flush crash: {total} delivered, {extra} duplicates (at most {in_flight})")
    finally:
        c.stop()
