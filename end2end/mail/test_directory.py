"""Directory sync against a real OpenLDAP slapd (scripts/peers ldap-start):
initial sync with two mail values per user, an alias change, a removed
user disabled, group restriction, ldaps with the CA, more than 1,000 entries
through paging (slapd answers at most 500 at once), and the failures that
must change nothing: bad password, slapd stopped, the disable guard.
Plus CSV import with per-line errors."""
import os
import subprocess

import pytest

from conftest import BIN, Continuity, scratch, peers

ADMIN = ["-x", "-H", "ldap://127.0.0.1:3890", "-D", "cn=admin,dc=example,dc=test", "-w", "admin-secret"]


def ldap(tool, ldif):
    subprocess.run([tool, *ADMIN], input=ldif, text=True, check=True, capture_output=True)


@pytest.fixture(scope="module")
def slapd():
    peers("ldap-start")
    yield os.path.join(peers("dir"), "ldap")
    peers("ldap-stop")


def users(c):
    rows = c.query(
        "SELECT u.address, u.source, u.disabled, "
        "COALESCE((SELECT group_concat(a.address, ' ') FROM user_aliases a WHERE a.user_id = u.id), '') "
        "FROM users u JOIN domains d ON d.id = u.domain_id WHERE d.name = 'example.test' ORDER BY u.address")
    return {a: (s, bool(dis), sorted(al.split())) for a, s, dis, al in rows}


def run(c, *args):
    return subprocess.run([BIN, *args], env=c.env, capture_output=True, text=True)


def test_directory_sync_against_slapd(slapd):
    c = Continuity(smtp_port=0)  # the CLI only
    pw = os.path.join(scratch("continuity-ldap-"), "bind.secret")
    with open(pw, "w") as f:
        f.write("admin-secret\n")
    base = ["directory", "set", "example.test", "--bind-dn", "cn=admin,dc=example,dc=test",
            "--bind-password-file", pw, "--base-dn", "ou=people,dc=example,dc=test"]
    # plain LDAP carries the bind password in clear: the operator says so
    r = run(c, *base, "--url", "ldap://127.0.0.1:3890")
    assert r.returncode != 0 and "in clear" in r.stderr, r.stderr
    c.cli(*base, "--url", "ldap://127.0.0.1:3890", "--allow-plaintext")
    # the conftest's local users (alice … dave) are never touched; make room
    # for the directory's own by using its addresses only where free
    before = users(c)
    assert all(s == "local" for s, _, _ in before.values())

    out = c.cli("directory", "test", "example.test")
    assert "bind ok: 4 users match" in out, out  # alice bob carol erin

    # dry run: a plan, nothing changed; local users with the same address stay local
    out = c.cli("directory", "sync", "example.test", "--dry-run")
    assert "is a local user: the directory does not change it" in out, out
    assert users(c) == before

    # a fresh domain for the directory's users
    c.cli("domain", "add", "dir.example", "--primary", "127.0.0.1:2526", "--tls", "none")
    ldap("ldapadd", "".join(
        f"dn: uid=d{u},ou=people,dc=example,dc=test\nobjectClass: inetOrgPerson\nuid: d{u}\ncn: D {u}\nsn: D\n"
        f"mail: {u}@dir.example\nmail: {u}.alias@dir.example\nmail: {u}@elsewhere.example\n\n"
        for u in ["ann", "ben", "cat", "dan", "eve", "fay"]))
    ldap("ldapmodify", "dn: cn=mailusers,ou=groups,dc=example,dc=test\nchangetype: modify\nadd: member\n"
         + "".join(f"member: uid=d{u},ou=people,dc=example,dc=test\n" for u in ["ann", "ben", "cat", "dan", "eve", "fay"]))

    def dir_users():
        rows = c.query(
            "SELECT u.address, u.source, u.disabled, "
            "COALESCE((SELECT group_concat(a.address, ' ') FROM user_aliases a WHERE a.user_id = u.id), '') "
            "FROM users u JOIN domains d ON d.id = u.domain_id WHERE d.name = 'dir.example' ORDER BY u.address")
        return {a: (s, bool(dis), sorted(al.split())) for a, s, dis, al in rows}

    def dset(*extra, url="ldap://127.0.0.1:3890", filt="(mail=*@dir.example)"):
        plain = ["--allow-plaintext"] if url.startswith("ldap://") else []
        c.cli("directory", "set", "dir.example", "--bind-dn", "cn=admin,dc=example,dc=test",
              "--bind-password-file", pw, "--base-dn", "ou=people,dc=example,dc=test",
              "--filter", filt, "--url", url, *plain, *extra)

    dset()
    out = c.cli("directory", "sync", "dir.example")
    assert "6 users: 6 to add" in out, out
    assert "ann@elsewhere.example is not in dir.example: ignored" in out
    u = dir_users()
    assert u["ann@dir.example"] == ("ldap", False, ["ann.alias@dir.example"])
    assert len(u) == 6
    # the synced user exists for mail at once (RCPT is checked against it)
    assert "applied" in out

    # alias change
    ldap("ldapmodify", "dn: uid=dben,ou=people,dc=example,dc=test\nchangetype: modify\n"
         "replace: mail\nmail: ben@dir.example\nmail: benjamin@dir.example\n")
    out = c.cli("directory", "sync", "dir.example")
    assert "1 to update" in out, out
    assert dir_users()["ben@dir.example"][2] == ["benjamin@dir.example"]

    # one user removed (1 of 6 = 17 %, under the 20 % guard): disabled, not deleted
    ldap("ldapdelete", "uid=dfay,ou=people,dc=example,dc=test\n")
    out = c.cli("directory", "sync", "dir.example")
    assert "1 to disable" in out, out
    assert dir_users()["fay@dir.example"] == ("ldap", True, ["fay.alias@dir.example"])

    # the guard: a filter that suddenly matches little would disable most
    dset(filt="(mail=ann@dir.example)")
    r = run(c, "directory", "sync", "dir.example")
    assert r.returncode != 0 and "refused: this run would disable 4 of 5" in r.stderr, r.stderr
    assert sum(1 for v in dir_users().values() if not v[1]) == 5, "nothing changed"
    show = c.cli("directory", "show", "dir.example")
    assert "FAILED" in show and "refused" in show

    # group restriction: ben leaves the group, so he is disabled
    ldap("ldapmodify", "dn: cn=mailusers,ou=groups,dc=example,dc=test\nchangetype: modify\n"
         "delete: member\nmember: uid=dben,ou=people,dc=example,dc=test\n")
    dset("--group", "cn=mailusers,ou=groups,dc=example,dc=test")
    out = c.cli("directory", "sync", "dir.example")
    assert "ben@dir.example (disabled)" in out, out

    # ldaps: with the CA it works; without it, a TLS error and nothing changed
    dset("--ca", os.path.join(slapd, "ca.pem"), url="ldaps://127.0.0.1:6360")
    assert "bind ok: 5 users match" in c.cli("directory", "test", "dir.example")
    dset(url="ldaps://127.0.0.1:6360")
    r = run(c, "directory", "sync", "dir.example")
    assert r.returncode != 0 and "cannot reach the directory" in r.stderr, r.stderr

    # bad password: refused, nothing changed
    state = dir_users()
    with open(pw + ".bad", "w") as f:
        f.write("wrong\n")
    c.cli("directory", "set", "dir.example", "--url", "ldap://127.0.0.1:3890", "--allow-plaintext", "--bind-dn",
          "cn=admin,dc=example,dc=test", "--bind-password-file", pw + ".bad",
          "--base-dn", "ou=people,dc=example,dc=test", "--filter", "(mail=*@dir.example)")
    r = run(c, "directory", "sync", "dir.example")
    assert r.returncode != 0 and "invalid credentials" in r.stderr, r.stderr
    assert dir_users() == state

    # more than 1,000 entries: slapd answers 500 at a time; paging gets them all
    c.cli("domain", "add", "bulk.example", "--primary", "127.0.0.1:2526", "--tls", "none")
    ldap("ldapadd", "".join(
        f"dn: uid=b{i},ou=people,dc=example,dc=test\nobjectClass: inetOrgPerson\nuid: b{i}\ncn: B {i}\nsn: B\n"
        f"mail: user{i}@bulk.example\n\n" for i in range(1100)))
    c.cli("directory", "set", "bulk.example", "--url", "ldap://127.0.0.1:3890", "--allow-plaintext", "--bind-dn",
          "cn=admin,dc=example,dc=test", "--bind-password-file", pw,
          "--base-dn", "ou=people,dc=example,dc=test", "--filter", "(mail=*@bulk.example)")
    out = c.cli("directory", "sync", "bulk.example")
    assert "1100 users: 1100 to add" in out, out[:300]
    n = c.query("SELECT COUNT(*) FROM users u JOIN domains d ON d.id = u.domain_id WHERE d.name = 'bulk.example'")[0][0]
    assert n == 1100

    # slapd stopped: an error, nothing changed
    state = dir_users()
    dset()
    peers("ldap-stop")
    try:
        r = run(c, "directory", "sync", "dir.example")
        assert r.returncode != 0 and "cannot reach the directory" in r.stderr, r.stderr
        assert dir_users() == state
    finally:
        peers("ldap-start")


def test_csv_import_checks_every_line():
    c = Continuity(smtp_port=0)
    d = scratch("continuity-csv-")
    bad = os.path.join(d, "bad.csv")
    with open(bad, "w") as f:
        f.write("address,name,aliases\nzoe@example.test,\"Zoe, Sales\",zoe.s@example.test\n"
                "nope,x,\nyan@other.test,Yan,\n")
    r = run(c, "directory", "import-csv", "example.test", bad)
    assert r.returncode != 0
    assert "line 3: \"nope\" is not an email address" in r.stderr, r.stderr
    assert "line 4: yan@other.test is not in example.test" in r.stderr
    assert "zoe@example.test" not in users(c), "nothing imported"
    good = os.path.join(d, "good.csv")
    with open(good, "w") as f:
        f.write("zoe@example.test,\"Zoe, Sales\",zoe.s@example.test;z@example.test\nalice@example.test,Alice Martin,\n")
    out = c.cli("directory", "import-csv", "example.test", good)
    assert "1 to add, 1 to update" in out, out
    u = users(c)
    assert u["zoe@example.test"] == ("local", False, ["z@example.test", "zoe.s@example.test"])
    # again: nothing to do
    out = c.cli("directory", "import-csv", "example.test", good)
    assert "0 to add, 0 to update" in out, out


def test_a_synced_user_logs_in_with_the_emergency_password_only(slapd):
    """The directory's own password never opens the webmail (the directory
    is usually down with the rest of the site during an outage): the synced
    user sets an emergency password from the invitation, then logs in."""
    import http.client
    import urllib.parse

    web = int(os.environ.get("CONTINUITY_DIR_WEB_PORT", "2632"))
    c = Continuity(smtp_port=int(os.environ.get("CONTINUITY_DIR_SMTP_PORT", "2631")))
    c.env["CONTINUITY_WEB_LISTEN"] = f"127.0.0.1:{web}"
    c.env["CONTINUITY_WEB_PUBLIC_URL"] = f"http://127.0.0.1:{web}"
    pw = os.path.join(scratch("continuity-ldap-"), "bind.secret")
    with open(pw, "w") as f:
        f.write("admin-secret")
    ldap("ldapadd", "dn: uid=sam,ou=people,dc=example,dc=test\nobjectClass: inetOrgPerson\nuid: sam\n"
         "cn: Sam Synced\nsn: Synced\nmail: sam@sso.example\nuserPassword: secret-sam\n")
    c.cli("domain", "add", "sso.example", "--primary", "127.0.0.1:2526", "--tls", "none")
    c.cli("directory", "set", "sso.example", "--url", "ldap://127.0.0.1:3890", "--allow-plaintext", "--bind-dn",
          "cn=admin,dc=example,dc=test", "--bind-password-file", pw,
          "--base-dn", "ou=people,dc=example,dc=test", "--filter", "(mail=*@sso.example)")
    assert "1 users: 1 to add" in c.cli("directory", "sync", "sso.example")
    c.start()

    def post(path, fields, cookie=None):
        conn = http.client.HTTPConnection("127.0.0.1", web, timeout=10)
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Origin": f"http://127.0.0.1:{web}"}
        if cookie:
            headers["Cookie"] = cookie
        conn.request("POST", path, urllib.parse.urlencode(fields), headers)
        r = conn.getresponse()
        r.read()
        return r

    try:
        r = post("/auth/login", {"address": "sam@sso.example", "password": "secret-sam"})
        assert r.status == 303 and "error=invalid" in r.getheader("Location"), r.getheader("Location")
        link = c.cli("user", "invite", "sam@sso.example").strip().splitlines()[-1]
        token = urllib.parse.parse_qs(urllib.parse.urlparse(link).query)["t"][0]
        new = "violet-Harbour-quartz-93"
        r = post("/auth/set-password", {"t": token, "password": new, "confirm": new})
        assert r.status == 303 and r.getheader("Location").startswith("/login?set=1"), r.getheader("Location")
        r = post("/auth/login", {"address": "sam@sso.example", "password": new})
        assert r.status == 303 and r.getheader("Location") == "/mail/inbox", r.getheader("Location")
        cookie = r.getheader("Set-Cookie").split(";")[0]
        conn = http.client.HTTPConnection("127.0.0.1", web, timeout=10)
        conn.request("GET", "/mail/inbox", headers={"Cookie": cookie, "Accept": "text/html"})
        page = conn.getresponse()
        body = page.read().decode()
        assert page.status == 200 and "sam@sso.example" in body
    finally:
        c.stop()
