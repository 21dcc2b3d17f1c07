"""Issue 9 with real clients against the real listener.

- Python's imaplib over STARTTLS and over TLS: LIST, SELECT, FETCH, SEARCH,
  STORE, APPEND, COPY, EXPUNGE, and IDLE by raw commands — a message
  delivered over SMTP shows in the IDLE session within a second;
- a message deleted to Trash over IMAP shows in the webmail's trash and
  comes back when the webmail restores it;
- a flag set over IMAP shows in the webmail, and one set in the webmail
  shows over IMAP;
- curl `imap://` (STARTTLS) and `imaps://`: a message fetched byte for
  byte;
- mbsync (isync) pulls the whole mailbox into a Maildir: every message's
  bytes equal the archive's;
- the same messages appended to Dovecot and to Continuity give the same
  bytes for every section (BODY[n], n.MIME, HEADER, TEXT, HEADER.FIELDS);
- a mail app comes back after changes made in the webmail and elsewhere
  (issue 16): CONDSTORE/QRESYNC by raw commands (SELECT … QRESYNC,
  CHANGEDSINCE, VANISHED, UNCHANGEDSINCE) and mbsync's second run bring
  the local copy to what the server holds;
- mbsync with `Create Both` / `Remove Both` keeps a tree of folders the same
  on both sides, and the webmail shows the same folders (issue 22).
"""
import email.utils
import imaplib
import os
import re
import smtplib
import socket
import ssl
import subprocess
import time

from conftest import BIN, Continuity, eventually, peers
from test_compose import Webmail

PASSWORD = "amber-Lighthouse-wren-41"
BASE = int(os.environ.get("CONTINUITY_IMAP_PORT_BASE", "2670"))
SMTP, WEB, IMAP, IMAPS = BASE, BASE + 1, BASE + 2, BASE + 3

MIXED = (
    "From: =?utf-8?q?Z=C3=B6e_Martin?= <zoe@remote.test>\r\nTo: alice@example.test\r\n"
    "Cc: \"Bob\" <bob@example.test>\r\nSubject: =?utf-8?q?R=C3=A9union?= of the board\r\n"
    "Date: Tue, 01 Dec 2026 09:00:00 +0100\r\nMessage-ID: <mixed-{n}@remote.test>\r\n"
    "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n"
    "This is a multi-part message.\r\n--outer\r\n"
    "Content-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n--alt\r\n"
    "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
    "Bonjour =C3=A0 tous,\r\nthe agenda is attached.\r\n--alt\r\n"
    "Content-Type: text/html; charset=utf-8\r\n\r\n<p>Bonjour \xc3\xa0 tous</p>\r\n--alt--\r\n"
    "--outer\r\nContent-Type: message/rfc822\r\n\r\n"
    "From: carol@remote.test\r\nSubject: the forwarded one\r\nDate: Mon, 30 Nov 2026 08:00:00 +0000\r\n\r\n"
    "Inner text.\r\n--outer\r\n"
    "Content-Type: application/pdf; name=\"agenda.pdf\"\r\n"
    "Content-Disposition: attachment; filename=\"agenda.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    "JVBERi0xLjQKJSBhZ2VuZGEK\r\n--outer--\r\n"
)
PLAIN = (
    "From: Xavier <xavier@remote.test>\r\nTo: alice@example.test\r\nSubject: Budget 2027 {n}\r\n"
    "Date: Wed, 02 Dec 2026 10:00:00 +0000\r\nMessage-ID: <plain-{n}@remote.test>\r\n\r\n"
    "Can we meet on Monday?\r\n"
)


def unverified():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # Continuity's self-signed test certificate
    return ctx


def smtp_deliver(raw):
    with smtplib.SMTP("127.0.0.1", SMTP, timeout=10) as s:
        s.sendmail("sender@remote.test", ["alice@example.test"], raw.encode() if isinstance(raw, str) else raw)


def start():
    c = Continuity(smtp_port=SMTP)
    c.env.update(
        CONTINUITY_WEB_LISTEN=f"127.0.0.1:{WEB}",
        CONTINUITY_SMTP_SELF_SIGNED="true",
        CONTINUITY_IMAP_LISTEN=f"127.0.0.1:{IMAP}",
        CONTINUITY_IMAP_TLS_LISTEN=f"127.0.0.1:{IMAPS}",
    )
    subprocess.run([BIN, "user", "set-password", "alice@example.test"], input=PASSWORD + "\n",
                   env=c.env, text=True, check=True, capture_output=True)
    c.start()
    for p in (IMAP, IMAPS):
        eventually(f"port {p}", lambda: socket.create_connection(("127.0.0.1", p), timeout=1).close() or True)
    return c


def login_starttls():
    m = imaplib.IMAP4("127.0.0.1", IMAP)
    assert "LOGINDISABLED" in m.capabilities, m.capabilities
    m.starttls(ssl_context=unverified())
    m.login("alice@example.test", PASSWORD)
    return m


def test_imaplib_idle_flags_curl_and_mbsync(postfix):
    c = start()
    run = str(int(time.time()))
    try:
        smtp_deliver(PLAIN.format(n=run))
        smtp_deliver(MIXED.format(n=run).encode("latin-1"))
        eventually("both archived", lambda: c.query(
            "SELECT COUNT(*) FROM mailbox mb JOIN users u ON u.id = mb.user_id "
            "WHERE u.address = 'alice@example.test'")[0][0] == 2)

        # imaplib over STARTTLS
        m = login_starttls()
        typ, boxes = m.list()
        assert typ == "OK" and any(b'"INBOX"' in b or b" INBOX" in b for b in boxes), boxes
        assert any(b"\\Sent" in b for b in boxes), boxes
        typ, data = m.select("INBOX")
        assert typ == "OK" and data == [b"2"], data
        typ, data = m.search(None, "UNSEEN")
        assert data == [b"1 2"], data
        typ, data = m.search(None, "SUBJECT", f'"Budget 2027 {run}"')
        assert data == [b"1"], data
        typ, data = m.fetch("2", "(BODYSTRUCTURE ENVELOPE)")
        text = data[0].decode() if isinstance(data[0], bytes) else data[0][0].decode()
        assert "MIXED" in text.upper() and "AGENDA.PDF" in text.upper(), text
        typ, data = m.fetch("2", "(BODY.PEEK[1.1])")
        assert b"Bonjour =C3=A0 tous" in data[0][1], data
        typ, data = m.fetch("2", "(BODY.PEEK[2.HEADER.FIELDS (SUBJECT)])")
        assert data[0][1] == b"Subject: the forwarded one\r\n\r\n", data
        # STORE: \Seen over IMAP shows in the webmail (one unread left)
        typ, data = m.store("1", "+FLAGS", "(\\Seen \\Flagged)")
        assert typ == "OK" and b"\\Seen" in data[0], data
        w = Webmail(WEB)
        w.login("alice@example.test", PASSWORD)
        _, inbox = w.request("GET", "/mail/inbox")
        assert re.search(r'id="unseen-count"[^>]*>1<', inbox), inbox[:2000]
        # and the webmail marking it unread shows over IMAP
        entry = c.query("SELECT mb.id FROM mailbox mb JOIN messages m ON m.id = mb.message_id "
                        "WHERE m.subject = ?", f"Budget 2027 {run}")[0][0]
        r, _ = w.request("POST", f"/mail/m/{entry}/seen", {"csrf": w.csrf, "seen": "0"})
        assert r.status == 303
        typ, data = m.fetch("1", "(FLAGS)")
        assert b"\\Seen" not in data[0] and b"\\Flagged" in data[0], data
        # APPEND to Sent, COPY, EXPUNGE
        msg = (f"From: alice@example.test\r\nTo: xavier@remote.test\r\nSubject: appended {run}\r\n"
               f"Message-ID: <app-{run}@example.test>\r\n\r\nhi\r\n").encode()
        typ, data = m.append("Sent", "(\\Seen)", imaplib.Time2Internaldate(time.time()), msg)
        assert typ == "OK" and b"APPENDUID" in data[0], data
        typ, data = m.copy("1", "Sent")
        assert typ == "OK" and b"COPYUID" in data[0], data
        m.select("Sent")
        typ, data = m.search(None, "ALL")
        assert data == [b"1 2"], data
        m.store("2", "+FLAGS", "(\\Deleted)")
        typ, data = m.expunge()
        assert data == [b"2"], data
        # the copy expunged from Sent is still in INBOX, and still queued for the primary
        assert c.query("SELECT COUNT(*) FROM deliveries d JOIN messages m ON m.id = d.message_id "
                       "WHERE m.subject = ?", f"Budget 2027 {run}")[0][0] == 1

        # IDLE by raw commands: new mail shows without the client asking
        # (how fast is the bench's business, not this test's)
        m.select("INBOX")
        m.sock.settimeout(30)
        tag = m._new_tag().decode()
        m.send(f"{tag} IDLE\r\n".encode())
        assert m.readline().startswith(b"+"), "idle accepted"
        t0 = time.time()
        smtp_deliver(PLAIN.format(n=run + "-idle"))
        line = m.readline()
        while not line.endswith(b"EXISTS\r\n"):
            line = m.readline()
        took = time.time() - t0
        assert line == b"* 3 EXISTS\r\n", line
        print(f"IDLE saw new mail after {took:.2f} s")
        m.send(b"DONE\r\n")
        line = m.readline()
        while not line.startswith(tag.encode()):
            line = m.readline()
        assert b"OK" in line, line
        m.logout()

        # implicit TLS (993 style)
        s = imaplib.IMAP4_SSL("127.0.0.1", IMAPS, ssl_context=unverified())
        s.login("alice@example.test", PASSWORD)
        typ, data = s.status("INBOX", "(MESSAGES UNSEEN)")
        assert b"MESSAGES 3" in data[0], data
        s.logout()
        # wrong password, and plaintext LOGIN refused
        p = imaplib.IMAP4("127.0.0.1", IMAP)
        try:
            p.login("alice@example.test", PASSWORD)
            raise AssertionError("LOGIN before TLS accepted")
        except imaplib.IMAP4.error:
            pass
        s = imaplib.IMAP4_SSL("127.0.0.1", IMAPS, ssl_context=unverified())
        try:
            s.login("alice@example.test", "guess")
            raise AssertionError("a wrong password accepted")
        except imaplib.IMAP4.error as e:
            assert "AUTHENTICATIONFAILED" in str(e), e

        # curl imap:// (STARTTLS) and imaps://: one message, byte for byte
        uid, raw = c.query("SELECT mb.id, b.raw FROM mailbox mb JOIN messages m ON m.id = mb.message_id "
                           "JOIN message_blobs b ON b.message_id = m.id WHERE m.subject = ? AND mb.folder = 'inbox'",
                           f"Budget 2027 {run}")[0]
        for url, extra in ((f"imap://127.0.0.1:{IMAP}/INBOX;UID={uid}", ["--ssl-reqd"]),
                           (f"imaps://127.0.0.1:{IMAPS}/INBOX;UID={uid}", [])):
            got = subprocess.run(["curl", "-s", "-k", *extra, "-u", f"alice@example.test:{PASSWORD}", url],
                                 capture_output=True, timeout=30)
            assert got.returncode == 0, got.stderr
            assert got.stdout == raw, (url, got.stdout[:200])

        # mbsync pulls everything; each message equals the archive's bytes
        work = os.path.join(c.dir, "mbsync")
        rc = mbsync_config(c, work, patterns="INBOX Sent", expunge="None")
        got = subprocess.run(["mbsync", "-c", rc, "-a"], capture_output=True, text=True, timeout=120)
        assert got.returncode == 0, got.stdout + got.stderr
        local = []
        for folder in ("INBOX", "Sent"):
            for sub in ("new", "cur"):
                d = os.path.join(work, "mail", folder, sub)
                if os.path.isdir(d):
                    local += [open(os.path.join(d, n), "rb").read() for n in os.listdir(d)]
        archived = [r[0] for r in c.query(
            "SELECT b.raw FROM mailbox mb JOIN message_blobs b ON b.message_id = mb.message_id "
            "JOIN users u ON u.id = mb.user_id WHERE u.address = 'alice@example.test'")]
        # mbsync writes the local convention (LF) and adds its X-TUID tracking field
        local = [re.sub(rb"(?m)^X-TUID: [^\n]*\n", b"", m, count=1) for m in local]
        archived = [m.replace(b"\r\n", b"\n") for m in archived]
        assert len(local) == len(archived) == 4, (len(local), len(archived))
        assert sorted(local) == sorted(archived)

        # Trash, one folder for both: a mail app deletes (MOVE to \Trash),
        # the webmail lists it in its Corbeille and restores it, the mail
        # app sees it back in INBOX; emptied over IMAP, the archive keeps it
        t = login_starttls()
        typ, boxes = t.list()
        trash = [b for b in boxes if b"\\Trash" in b]
        assert len(trash) == 1 and trash[0].endswith(b"Trash"), boxes
        t.select("INBOX")
        typ, data = t.uid("SEARCH", None, "SUBJECT", f'"Budget 2027 {run}"')
        uid = data[0].split()[0]
        typ, data = t.uid("MOVE", uid, "Trash")
        assert typ == "OK", data
        typ, data = t.status("INBOX", "(MESSAGES)")
        assert b"MESSAGES 2" in data[0], data
        _, page = w.request("GET", "/mail/trash")
        assert f"Budget 2027 {run}" in page, page[:2000]
        entry = c.query("SELECT mb.id FROM mailbox mb JOIN messages m ON m.id = mb.message_id "
                        "WHERE m.subject = ? AND mb.folder = 'trash'", f"Budget 2027 {run}")[0][0]
        r, _ = w.request("POST", f"/mail/m/{entry}/restore", {"csrf": w.csrf})
        assert r.status == 303
        typ, data = t.status("INBOX", "(MESSAGES)")
        assert b"MESSAGES 3" in data[0], data
        typ, data = t.status("Trash", "(MESSAGES)")
        assert b"MESSAGES 0" in data[0], data
        t.select("INBOX")
        typ, data = t.search(None, "ALL")
        t.copy(data[0].split()[0], "Trash")
        t.select("Trash")
        t.store("1:*", "+FLAGS", "(\\Deleted)")
        typ, data = t.expunge()
        assert data == [b"1"], data
        assert c.query("SELECT COUNT(*) FROM mailbox mb JOIN users u ON u.id = mb.user_id "
                       "WHERE u.address = 'alice@example.test' AND mb.folder = 'trash'")[0][0] == 0
        assert c.query("SELECT COUNT(*) FROM messages WHERE subject = ?", f"Budget 2027 {run}")[0][0] == 1
        t.logout()
    finally:
        c.stop()


def mbsync_config(c, work, patterns="INBOX", expunge="Near"):
    """An mbsync configuration pulling from Continuity's IMAPS port into a
    Maildir under `work`."""
    os.makedirs(os.path.join(work, "mail"), exist_ok=True)
    rc = os.path.join(work, "mbsyncrc")
    with open(rc, "w") as f:
        f.write(f"""IMAPAccount cty
Host 127.0.0.1
Port {IMAPS}
User alice@example.test
Pass {PASSWORD}
SSLType IMAPS
CertificateFile {os.path.join(c.dir, "tls", "cert.pem")}

IMAPStore cty-remote
Account cty

MaildirStore cty-local
Path {work}/mail/
Inbox {work}/mail/INBOX
SubFolders Verbatim

Channel cty
Far :cty-remote:
Near :cty-local:
Patterns {patterns}
Create Near
Sync Pull
Expunge {expunge}
SyncState *
""")
    return rc


def local_inbox(work):
    """{Message-ID: maildir flags} of the local INBOX."""
    out = {}
    for sub in ("new", "cur"):
        d = os.path.join(work, "mail", "INBOX", sub)
        for name in os.listdir(d) if os.path.isdir(d) else []:
            raw = open(os.path.join(d, name), "rb").read()
            mid = re.search(rb"(?im)^Message-ID: <([^>]+)>", raw).group(1).decode()
            out[mid] = name.split(":2,", 1)[1] if ":2," in name else ""
    return out


def untagged(m, name):
    return [d.decode() if isinstance(d, bytes) else d for d in m.untagged_responses.pop(name, [])]


def test_a_mail_app_resyncs_after_changes_elsewhere(postfix):
    c = start()
    run = str(int(time.time()))
    try:
        for i in (1, 2, 3):
            smtp_deliver(PLAIN.format(n=f"{run}-{i}"))
        eventually("three archived", lambda: c.query(
            "SELECT COUNT(*) FROM mailbox mb JOIN users u ON u.id = mb.user_id "
            "WHERE u.address = 'alice@example.test'")[0][0] == 3)
        work = os.path.join(c.dir, "resync")
        rc = mbsync_config(c, work)
        got = subprocess.run(["mbsync", "-c", rc, "-a"], capture_output=True, text=True, timeout=120)
        assert got.returncode == 0, got.stdout + got.stderr
        ids = [f"plain-{run}-{i}@remote.test" for i in (1, 2, 3)]
        assert local_inbox(work) == {i: "" for i in ids}, local_inbox(work)

        # a QRESYNC client remembers where it stood
        m = login_starttls()
        assert "CONDSTORE" in m.capabilities and "QRESYNC" in m.capabilities, m.capabilities
        typ, data = m.enable("QRESYNC")
        assert typ == "OK", data
        m.select("INBOX")
        validity = int(untagged(m, "UIDVALIDITY")[0])
        modseq = int(untagged(m, "HIGHESTMODSEQ")[0])
        typ, data = m.uid("SEARCH", None, "ALL")
        uids = [int(u) for u in data[0].split()]
        m.logout()

        # meanwhile: read in the webmail, trashed in the webmail, and
        # expunged by another mail app
        w = Webmail(WEB)
        w.login("alice@example.test", PASSWORD)
        r, _ = w.request("POST", f"/mail/m/{uids[0]}/seen", {"csrf": w.csrf, "seen": "1"})
        assert r.status == 303
        r, _ = w.request("POST", f"/mail/m/{uids[1]}/trash", {"csrf": w.csrf})
        assert r.status == 303
        o = login_starttls()
        o.select("INBOX")
        o.uid("STORE", str(uids[2]), "+FLAGS.SILENT", "(\\Deleted)")
        # one QRESYNC session stays selected and hears the expunge as VANISHED
        q = login_starttls()
        q.enable("QRESYNC")
        q.select("INBOX")
        untagged(q, "VANISHED")
        o.expunge()
        o.logout()
        q.noop()
        assert untagged(q, "VANISHED") == [str(uids[2])], q.untagged_responses
        assert "EXPUNGE" not in q.untagged_responses, q.untagged_responses
        q.logout()

        # the app comes back: one SELECT tells what vanished and what changed
        m = login_starttls()
        m.enable("QRESYNC")
        typ, data = m._simple_command(
            "SELECT", "INBOX", f"(QRESYNC ({validity} {modseq} {uids[0]}:{uids[2]}))")
        assert typ == "OK", data
        m.state = "SELECTED"  # selected by a raw command imaplib does not follow
        gone = untagged(m, "VANISHED")
        assert gone == [f"(EARLIER) {uids[1]}:{uids[2]}"], gone
        fetched = untagged(m, "FETCH")
        assert len(fetched) == 1 and f"UID {uids[0]} " in fetched[0] and "\\Seen" in fetched[0], fetched
        assert "MODSEQ" in fetched[0], fetched
        # and UID FETCH … (CHANGEDSINCE … VANISHED) says the same
        typ, data = m.uid("FETCH", "1:*", f"(FLAGS) (CHANGEDSINCE {modseq} VANISHED)")
        assert typ == "OK", data
        assert untagged(m, "VANISHED") == [f"(EARLIER) {uids[1]}:{uids[2]}"]
        assert len(data) == 1 and b"\\Seen" in data[0], data
        # a conditional STORE on what changed since is refused, named
        typ, data = m.uid("STORE", str(uids[0]), f"(UNCHANGEDSINCE {modseq})", "+FLAGS", "(\\Flagged)")
        assert typ == "OK" and untagged(m, "MODIFIED") == [str(uids[0])], (typ, data)
        m.logout()

        # mbsync's second run: the read one is seen, the gone ones are gone
        got = subprocess.run(["mbsync", "-c", rc, "-a"], capture_output=True, text=True, timeout=120)
        assert got.returncode == 0, got.stdout + got.stderr
        assert local_inbox(work) == {ids[0]: "S"}, local_inbox(work)
    finally:
        c.stop()


def fetch_sections(m, n, specs):
    out = {}
    for spec in specs:
        typ, data = m.fetch(n, f"(BODY.PEEK[{spec}])")
        assert typ == "OK", (spec, data)
        parts = [d for d in data if isinstance(d, tuple)]
        out[spec] = parts[0][1] if parts else b""
    return out


def test_sections_equal_dovecots(postfix, authrelay):
    c = start()
    try:
        msgs = [MIXED.format(n="dv").encode("latin-1"), PLAIN.format(n="dv").encode()]
        specs = ["HEADER", "TEXT", "1", "1.MIME", "1.1", "1.2", "1.1.MIME", "2", "2.MIME",
                 "2.HEADER", "2.TEXT", "2.1", "3", "3.MIME", "HEADER.FIELDS (SUBJECT FROM)",
                 "HEADER.FIELDS.NOT (SUBJECT)"]
        dv = imaplib.IMAP4("127.0.0.1", 1143)
        dv.starttls(ssl_context=unverified())
        dv.login("alice@example.test", "secret-alice")
        try:
            dv.create("Conformance")
        except imaplib.IMAP4.error:
            pass
        typ, data = dv.select("Conformance")
        if int(data[0]) > 0:
            dv.store("1:*", "+FLAGS", "(\\Deleted)")
            dv.expunge()
        for raw in msgs:
            assert dv.append("Conformance", None, None, raw)[0] == "OK"
        dv.select("Conformance")
        ours = login_starttls()
        for raw in msgs:
            assert ours.append("INBOX", None, None, raw)[0] == "OK"
        ours.select("INBOX")
        for i in (1, 2):
            theirs = fetch_sections(dv, str(i), specs)
            mine = fetch_sections(ours, str(i), specs)
            for spec in specs:
                assert mine[spec] == theirs[spec], (i, spec, mine[spec][:300], theirs[spec][:300])
            # sizes and line counts in BODYSTRUCTURE agree too
            nums = lambda m: re.findall(rb'"(?:7BIT|8BIT|BASE64|QUOTED-PRINTABLE)" (\d+)', m.fetch(str(i), "(BODYSTRUCTURE)")[1][0].upper())
            assert nums(ours) == nums(dv), (nums(ours), nums(dv))
        ours.logout()
        dv.logout()
    finally:
        c.stop()


def test_mbsync_syncs_a_tree_of_folders_both_ways(postfix):
    """Issue 22: mbsync with `Create Both` and `Remove Both` keeps a tree of
    folders the same on both sides — folders made locally appear on the
    server with their mail (and in the webmail), the server's own (Sent,
    Trash, Drafts, Junk, Archive) appear locally, and an empty folder
    removed on one side goes on the other."""
    c = start()
    run = str(int(time.time()))
    try:
        smtp_deliver(PLAIN.format(n=f"{run}-tree"))
        eventually("archived", lambda: c.query(
            "SELECT COUNT(*) FROM mailbox mb JOIN users u ON u.id = mb.user_id "
            "WHERE u.address = 'alice@example.test'")[0][0] == 1)
        work = os.path.join(c.dir, "tree")
        rc = mbsync_config(c, work, patterns="*")
        with open(rc) as f:
            conf = f.read()
        # the sync state apart from the mailboxes, so a mailbox removed on
        # one side is told from one new on the other
        os.makedirs(os.path.join(work, "state"), exist_ok=True)
        conf = (conf.replace("Create Near", "Create Both\nRemove Both")
                .replace("Sync Pull", "Sync All").replace("Expunge Near", "Expunge Both")
                .replace("SyncState *", f"SyncState {work}/state/"))
        with open(rc, "w") as f:
            f.write(conf)
        # a tree made locally, one message filed two levels down, and an
        # empty folder
        for name in ("Projects", "Projects/2027", "Empty"):
            for sub in ("cur", "new", "tmp"):
                os.makedirs(os.path.join(work, "mail", name, sub), exist_ok=True)
        filed = PLAIN.format(n=f"{run}-filed").replace("plain-", "filed-")
        with open(os.path.join(work, "mail", "Projects/2027", "cur", f"{run}.1.local:2,S"), "w") as f:
            f.write(filed)

        def sync():
            got = subprocess.run(["mbsync", "-c", rc, "-a"], capture_output=True, text=True, timeout=120)
            assert got.returncode == 0, got.stdout + got.stderr

        sync()
        names = {r[0] for r in c.query(
            "SELECT f.name FROM folders f JOIN users u ON u.id = f.user_id "
            "WHERE u.address = 'alice@example.test'")}
        assert {"Projects", "Projects/2027", "Empty", "Drafts", "Junk", "Archive"} <= names, names
        # the filed message is on the server, in its folder, read
        rows = c.query(
            "SELECT mb.seen FROM mailbox mb JOIN folders f ON mb.folder = 'f' || f.id "
            "JOIN messages m ON m.id = mb.message_id WHERE f.name = 'Projects/2027' AND m.message_id_hdr = ?",
            f"filed-{run}-filed@remote.test")
        assert [tuple(r) for r in rows] == [(1,)], rows
        # the server's folders are made locally
        for name in ("INBOX", "Sent", "Trash", "Drafts", "Junk", "Archive"):
            assert os.path.isdir(os.path.join(work, "mail", name, "cur")), name
        # the webmail shows the same tree
        w = Webmail(WEB)
        w.login("alice@example.test", PASSWORD)
        _, page = w.request("GET", "/mail/folders")
        for name in ("Projects", "Projects/2027", "Empty"):
            assert f'data-folder="{name}"' in page, name

        # an empty folder removed locally goes on the server too; one
        # removed on the server goes locally
        subprocess.run(["rm", "-rf", os.path.join(work, "mail", "Empty")], check=True)
        m = imaplib.IMAP4_SSL("127.0.0.1", IMAPS, ssl_context=unverified())
        m.login("alice@example.test", PASSWORD)
        assert m.create("Gone")[0] == "OK"
        sync()
        assert m.delete("Gone")[0] == "OK"
        sync()
        names = {r[0] for r in c.query(
            "SELECT f.name FROM folders f JOIN users u ON u.id = f.user_id "
            "WHERE u.address = 'alice@example.test'")}
        assert "Empty" not in names and "Gone" not in names, names
        assert not os.path.exists(os.path.join(work, "mail", "Gone")), os.listdir(os.path.join(work, "mail"))
        assert "Projects/2027" in names
        m.logout()
    finally:
        c.stop()


def test_a_mail_app_and_the_webmail_share_their_drafts(postfix):
    """Issue 22: the webmail's Brouillons are the IMAP Drafts folder. A
    draft saved in the webmail is a \\Draft message there for a mail app
    (imaplib over TLS); a draft the mail app appends is listed in the
    webmail and opens in its compose page; the webmail's draft, deleted by
    the mail app, leaves the webmail."""
    c = start()
    run = str(int(time.time()))
    try:
        w = Webmail(WEB)
        w.login("alice@example.test", PASSWORD)
        r, _ = w.request("POST", "/mail/send", {
            "csrf": w.csrf, "action": "save", "from": "alice@example.test",
            "to": "bob@example.test", "bcc": "carol@example.test",
            "subject": f"Webmail draft {run}", "body": "begun in the browser"})
        assert r.status == 303, r.status
        m = imaplib.IMAP4_SSL("127.0.0.1", IMAPS, ssl_context=unverified())
        m.login("alice@example.test", PASSWORD)
        m.list()
        typ, data = m.select("Drafts")
        assert typ == "OK" and data[0] == b"1", data
        typ, data = m.fetch("1", "(FLAGS BODY.PEEK[])")
        flags, raw = data[0][0], data[0][1].decode()
        assert b"\\Draft" in flags, flags
        assert f"Subject: Webmail draft {run}" in raw and "Bcc: <carol@example.test>" in raw, raw
        assert "begun in the browser" in raw, raw

        # the mail app's own draft, as Thunderbird appends it
        theirs = (f"From: alice@example.test\r\nTo: dave@remote.test\r\n"
                  f"Subject: App draft {run}\r\nMessage-ID: <app-{run}@example.test>\r\n\r\n"
                  "begun in the mail app\r\n")
        typ, _ = m.append("Drafts", "(\\Draft \\Seen)", None, theirs.encode())
        assert typ == "OK"
        _, page = w.request("GET", "/mail/drafts")
        assert f"Webmail draft {run}" in page and f"App draft {run}" in page, page
        ids = re.findall(r'/mail/compose\?draft=(\d+)', page)
        assert len(ids) == 2, ids
        opened = [w.request("GET", f"/mail/compose?draft={i}")[1] for i in ids]
        assert any("begun in the mail app" in p and "dave@remote.test" in p for p in opened)

        # the mail app deletes the webmail's draft: gone from Brouillons
        typ, _ = m.store("1", "+FLAGS", "(\\Deleted)")
        assert typ == "OK"
        m.expunge()
        _, page = w.request("GET", "/mail/drafts")
        assert f"Webmail draft {run}" not in page and f"App draft {run}" in page, page
        m.logout()
    finally:
        c.stop()
