"""A realistic mailbox, generated deterministically (the same seed gives the
same bytes), for the mailbox-scale benches: N messages over 90 days as
Maildirs of 10,000 messages each (DIR/part-00, part-01, ... so an import can
be timed part by part), file times set to the arrival time.

Like a real inbox: senders follow a Zipf law over 2,000 correspondents, a
third of the mail are replies (Re:, In-Reply-To, quoted text), bodies have a
median of ~5.5 KB, 10 % carry an attachment (median ~60 KB), some have a Cc.
Planted for the searches, each in a known number of messages:
  - sender  "Quentin Zorglub <q.zorglub@planted.test>"  (PLANTED_SENDER, 1 in 4,000)
  - subject word "xylophonique"                          (1 in 5,000)
  - body word    "zanzibarique"                          (1 in 10,000)
Prints what was planted, as KEY=VALUE lines, for the bench.

    python3 scripts/gen_mailbox.py DIR N
"""
import base64
import os
import random
import sys
import time

PART = 10_000
END = int(time.mktime((2026, 12, 1, 9, 0, 0, 0, 0, 0)))
SPAN = 90 * 86400
SYL = ["ra", "mon", "tel", "vi", "sa", "lor", "pen", "di", "qua", "bre", "fin", "sto", "ma",
       "gal", "ter", "no", "chi", "van", "pli", "ro", "dé", "ê", "un", "ke"]


def vocabulary(rng, n):
    words = set()
    out = []
    while len(out) < n:
        w = "".join(rng.choice(SYL) for _ in range(2 + rng.randrange(3)))
        if w not in words:
            words.add(w)
            out.append(w)
    return out


def zipf(rng, n):
    return min(int(n ** rng.random()) - 1, n - 1) if n > 1 else 0


def main():
    out, n = sys.argv[1], int(sys.argv[2])
    rng = random.Random(0x5EED_CAFE)
    words = vocabulary(rng, 3000)
    people = [(f"{w.capitalize()} {words[(i * 7) % 3000].capitalize()}",
               f"{w}.{i}@{words[(i * 13) % 200]}.test") for i, w in enumerate(words[:2000])]
    planted = {"sender": 0, "subject": 0, "body": 0}
    ids = []
    for part in range(0, (n + PART - 1) // PART):
        d = os.path.join(out, f"part-{part:02d}")
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
    for i in range(n):
        at = END - SPAN + (SPAN * i) // max(n, 1)
        if i % 4000 == 17:
            name, addr = "Quentin Zorglub", "q.zorglub@planted.test"
            planted["sender"] += 1
        else:
            name, addr = people[zipf(rng, len(people))]
        subject = " ".join(words[zipf(rng, 3000)] for _ in range(3 + rng.randrange(6)))
        if i % 5000 == 23:
            subject += " xylophonique"
            planted["subject"] += 1
        reply = ids and rng.random() < 0.33
        headers = [
            f"From: {name} <{addr}>",
            "To: Alice <alice@example.test>",
        ]
        if rng.random() < 0.2:
            o = people[rng.randrange(len(people))]
            headers.append(f"Cc: {o[0]} <{o[1]}>")
        mid = f"<{i}.{rng.randrange(1 << 30)}@bench.test>"
        headers += [
            f"Subject: {'Re: ' if reply else ''}{subject}",
            "Date: " + time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(at)),
            f"Message-ID: {mid}",
        ]
        if reply:
            parent = ids[-1 - zipf(rng, min(len(ids), 500))]
            headers.append(f"In-Reply-To: {parent}")
            headers.append(f"References: {parent}")
        ids.append(mid)
        # body: log-normal around 5.5 KB of text
        size = int(min(max(rng.lognormvariate(8.6, 0.7), 300), 200_000))
        lines, length = [], 0
        while length < size:
            line = " ".join(words[zipf(rng, 3000)] for _ in range(8 + rng.randrange(6)))
            lines.append(line)
            length += len(line) + 2
        if reply:
            lines += ["", f"Le {time.strftime('%d/%m/%Y', time.gmtime(at - 3600))}, {name} a écrit :"]
            lines += ["> " + " ".join(words[zipf(rng, 3000)] for _ in range(10)) for _ in range(6)]
        if i % 10000 == 4242:
            lines.insert(len(lines) // 2, "zanzibarique")
            planted["body"] += 1
        text = "\r\n".join(lines) + "\r\n"
        if rng.random() < 0.10:
            blob = rng.randbytes(int(min(max(rng.lognormvariate(11.0, 0.8), 2_000), 3_000_000)))
            b64 = base64.encodebytes(blob).decode().replace("\n", "\r\n")
            fname = words[rng.randrange(3000)] + rng.choice([".pdf", ".docx", ".xlsx", ".jpg"])
            headers += ["MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="=_b"']
            body = ("--=_b\r\nContent-Type: text/plain; charset=utf-8\r\n"
                    "Content-Transfer-Encoding: 8bit\r\n\r\n" + text +
                    f"--=_b\r\nContent-Type: application/octet-stream; name=\"{fname}\"\r\n"
                    f"Content-Disposition: attachment; filename=\"{fname}\"\r\n"
                    "Content-Transfer-Encoding: base64\r\n\r\n" + b64 + "--=_b--\r\n")
        else:
            headers += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
                        "Content-Transfer-Encoding: 8bit"]
            body = text
        raw = ("\r\n".join(headers) + "\r\n\r\n" + body).encode()
        d = os.path.join(out, f"part-{i // PART:02d}", "cur")
        path = os.path.join(d, f"{at}.M{i}P1.bench:2,S")
        with open(path, "wb") as f:
            f.write(raw)
        os.utime(path, (at, at))
    print(f"PLANTED_SENDER=q.zorglub@planted.test x{planted['sender']}")
    print(f"PLANTED_SUBJECT=xylophonique x{planted['subject']}")
    print(f"PLANTED_BODY=zanzibarique x{planted['body']}")


if __name__ == "__main__":
    main()
