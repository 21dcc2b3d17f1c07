"""Issue 6 against real peers: the continuity relay.

- A mail app (Python's smtplib) sends through the submission port over
  STARTTLS and over TLS; the message leaves through a Postfix smarthost that
  requires AUTH (Dovecot SASL) and a certificate from a private CA; the
  bytes that arrive there carry the attachment unchanged and a DKIM
  signature that an independent verifier (dkimpy) accepts against the
  record `continuity domain dkim-keygen` printed.
- Without a smarthost, mail goes straight to the recipient domain's MX, found
  through a real DNS server (dnslib) — the MX is a Postfix on loopback; a
  domain with a null MX bounces into the sender's continuity Inbox.
- Open-relay and forgery attempts on the submission port are refused.
"""
import base64
import email
import email.policy
import json
import os
import re
import smtplib
import ssl
import subprocess
import threading
import time
from email.message import EmailMessage

import dkim
from dnslib import MX, QTYPE, RR, A, DNSLabel
from dnslib.server import BaseResolver, DNSServer

from conftest import BIN, Continuity, eventually, files_containing, peers, sink_dir
from test_compose import Webmail

PASSWORD = "amber-Lighthouse-wren-41"
ATTACHMENT = bytes(range(256)) * 40  # every byte value, 10 KiB


def authrelay_dir():
    return os.path.join(peers("dir"), "pf-authrelay", "mail", "sink", "new")


def dkim_record(cli_output):
    """The TXT text from `domain dkim-keygen`'s zone line, and its name."""
    line = next(l for l in cli_output.splitlines() if "._domainkey." in l)
    name = line.split()[0]
    text = "".join(re.findall(r'"([^"]*)"', line))
    return name, text


def verify_dkim(raw, name, text):
    def dnsfunc(qname, timeout=5):
        return text.encode() if qname.decode().lower() == name.lower() else None
    return dkim.verify(raw, dnsfunc=dnsfunc)


def set_password(c, address):
    subprocess.run([BIN, "user", "set-password", address], input=PASSWORD + "\n",
                   env=c.env, text=True, check=True, capture_output=True)


def with_attachment(sender, to, subject):
    m = EmailMessage()
    m["From"] = f"Alice <{sender}>"
    m["To"] = to
    m["Subject"] = subject
    m.set_content("The file is attached.\n")
    m.add_attachment(ATTACHMENT, maintype="application", subtype="octet-stream", filename="data.bin")
    return m


def unverified():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # Continuity's self-signed test certificate
    return ctx


def test_submission_through_an_auth_smarthost_signed_and_never_an_open_relay(postfix, authrelay):
    base = int(os.environ.get("CONTINUITY_RELAY_PORT_BASE", "2640"))
    c = Continuity(smtp_port=base, smarthost="127.0.0.1:2587")
    out = c.cli("domain", "dkim-keygen", "example.test")
    name, text = dkim_record(out)
    assert text.startswith("v=DKIM1; k=rsa; p="), out
    pwfile = os.path.join(c.dir, "smarthost.password")
    with open(pwfile, "w") as f:
        f.write("relay-secret\n")
    c.env.update(
        CONTINUITY_OUTBOUND_SMARTHOST_TLS="required",
        CONTINUITY_OUTBOUND_SMARTHOST_USER="relay@peer.test",
        CONTINUITY_OUTBOUND_SMARTHOST_PASSWORD_FILE=pwfile,
        CONTINUITY_OUTBOUND_SMARTHOST_CA=os.path.join(peers("dir"), "tls", "ca.pem"),
        CONTINUITY_SMTP_SELF_SIGNED="true",
        CONTINUITY_SUBMISSION_LISTEN=f"127.0.0.1:{base + 1}",
        CONTINUITY_SUBMISSION_TLS_LISTEN=f"127.0.0.1:{base + 2}",
        # a log collector's format, with everything this run does in it
        CONTINUITY_LOG_FORMAT="json",
        CONTINUITY_LOG="debug",
    )
    set_password(c, "alice@example.test")
    c.start()
    run = str(int(time.time()))
    try:
        # STARTTLS on the submission port, then AUTH
        with smtplib.SMTP("127.0.0.1", base + 1, timeout=10) as s:
            s.ehlo()
            assert "auth" not in s.esmtp_features, "no AUTH before TLS"
            s.starttls(context=unverified())
            s.ehlo()
            assert "PLAIN" in s.esmtp_features["auth"]
            s.login("alice@example.test", PASSWORD)
            s.send_message(with_attachment("alice@example.test", "xavier@remote.test", f"Report {run}"))
        # TLS from the first byte (port 465 style)
        with smtplib.SMTP_SSL("127.0.0.1", base + 2, context=unverified(), timeout=10) as s:
            s.login("alice@example.test", PASSWORD)
            m = EmailMessage()
            m["From"] = "alice@example.test"
            m["To"] = "yolanda@remote.test"
            m["Subject"] = f"Second {run}"
            m.set_content("hello\n")
            s.send_message(m)

        got = eventually("the report at the AUTH smarthost",
                         lambda: files_containing(authrelay_dir(), f"Report {run}"), timeout=30)
        raw = open(got[0], "rb").read()
        # Postfix prepends its own trace fields (Return-Path, Received), which are not signed
        assert verify_dkim(raw, name, text), raw[:600]
        assert not verify_dkim(raw.replace(b"The file is attached.", b"Pay the invoice."), name, text)
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        files = [p for p in msg.iter_attachments()]
        assert [p.get_filename() for p in files] == ["data.bin"]
        assert files[0].get_content() == ATTACHMENT
        assert msg["Date"] and msg["Message-ID"], "completed by the submission server"
        eventually("the second one too", lambda: files_containing(authrelay_dir(), f"Second {run}"))
        # in alice's Sent
        assert c.query("SELECT COUNT(*) FROM mailbox mb JOIN messages m ON m.id = mb.message_id "
                       "WHERE mb.folder = 'sent' AND m.subject IN (?, ?) AND m.origin = 'submission'",
                       f"Report {run}", f"Second {run}")[0][0] == 2

        # abuse: no AUTH, a wrong password, someone else's address
        with smtplib.SMTP("127.0.0.1", base + 1, timeout=10) as s:
            s.ehlo()
            try:
                s.sendmail("alice@example.test", ["victim@remote.test"], "Subject: spam\r\n\r\nx\r\n")
                raise AssertionError("relayed without AUTH")
            except smtplib.SMTPSenderRefused as e:
                assert e.smtp_code == 530
        with smtplib.SMTP("127.0.0.1", base + 1, timeout=10) as s:
            s.starttls(context=unverified())
            try:
                s.login("alice@example.test", "guess")
                raise AssertionError("wrong password accepted")
            except smtplib.SMTPAuthenticationError as e:
                assert e.smtp_code == 535
        with smtplib.SMTP("127.0.0.1", base + 1, timeout=10) as s:
            s.starttls(context=unverified())
            s.login("alice@example.test", PASSWORD)
            try:
                s.sendmail("bob@example.test", ["victim@remote.test"], "From: bob@example.test\r\n\r\nx\r\n")
                raise AssertionError("sent as bob")
            except smtplib.SMTPSenderRefused as e:
                assert e.smtp_code == 553
            try:
                s.sendmail("alice@example.test", ["victim@remote.test"],
                           "From: CEO <ceo@bank.test>\r\nSubject: wire\r\n\r\nx\r\n")
                raise AssertionError("forged From accepted")
            except smtplib.SMTPDataError as e:
                assert e.smtp_code == 550
        # the inbound MX port is no relay either
        with smtplib.SMTP("127.0.0.1", base, timeout=10) as s:
            try:
                s.sendmail("alice@example.test", ["victim@remote.test"], "Subject: spam\r\n\r\nx\r\n")
                raise AssertionError("the MX port relayed")
            except smtplib.SMTPRecipientsRefused as e:
                assert e.recipients["victim@remote.test"][0] == 550
        # refused at RCPT: nothing was stored that could be relayed later
        assert not c.query("SELECT count(*) FROM deliveries WHERE rcpt = 'victim@remote.test'")[0][0]
        assert not files_containing(authrelay_dir(), "victim@remote.test")
    finally:
        c.stop()
    # the whole run's log as a collector reads it: one JSON object a line
    # (at debug, all the service said), and no secret nor a message's body
    log = open(os.path.join(c.dir, "continuity.log"), "rb").read().decode()
    lines = [json.loads(line) for line in log.splitlines() if line.strip()]
    assert len(lines) > 20, log[:500]
    for line in lines:
        assert {"timestamp", "level", "fields"} <= line.keys(), line
    assert any("spans" in line for line in lines), "the sessions' spans are named"
    plain = base64.b64encode(f"\0alice@example.test\0{PASSWORD}".encode()).decode()
    for secret in (PASSWORD, plain, "relay-secret", "guess", "The file is attached.",
                   base64.b64encode(ATTACHMENT[:48]).decode(), "PRIVATE KEY", "Pay the invoice"):
        assert secret not in log, f"{secret!r} is in the log"


class Zone(BaseResolver):
    """remote.test MX 10 mx.remote.test (A 127.0.0.1); nomail.test MX 0 . (RFC 7505)."""

    def resolve(self, request, handler):
        reply = request.reply()
        q = request.q
        name = str(q.qname).lower()
        if name == "remote.test." and q.qtype == QTYPE.MX:
            reply.add_answer(RR(q.qname, QTYPE.MX, rdata=MX("mx.remote.test."), ttl=60))
        elif name == "mx.remote.test." and q.qtype == QTYPE.A:
            reply.add_answer(RR(q.qname, QTYPE.A, rdata=A("127.0.0.1"), ttl=60))
        elif name == "nomail.test." and q.qtype == QTYPE.MX:
            reply.add_answer(RR(q.qname, QTYPE.MX, rdata=MX(DNSLabel("."), 0), ttl=60))
        elif name not in ("remote.test.", "mx.remote.test.", "nomail.test."):
            reply.header.rcode = 3  # NXDOMAIN
        return reply


def test_direct_delivery_to_the_recipients_mx_found_in_dns(postfix):
    base = int(os.environ.get("CONTINUITY_MX_PORT_BASE", "2650"))
    dns = DNSServer(Zone(), port=base + 3, address="127.0.0.1")
    dns.start_thread()
    c = Continuity(smtp_port=base)
    name, text = dkim_record(c.cli("domain", "dkim-keygen", "example.test", "--selector", "mx2026"))
    c.env.update(
        CONTINUITY_WEB_LISTEN=f"127.0.0.1:{base + 1}",
        CONTINUITY_OUTBOUND_NAMESERVERS=f"127.0.0.1:{base + 3}",
        # the remote MX is the Postfix sink on loopback
        CONTINUITY_OUTBOUND_MX_PORT="2527",
    )
    set_password(c, "alice@example.test")
    c.start()
    run = str(int(time.time()))
    try:
        w = Webmail(base + 1)
        w.login("alice@example.test", PASSWORD)
        assert w.send(**{"from": "alice@example.test", "to": "xavier@remote.test",
                         "subject": f"Direct {run}", "body": "Straight to your MX.\n"}) == "/mail/sent?sent=1"
        got = eventually("at the remote MX", lambda: files_containing(sink_dir(), f"Direct {run}"), timeout=30)
        raw = open(got[0], "rb").read()
        assert verify_dkim(raw, name, text)
        assert c.query("SELECT d.last_reply FROM deliveries d JOIN messages m ON m.id = d.message_id "
                       "WHERE m.subject = ? AND d.rcpt = 'xavier@remote.test'", f"Direct {run}")[0][0].startswith("250")
        # a domain that takes no mail: bounced at once, into alice's Inbox
        w.send(**{"from": "alice@example.test", "to": "z@nomail.test",
                  "subject": f"Nowhere {run}", "body": "x\n"})
        eventually("bounced", lambda: c.statuses(f"Nowhere {run}")[:1] == ["bounced"])
        eventually("the DSN in alice's Inbox", lambda: c.query(
            "SELECT COUNT(*) FROM mailbox mb JOIN messages m ON m.id = mb.message_id "
            "JOIN users u ON u.id = mb.user_id WHERE u.address = 'alice@example.test' "
            "AND mb.folder = 'inbox' AND m.origin = 'dsn'")[0][0] == 1)
        reply = c.query("SELECT d.last_reply FROM deliveries d JOIN messages m ON m.id = d.message_id "
                        "WHERE m.subject = ? AND d.rcpt = 'z@nomail.test'", f"Nowhere {run}")[0][0]
        assert "5.1.10" in reply, reply
    finally:
        c.stop()
        dns.stop()
