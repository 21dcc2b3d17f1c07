"""`/metrics` scraped while mail flows to a real Postfix primary, through an
outage and back: the counters move as mail is accepted, refused, held and
delivered; the exposition parses with Prometheus' own Python parser; no
label ever carries an address."""
import json
import os
import re
import smtplib
import time
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from conftest import Continuity, eventually, peers, settled, wait_port

SMTP_PORT = int(os.environ.get("CONTINUITY_METRICS_SMTP_PORT", "2645"))
METRICS_PORT = int(os.environ.get("CONTINUITY_METRICS_PORT", "2646"))


CONTRIB = os.path.join(os.path.dirname(__file__), "..", "..", "contrib", "prometheus")


def exposition():
    with urllib.request.urlopen(f"http://127.0.0.1:{METRICS_PORT}/metrics", timeout=10) as r:
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), r.headers
        return r.read().decode()


def scrape():
    samples = {}
    for family in text_string_to_metric_families(exposition()):
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return samples


def names():
    """Every name a query may use: families (counters with `_total`),
    samples (`_bucket`, `_count`…)."""
    out = set()
    for family in text_string_to_metric_families(exposition()):
        out.add(family.name)
        if family.type == "counter":
            out.add(family.name + "_total")
        out.update(s.name for s in family.samples)
    return out


def value(samples, name, **labels):
    """The sum over the series of `name` whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


def send(port, rcpt, subject):
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        s.sendmail("s@remote.test", [rcpt], f"Subject: {subject}\r\n\r\nbody\r\n")


def test_metrics_follow_the_mail_through_an_outage(postfix):
    c = Continuity(smtp_port=SMTP_PORT)
    c.env["CONTINUITY_METRICS_LISTEN"] = f"127.0.0.1:{METRICS_PORT}"
    c.env["CONTINUITY_SMTP_SELF_SIGNED"] = "true"
    c.start()
    try:
        wait_port(METRICS_PORT)
        before = scrape()
        assert value(before, "continuity_db_up") == 1
        assert value(before, "continuity_build_info") == 1
        assert value(before, "process_resident_memory_bytes") > 1e6
        assert value(before, "process_open_fds") > 0
        # the self-signed certificate's expiry, a year ahead
        expiry = value(before, "continuity_tls_certificate_expiry_timestamp_seconds")
        assert expiry > time.time() + 300 * 86400, expiry

        for i, u in enumerate(["alice", "bob", "carol", "erin", "alice"]):
            send(c.smtp_port, f"{u}@example.test", f"metrics {i}")
        # refused: a user the domain does not have, and a relay attempt
        with smtplib.SMTP("127.0.0.1", c.smtp_port, timeout=10) as s:
            s.ehlo()
            s.mail("s@remote.test")
            assert s.rcpt("nobody@example.test")[0] == 550
            assert s.rcpt("x@elsewhere.test")[0] >= 500
        settled(c)

        after = scrape()
        delta = lambda name, **l: value(after, name, **l) - value(before, name, **l)  # noqa: E731
        assert delta("continuity_smtp_messages_accepted_total", listener="mx") == 5
        assert delta("continuity_smtp_sessions_total", listener="mx") >= 6
        assert delta("continuity_smtp_refusals_total", listener="mx", status="5.1.1") == 1
        assert delta("continuity_smtp_refusals_total", listener="mx") >= 2
        assert delta("continuity_ingest_commit_seconds_count") == 5
        assert delta("continuity_deliveries_total", outcome="delivered") == 5
        assert delta("continuity_delivery_latency_seconds_count") == 5
        assert value(after, "continuity_domain_state", domain="example.test", state="normal") == 1
        assert value(after, "continuity_domain_state", domain="example.test", state="outage") == 0
        assert value(after, "continuity_queue_deliveries", domain="example.test") == 0
        eventually("probes counted", lambda: value(
            scrape(), "continuity_probes_total", domain="example.test", result="ok") >= 1)

        # the primary goes down: the domain's state and its held mail show
        peers("outage")
        try:
            eventually("the outage seen", lambda: value(
                scrape(), "continuity_domain_state", domain="example.test", state="outage") == 1,
                timeout=30)
            for i in range(3):
                send(c.smtp_port, "carol@example.test", f"held {i}")
            eventually("three held", lambda: value(
                scrape(), "continuity_held_deliveries", domain="example.test") == 3, timeout=30)
            during = scrape()
            assert value(during, "continuity_oldest_held_age_seconds", domain="example.test") > 0
            assert value(during, "continuity_queue_deliveries", domain="example.test",
                         state="outage") == 3
            assert value(during, "continuity_probes_total", domain="example.test",
                         result="failed") >= 1
        finally:
            peers("recover")
        eventually("all delivered after the outage", lambda: value(
            scrape(), "continuity_held_deliveries", domain="example.test") == 0, timeout=90)
        settled(c)
        end = scrape()
        assert value(end, "continuity_deliveries_total", outcome="delivered") \
            - value(before, "continuity_deliveries_total", outcome="delivered") == 8
        eventually("back to normal", lambda: value(
            scrape(), "continuity_domain_state", domain="example.test", state="normal") == 1,
            timeout=30)

        # bounded labels: never an address; the same families every scrape
        for (name, labels) in end:
            for k, v in labels:
                assert "@" not in v, (name, k, v)
        # the shipped alert rules and dashboard query only what is served
        served = names()
        with open(os.path.join(CONTRIB, "alerts.yml")) as f:
            rules = f.read()
        with open(os.path.join(CONTRIB, "grafana-dashboard.json")) as f:
            board = json.load(f)
        queries = rules + "\n".join(t["expr"] for p in board["panels"] for t in p["targets"])
        used = set(re.findall(r"\b((?:continuity|process)_[a-z_]+)", queries))
        assert len(used) >= 15, used
        assert used <= served, sorted(used - served)
        # only /metrics on this port
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{METRICS_PORT}/", timeout=10)
            raise AssertionError("/ answered on the metrics port")
        except urllib.error.HTTPError as e:
            assert e.code == 404
    finally:
        c.stop()
