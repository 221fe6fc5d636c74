"""An SMTP server on loopback (aiosmtpd) that records every message it accepts, for the alerting
scenario (tests/it/alert_scenario.rs): one JSON object per line in OUT_FILE, written as each
message arrives — envelope sender and recipients, the Subject and To headers, and the text.

usage: smtp_sink.py PORT OUT_FILE     (runs until killed; prints "listening" once it accepts)
"""

import email
import email.policy
import json
import signal
import sys
import threading

from aiosmtpd.controller import Controller


class Record:
    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        parts = []
        for part in msg.walk():
            if part.get_content_type() in ("text/plain", "text/html"):
                parts.append(part.get_content())
        line = json.dumps({
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "subject": str(msg["Subject"] or ""),
            "to": str(msg["To"] or ""),
            "text": "\n".join(parts),
        })
        with self.lock, open(self.path, "a") as f:
            f.write(line + "\n")
        return "250 Message accepted for delivery"


def main():
    port, out = int(sys.argv[1]), sys.argv[2]
    open(out, "w").close()
    controller = Controller(Record(out), hostname="127.0.0.1", port=port)
    controller.start()
    print("listening", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: (controller.stop(), sys.exit(0)))
    threading.Event().wait()


if __name__ == "__main__":
    main()
