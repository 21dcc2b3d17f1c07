"""What an operator runs around the service: `continuity check-config`
before a restart reads everything a start would meet and changes nothing."""
import os
import sqlite3
import subprocess

from conftest import BIN, scratch


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
