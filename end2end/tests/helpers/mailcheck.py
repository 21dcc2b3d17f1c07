"""What a received message holds, as JSON, for the browser tests:
its threading headers, its attachments (name, type, SHA-256 of the bytes)
and whether its DKIM signature verifies (dkimpy, an independent verifier)
against the TXT record given.

    mailcheck.py FILE RECORD_NAME RECORD_TEXT
"""
import email
import email.policy
import hashlib
import json
import sys

import dkim

path, name, text = sys.argv[1:4]
raw = open(path, "rb").read()


def dnsfunc(qname, timeout=5):
    return text.encode() if qname.decode().lower() == name.lower() else None


m = email.message_from_bytes(raw, policy=email.policy.default)
print(json.dumps({
    "dkim": bool(dkim.verify(raw, dnsfunc=dnsfunc)),
    "subject": str(m["Subject"] or ""),
    "from": str(m["From"] or ""),
    "to": str(m["To"] or ""),
    "in_reply_to": str(m["In-Reply-To"] or ""),
    "references": str(m["References"] or ""),
    "attachments": [
        {"name": p.get_filename(), "type": p.get_content_type(),
         "sha256": hashlib.sha256(p.get_payload(decode=True) or b"").hexdigest()}
        for p in m.iter_attachments()
    ],
}))
