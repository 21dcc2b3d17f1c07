"""Load helper (run by scripts/load): a flood and slow clients against a real
`continuity serve`, and what it did with them. Not a test: it reports.

1. 1,000 SMTP sessions held open at once from 40 loopback addresses
   (127.0.0.2 …), then each sends its messages (a unique Message-ID each);
2. meanwhile slowloris clients from 127.0.0.200: SMTP, IMAP and HTTP
   connections that send a byte now and then and never finish;
3. 200 webmail users logging in and opening their inbox and a search at once;
4. and while the slow clients hold on, a normal client of each kind from
   another address still gets served.
Then: sessions served, refusals by reason, peak memory, and whether every
acknowledged message is stored.

    load.py PID SMTP_PORT IMAP_PORT WEB_PORT DB USERS_PASSWORD"""
import asyncio
import collections
import os
import sqlite3
import ssl
import sys
import time
import urllib.parse

PID, SMTP, IMAP, WEB = (int(a) for a in sys.argv[1:5])
DB, PASSWORD = sys.argv[5], sys.argv[6]
SESSIONS, SOURCES, PER_SESSION = 1000, 40, 2
SLOW = 150
USERS = 200
RUN = f"load-{int(time.time())}"
refusals = collections.Counter()
acked = []
served = collections.Counter()
peak_rss = [0]


def rss_kb():
    with open(f"/proc/{PID}/status") as f:
        fields = dict(line.split(":", 1) for line in f if ":" in line)
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


async def watch_memory(stop):
    while not stop.is_set():
        try:
            rss, _ = rss_kb()
            peak_rss[0] = max(peak_rss[0], rss)
        except (OSError, KeyError):
            pass
        await asyncio.sleep(0.2)


async def reply(r):
    lines = []
    while True:
        line = await r.readline()
        if not line:
            return "closed"
        lines.append(line.decode(errors="replace").rstrip())
        if len(line) < 4 or line[3:4] != b"-":
            return " ".join(lines)


def refused(why):
    # a reason without the parts that vary
    refusals[why[:60]] += 1


async def smtp_session(n, ready, go):
    src = f"127.0.0.{2 + n % SOURCES}"
    try:
        r, w = await asyncio.open_connection("127.0.0.1", SMTP, local_addr=(src, 0))
    except OSError as e:
        refused(f"connect: {e.strerror}")
        ready.release()
        return
    try:
        banner = await reply(r)
        if not banner.startswith("220"):
            refused(banner)
            return
        w.write(b"EHLO load.test\r\n")
        await w.drain()
        if not (await reply(r)).startswith("250"):
            return
        ready.release()
        await go.wait()
        for i in range(PER_SESSION):
            mid = f"{RUN}-{n}-{i}"
            w.write(b"MAIL FROM:<s@remote.test>\r\nRCPT TO:<user%d@example.test>\r\nDATA\r\n" % (n % USERS))
            await w.drain()
            for _ in range(3):
                rep = await reply(r)
                if rep[:1] not in ("2", "3"):
                    refused(rep)
                    return
            w.write(f"Subject: {mid}\r\nMessage-ID: <{mid}@load.test>\r\n\r\n{'x' * 2000}\r\n.\r\n".encode())
            await w.drain()
            rep = await reply(r)
            if rep.startswith("250"):
                acked.append(mid)
            else:
                refused(rep)
                return
        served["smtp sessions"] += 1
        w.write(b"QUIT\r\n")
        await w.drain()
    except (OSError, asyncio.IncompleteReadError) as e:
        refused(f"io: {e}")
    finally:
        if not w.is_closing():
            w.close()


SLOW_FOR = 80  # seconds the slow clients keep trying (past IMAP's 1-minute login deadline)


async def slow_client(port, kind, hello, closed_by_server):
    """Connect from 127.0.0.200 and send one byte every 2 s, never finishing
    a line; note when (and whether) the server ends it."""
    try:
        r, w = await asyncio.open_connection("127.0.0.1", port, local_addr=("127.0.0.200", 0))
    except OSError:
        refusals[f"slow {kind}: connect refused"] += 1
        return
    t0 = time.time()

    async def until_closed():
        seen = b""
        while True:
            data = await r.read(512)
            if not data:
                return seen
            seen += data[:200]

    reader = asyncio.create_task(until_closed())
    try:
        for ch in hello:
            if reader.done() or time.time() - t0 > SLOW_FOR:
                break
            w.write(bytes([ch]))
            await w.drain()
            await asyncio.wait([reader], timeout=2)
        if reader.done():
            seen = reader.result()
            if b"Too many connections" in seen[:120]:
                refusals[f"slow {kind}: {seen[:60].decode(errors='replace').strip()}"] += 1
            else:
                closed_by_server[kind].append(time.time() - t0)
    except (OSError, ConnectionError):
        closed_by_server[kind].append(time.time() - t0)
    finally:
        reader.cancel()
        w.close()


async def http(method, path, body=None, cookie=None):
    r, w = await asyncio.open_connection("127.0.0.1", WEB)
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{WEB}\r\nAccept: text/html\r\nConnection: close\r\n"
    if cookie:
        head += f"Cookie: {cookie}\r\n"
    if body is not None:
        data = urllib.parse.urlencode(body).encode()
        head += f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(data)}\r\n"
    w.write(head.encode() + b"\r\n" + (data if body is not None else b""))
    await w.drain()
    raw = await r.read()
    w.close()
    status = int(raw.split(b" ", 2)[1]) if raw.startswith(b"HTTP/") else 0
    headers = raw.split(b"\r\n\r\n", 1)[0].decode(errors="replace")
    return status, headers


async def webmail_user(n, times):
    t0 = time.time()
    try:
        status, headers = await http("POST", "/auth/login",
                                     {"address": f"user{n}@example.test", "password": PASSWORD})
        cookie = next((h.split(":", 1)[1].split(";")[0].strip() for h in headers.split("\r\n")
                       if h.lower().startswith("set-cookie:") and "continuity=" in h), None)
        if status != 303 or not cookie:
            where = next((h for h in headers.split("\r\n") if h.lower().startswith("location:")), "")
            refused(f"web login: {status} {where}")
            return
        times["login"].append(time.time() - t0)
        for path in ["/mail/inbox", "/mail/search?q=load"]:
            t = time.time()
            status, _ = await http("GET", path, cookie=cookie)
            if status != 200:
                refused(f"web {path}: {status}")
                return
            times[path.split("?")[0]].append(time.time() - t)
        served["webmail users"] += 1
    except OSError as e:
        refused(f"web: {e}")


async def normal_clients():
    """One ordinary client of each kind, from 127.0.0.150, while slow ones hold on."""
    ok = {}
    try:
        r, w = await asyncio.open_connection("127.0.0.1", SMTP, local_addr=("127.0.0.150", 0))
        ok["smtp"] = (await reply(r)).startswith("220")
        w.close()
    except OSError:
        ok["smtp"] = False
    try:
        r, w = await asyncio.open_connection("127.0.0.1", IMAP, local_addr=("127.0.0.150", 0))
        ok["imap"] = (await asyncio.wait_for(r.readline(), 5)).startswith(b"* OK")
        w.close()
    except (OSError, asyncio.TimeoutError):
        ok["imap"] = False
    try:
        ok["web"] = (await http("GET", "/login"))[0] == 200
    except OSError:
        ok["web"] = False
    return ok


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round((len(v) - 1) * p)))] if v else float("nan")


async def main():
    stop = asyncio.Event()
    mem = asyncio.create_task(watch_memory(stop))
    baseline, _ = rss_kb()

    # slow clients first: they hold on while everything else runs
    closed = collections.defaultdict(list)
    slow = [asyncio.create_task(slow_client(SMTP, "smtp", b"EHLO slow.test\r\n" * 40, closed)) for _ in range(SLOW)]
    slow += [asyncio.create_task(slow_client(IMAP, "imap", b"a CAPABILITY\r\n" * 40, closed)) for _ in range(SLOW)]
    slow += [asyncio.create_task(slow_client(WEB, "http", b"GET /login HTTP/1.1\r\nX-Slow: " + b"a" * 400, closed))
             for _ in range(SLOW)]
    await asyncio.sleep(1)

    # 1,000 SMTP sessions held open together, then all send
    ready, go = asyncio.Semaphore(0), asyncio.Event()
    t0 = time.time()
    sessions = [asyncio.create_task(smtp_session(n, ready, go)) for n in range(SESSIONS)]
    for _ in range(SESSIONS):
        await asyncio.wait_for(ready.acquire(), 120)
    held = time.time() - t0
    normal = await normal_clients()
    go.set()
    await asyncio.gather(*sessions)
    smtp_took = time.time() - t0

    # 200 webmail users at once
    times = collections.defaultdict(list)
    t1 = time.time()
    await asyncio.gather(*(webmail_user(n, times) for n in range(USERS)))
    web_took = time.time() - t1

    # the slow clients keep trying until they give up or are sent away
    await asyncio.gather(*slow, return_exceptions=True)
    stop.set()
    await mem
    _, hwm = rss_kb()
    after, _ = rss_kb()

    con = sqlite3.connect(f"file:{DB}?mode=ro", uri=True, timeout=30)
    stored = {s for (s,) in con.execute("SELECT subject FROM messages WHERE subject LIKE ?", (RUN + "-%",))}
    con.close()
    lost = [m for m in acked if m not in stored]

    print(f"SMTP: {SESSIONS} sessions from {SOURCES} addresses held open together after {held:.1f} s; "
          f"{served['smtp sessions']} served to the end, {len(acked)} messages acknowledged in {smtp_took:.1f} s")
    print(f"webmail: {served['webmail users']} of {USERS} users logged in, read their inbox and searched in "
          f"{web_took:.1f} s; login p50 {pct(times['login'], .5) * 1000:.0f} ms p95 {pct(times['login'], .95) * 1000:.0f} ms; "
          f"inbox p50 {pct(times['/mail/inbox'], .5) * 1000:.0f} ms p95 {pct(times['/mail/inbox'], .95) * 1000:.0f} ms; "
          f"search p95 {pct(times['/mail/search'], .95) * 1000:.0f} ms")
    for kind in ["smtp", "imap", "http"]:
        c = closed[kind]
        print(f"slowloris {kind}: {SLOW} tried from one address for up to {SLOW_FOR} s; "
              f"refused at once: {sum(n for w, n in refusals.items() if w.startswith('slow ' + kind))}; "
              f"ended by the server: {len(c)}" + (f" (after {pct(c, .5):.0f} s median)" if c else "")
              + "; the rest still held within the per-address limit")
    print(f"meanwhile, ordinary clients from another address served: {normal}")
    print("refusals by reason:")
    for why, n in refusals.most_common():
        print(f"  {n:6d}  {why}")
    print(f"memory: {baseline / 1024:.0f} MB before, peak {max(peak_rss[0], hwm) / 1024:.0f} MB, "
          f"{after / 1024:.0f} MB after")
    print(f"nothing lost: {len(acked) - len(lost)} of {len(acked)} acknowledged messages stored"
          + ("" if not lost else f" — LOST {len(lost)}, e.g. {lost[:3]}"))
    return 1 if lost else 0


sys.exit(asyncio.run(main()))
