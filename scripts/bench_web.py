"""Web weight bench helper (run by scripts/bench-web): what a browser
downloads and waits for, page by page, from a running demo. Every request
says what Chromium says (Accept-Encoding: gzip, deflate, br, zstd); bytes
are counted as they come off the socket (headers and encoded body).

- cold: the first visit with an empty cache: the login page, the front's
  files it links (CSS, JS, WASM), logging in, the inbox;
- warm: a repeat visit: the page alone (the front's files are cached for
  a year under their version);
- per page (login, inbox, message, search, compose, Control Panel): the
  bytes of the page and its server time (the whole HTTP round trip), p50
  and p95 over ROUNDS requests, each a different page where there is one.

    python3 bench_web.py WEB_PORT
"""
import os
import re
import socket
import sys
import time
import urllib.parse

PORT = int(sys.argv[1])
ROUNDS = int(os.environ.get("ROUNDS", "20"))
PW = "lantern-orchid-2026"
ACCEPT = "gzip, deflate, br, zstd"


def http(method, path, body=None, cookie=None, accept=ACCEPT):
    """(milliseconds, status, headers, bytes on the wire, body as sent)"""
    s = socket.create_connection(("127.0.0.1", PORT))
    head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{PORT}\r\nAccept: text/html\r\n"
            f"Accept-Encoding: {accept}\r\nConnection: close\r\n")
    data = b""
    if cookie:
        head += f"Cookie: {cookie}\r\n"
    if body is not None:
        data = urllib.parse.urlencode(body).encode()
        head += ("Content-Type: application/x-www-form-urlencoded\r\n"
                 f"Origin: http://127.0.0.1:{PORT}\r\nContent-Length: {len(data)}\r\n")
    t0 = time.perf_counter()
    s.sendall(head.encode() + b"\r\n" + data)
    raw = b""
    while chunk := s.recv(1 << 16):
        raw += chunk
    t = (time.perf_counter() - t0) * 1000
    s.close()
    headers, _, payload = raw.partition(b"\r\n\r\n")
    status = int(raw.split(b" ", 2)[1])
    return t, status, headers.decode(errors="replace"), len(raw), payload


def header(headers, name):
    m = re.search(rf"(?im)^{name}:\s*([^\r\n]+)", headers)
    return m.group(1).strip() if m else ""


def login(address):
    _, status, headers, n, _ = http("POST", "/auth/login", {"address": address, "password": PW})
    cookies = re.findall(r"(?im)^set-cookie:\s*([^=;\s]+=[^;]*)", headers)
    assert status == 303 and cookies, (status, headers)
    return "; ".join(cookies), header(headers, "location"), n


def plain(path, cookie):
    """the page decoded enough to find links in it: asked without compression"""
    s = socket.create_connection(("127.0.0.1", PORT))
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n".encode())
    raw = b""
    while chunk := s.recv(1 << 16):
        raw += chunk
    s.close()
    return raw.partition(b"\r\n\r\n")[2].decode(errors="replace")


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, round((len(v) - 1) * p))]


def kb(n):
    return f"{n / 1024:7.1f} KB"


def main():
    # the first visit, cache empty
    t, st, h, login_page, _ = http("GET", "/login")
    assert st == 200, st
    page = plain("/login", "")
    links = sorted(set(re.findall(r'(/pkg/[^"\s]+\.(?:css|js|wasm))', page)))
    assert any(x.endswith(".wasm") for x in links), links
    files = {}
    for link in links:
        _, st, h, n, _ = http("GET", link)
        assert st == 200, (link, st)
        files[link] = (n, header(h, "content-encoding") or "identity", header(h, "cache-control"))
    cookie, where, n_login = login("alice@example.test")
    t, st, h, inbox, _ = http("GET", "/mail/inbox", cookie=cookie)
    assert st == 200, st
    cold = login_page + sum(n for n, _, _ in files.values()) + n_login + inbox
    # the same without compression: what every visit cost before
    raw = http("GET", "/login", accept="identity")[3] + n_login
    raw += sum(http("GET", link, accept="identity")[3] for link in links)
    raw_inbox = http("GET", "/mail/inbox", cookie=cookie, accept="identity")[3]
    raw += raw_inbox
    print("first visit, empty cache (login page, its files, log in, inbox):")
    print(f"  login page {kb(login_page)}")
    for link, (n, enc, cache) in files.items():
        print(f"  {link.split('/')[-1]:<16} {kb(n)}  {enc:<8} {cache}")
    print(f"  log in     {kb(n_login)}")
    print(f"  inbox      {kb(inbox)}  {header(h, 'content-encoding') or 'identity'}")
    print(f"COLD {cold} bytes ({kb(cold).strip()}); target <= 300 KB: {'met' if cold <= 300 * 1024 else 'NOT met'}")
    print(f"UNCOMPRESSED the same visit without compression: {raw} bytes ({kb(raw).strip()}); "
          f"the inbox page alone {raw_inbox} bytes")
    print(f"WARM {inbox} bytes ({kb(inbox).strip()}): a repeat visit of the inbox; "
          f"target <= 20 KB: {'met' if inbox <= 20 * 1024 else 'NOT met'}")

    # page by page
    box = plain("/mail/inbox", cookie)
    ids = list(dict.fromkeys(re.findall(r'href="/mail/m/(\d+)"', box)))
    assert ids, "no message in the demo inbox"
    words = ["invoice", "meeting", "report", "demo", "lunch", "contract", "hello", "news"]
    admin_cookie, admin_home, _ = login("admin@example.test")
    pages = [
        ("login", lambda i: ("/login", None)),
        ("inbox", lambda i: ("/mail/inbox", cookie)),
        ("message", lambda i: (f"/mail/m/{ids[i % len(ids)]}", cookie)),
        ("search", lambda i: (f"/mail/search?q={words[i % len(words)]}", cookie)),
        ("compose", lambda i: ("/mail/compose", cookie)),
        ("Control Panel", lambda i: ("/admin/d/example.test/continuity", admin_cookie)),
    ]
    print(f"\npage by page ({ROUNDS} requests each; bytes as sent, compressed; whole HTTP round trip):")
    print(f"  {'page':<14} {'bytes':>10} {'p50 ms':>8} {'p95 ms':>8}")
    for name, at in pages:
        times, sizes = [], []
        for i in range(ROUNDS):
            path, c = at(i)
            t, st, h, n, _ = http("GET", path, cookie=c)
            assert st == 200, (name, path, st)
            times.append(t)
            sizes.append(n)
        print(f"  {name:<14} {pct(sizes, 0.5):>10} {pct(times, 0.5):>8.1f} {pct(times, 0.95):>8.1f}")


main()
