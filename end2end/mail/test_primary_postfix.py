"""Real clients (Python smtplib, swaks) send to the real listener; a real
Postfix is the primary."""
import os
import smtplib
import subprocess
import time
import uuid

import pytest

from conftest import eventually, files_containing, maildir, peers, settled, sink_dir


def tag():
    return uuid.uuid4().hex[:12]


def test_smtplib_message_lands_in_the_primary_byte_for_byte(cty):
    t = tag()
    body = (
        f"From: Sender <s@remote.test>\r\nTo: alice@example.test\r\nSubject: smtplib {t}\r\n"
        f"Message-ID: <{t}@remote.test>\r\nDate: Sat, 28 Nov 2026 10:00:00 +0000\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        "Bonjour Alice,\r\n.a line starting with a dot\r\n\r\n-- \r\nS\r\n"
    )
    with smtplib.SMTP("127.0.0.1", cty.smtp_port, timeout=10) as s:
        s.ehlo("client.remote.test")
        assert s.has_extn("pipelining") and s.has_extn("smtputf8") and s.has_extn("size")
        s.sendmail("s@remote.test", ["alice@example.test"], body.encode())
    files = eventually("delivered to alice", lambda: files_containing(maildir("alice"), t))
    assert len(files) == 1
    data = open(files[0], "rb").read()
    # Postfix stores Maildir files with LF line ends and adds its own trace
    # headers on top; below them, our Received header, then the original.
    assert data.endswith(body.replace("\r\n", "\n").encode()), data
    assert b"by mx.continuity.test (Continuity) with ESMTP" in data
    assert cty.statuses(f"smtplib {t}") == ["delivered"]
    settled(cty)
    assert len(files_containing(maildir("alice"), t)) == 1, "exactly once"


def test_swaks_message_lands_in_the_primary(cty):
    t = tag()
    out = subprocess.run(
        ["swaks", "--server", "127.0.0.1", "--port", str(cty.smtp_port), "--from", "s@remote.test",
         "--to", "bob@example.test", "--header", f"Subject: swaks {t}", "--body", "from swaks"],
        capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "250 2.0.0 Ok: queued as" in out.stdout
    eventually("delivered to bob", lambda: files_containing(maildir("bob"), t))


def test_relay_and_unknown_users_are_refused(cty):
    with smtplib.SMTP("127.0.0.1", cty.smtp_port, timeout=10) as s:
        s.ehlo("client.remote.test")
        s.mail("s@remote.test")
        code, msg = s.rcpt("victim@elsewhere.test")
        assert code == 550 and msg.startswith(b"5.7.1"), msg
        code, msg = s.rcpt("nosuch@example.test")
        assert code == 550 and msg.startswith(b"5.1.1"), msg


def test_outage_then_recovery_delivers_exactly_once(cty):
    t = tag()
    peers("outage")
    try:
        with smtplib.SMTP("127.0.0.1", cty.smtp_port, timeout=10) as s:
            s.sendmail("s@remote.test", ["carol@example.test"],
                       f"Subject: outage {t}\r\n\r\nheld while the primary is down\r\n")
        eventually("Delayed", lambda: cty.statuses(f"outage {t}") == ["delayed"])
        reply = cty.query("SELECT d.last_reply FROM deliveries d JOIN messages m ON m.id = d.message_id "
                          "WHERE m.subject = ?", f"outage {t}")[0][0]
        assert reply, "the failure is recorded"
    finally:
        peers("recover")
    eventually("delivered after recovery", lambda: cty.statuses(f"outage {t}") == ["delivered"], timeout=60)
    eventually("in carol's Maildir", lambda: files_containing(maildir("carol"), t))
    settled(cty)
    assert len(files_containing(maildir("carol"), t)) == 1, "exactly once"
    kinds = [k for (k,) in cty.query(
        "SELECT e.kind FROM events e JOIN messages m ON m.id = e.message_id WHERE m.subject = ? ORDER BY e.id",
        f"outage {t}")]
    assert kinds[:3] == ["received", "queued", "attempt"] and "delayed" in kinds and kinds[-1] == "delivered", kinds


def test_a_5xx_from_the_primary_bounces_to_the_sender(cty):
    t = tag()
    # remote sender: the DSN leaves through the smarthost (the sink peer)
    with smtplib.SMTP("127.0.0.1", cty.smtp_port, timeout=10) as s:
        s.sendmail("s@remote.test", ["dave@example.test"], f"Subject: to dave {t}\r\n\r\nhello\r\n")
    eventually("bounced", lambda: cty.statuses(f"to dave {t}") == ["bounced"])
    dsn = eventually("DSN at the sink", lambda: files_containing(sink_dir(), f"to dave {t}"))
    text = open(dsn[0], "rb").read().decode("utf-8", "replace")
    assert "Undelivered Mail Returned to Sender" in text
    assert "Final-Recipient: rfc822; dave@example.test" in text
    assert "Status: 5.1.1" in text
    assert "multipart/report" in text
    # a protected-domain sender gets its DSN in its own mailbox at the primary
    with smtplib.SMTP("127.0.0.1", cty.smtp_port, timeout=10) as s:
        s.sendmail("alice@example.test", ["dave@example.test"], f"Subject: alice to dave {t}\r\n\r\nhi\r\n")
    eventually("DSN in alice's Maildir", lambda: files_containing(maildir("alice"), f"alice to dave {t}"))
