"""The Debian package, built with cargo-deb from the binary under test and
installed with apt into this machine's own root (no chroot, no prefix: the
real /usr/bin, /etc, /var/lib, the unit in systemd's directory): the
packaged binary answers --version and check-config as its own user, the
unit passes systemd-analyze verify with the packaged man page, the service
started as the continuity user with the packaged configuration serves the
web from the packaged site. The package is purged at the end."""
import glob
import os
import shutil
import subprocess
import urllib.request

from conftest import ROOT, wait_port

WEB = int(os.environ.get("CONTINUITY_PACKAGE_WEB_PORT", "2653"))
SMTP = int(os.environ.get("CONTINUITY_PACKAGE_SMTP_PORT", "2652"))
APT_ENV = dict(os.environ, DEBIAN_FRONTEND="noninteractive")


def run(*cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def purge():
    run("apt-get", "purge", "-y", "-qq", "continuity", env=APT_ENV)
    shutil.rmtree("/var/lib/continuity", ignore_errors=True)
    shutil.rmtree("/etc/continuity", ignore_errors=True)
    run("userdel", "continuity")
    run("groupdel", "continuity")


def test_the_debian_package_installs_checks_and_serves():
    assert os.geteuid() == 0, "installs a package: run as root (as scripts/test does)"
    r = run(os.path.join(ROOT, "scripts", "package"), "--debug", "--no-build", cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    debs = sorted(glob.glob(os.path.join(ROOT, "target", "debian", "continuity_*.deb")),
                  key=os.path.getmtime)
    assert debs, r.stdout
    deb = debs[-1]
    listing = run("dpkg-deb", "--contents", deb).stdout
    for path in ["./usr/bin/continuity", "./etc/continuity/continuity.toml",
                 "continuity.service", "./usr/share/man/man1/continuity.1",
                 "./usr/share/man/man1/continuity-backup.1",
                 "./usr/share/bash-completion/completions/continuity",
                 "./usr/share/continuity/site/pkg/", "alerts.yml"]:
        assert path in listing, (path, listing)

    purge()
    try:
        r = run("apt-get", "install", "-y", "-qq", deb, env=APT_ENV)
        assert r.returncode == 0, r.stdout + r.stderr
        r = run("/usr/bin/continuity", "--version")
        assert r.returncode == 0 and r.stdout.startswith("continuity "), r.stdout + r.stderr
        assert run("getent", "passwd", "continuity").returncode == 0
        conf = "/etc/continuity/continuity.toml"
        st = os.stat(conf)
        assert oct(st.st_mode & 0o777) == "0o640", oct(st.st_mode)
        r = run("runuser", "-u", "continuity", "--", "/usr/bin/continuity", "--config", conf,
                "check-config")
        assert r.returncode == 0, r.stdout + r.stderr
        assert "the configuration is ready" in r.stdout, r.stdout

        unit = [p for p in run("dpkg", "-L", "continuity").stdout.splitlines()
                if p.endswith("/continuity.service")]
        assert unit, "no unit installed"
        r = run("systemd-analyze", "verify", unit[0])
        assert r.returncode == 0 and not (r.stdout + r.stderr).strip(), r.stdout + r.stderr
        assert run("man", "-w", "continuity").returncode == 0

        # started by hand as the unit would (other ports): the packaged site
        env = {"PATH": "/usr/bin:/bin", "CONTINUITY_SERVER_DATA_DIR": "/var/lib/continuity",
               "CONTINUITY_SMTP_LISTEN": f"127.0.0.1:{SMTP}",
               "CONTINUITY_WEB_LISTEN": f"127.0.0.1:{WEB}"}
        p = subprocess.Popen(["/usr/bin/continuity", "--config", conf, "serve"], env=env,
                             user="continuity", group="continuity", extra_groups=[],
                             cwd="/var/lib/continuity", stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        try:
            wait_port(WEB)
            with urllib.request.urlopen(f"http://127.0.0.1:{WEB}/login", timeout=10) as resp:
                page = resp.read().decode()
            assert resp.status == 200 and "/pkg/" in page, page[:500]
            wasm = [f for f in os.listdir("/usr/share/continuity/site/pkg") if f.endswith(".wasm")]
            assert wasm
            with urllib.request.urlopen(f"http://127.0.0.1:{WEB}/pkg/{wasm[0]}", timeout=10) as resp:
                assert resp.status == 200 and resp.read(4) == b"\0asm"
            with urllib.request.urlopen(f"http://127.0.0.1:{WEB}/readyz", timeout=10) as resp:
                assert resp.status == 200
            # its data went where the package put it, the user's alone
            st = os.stat("/var/lib/continuity/continuity.db")
            assert st.st_mode & 0o077 == 0
        finally:
            p.terminate()
            out, _ = p.communicate(timeout=30)
        assert p.returncode == 0, out[-2000:]
    finally:
        purge()
    assert not os.path.exists("/usr/bin/continuity")
