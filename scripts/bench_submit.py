"""Submission bench helper (run by scripts/bench-relay): what mail apps do —
each of SESSIONS threads connects, STARTTLS, AUTH PLAIN, then sends its share
of MESSAGES (SIZE bytes each) on that session. Prints messages per second.

    bench_submit.py HOST PORT USER PASSWORD FROM TO SESSIONS MESSAGES SIZE"""
import smtplib
import ssl
import sys
import threading
import time

host, port, user, pw, frm, to = sys.argv[1], int(sys.argv[2]), *sys.argv[3:7]
sessions, messages, size = int(sys.argv[7]), int(sys.argv[8]), int(sys.argv[9])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
body = ("x" * 76 + "\r\n") * max(1, size // 78)
errors = []


def worker(n, count):
    try:
        with smtplib.SMTP(host, port, timeout=60) as s:
            s.starttls(context=ctx)
            s.login(user, pw)
            for i in range(count):
                s.sendmail(frm, [to], f"From: {frm}\r\nTo: {to}\r\nSubject: bench {n}-{i}\r\n"
                                      f"Message-ID: <bench-{n}-{i}-{time.time_ns()}@bench.test>\r\n\r\n{body}")
    except Exception as e:  # counted, reported: the rate must not hide refusals
        errors.append(repr(e))


share = [messages // sessions + (1 if i < messages % sessions else 0) for i in range(sessions)]
threads = [threading.Thread(target=worker, args=(n, c)) for n, c in enumerate(share)]
t0 = time.time()
for t in threads:
    t.start()
for t in threads:
    t.join()
took = time.time() - t0
if errors:
    print(f"errors: {len(errors)}, e.g. {errors[0]}", file=sys.stderr)
    sys.exit(1)
print(messages / took)
