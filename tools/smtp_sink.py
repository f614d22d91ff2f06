"""A real SMTP server for the tests (aiosmtpd): it accepts mail on 127.0.0.1 and writes each
message, as received, to DIR/NNNN.eml with its envelope in DIR/NNNN.json.

    python3 tools/smtp_sink.py --dir DIR [--port N]

It prints `PORT <n>` once it listens (port 0 picks a free one), then serves until killed.
Recipients steer the answer, so one server tests every outcome of the relay's outbox:
a recipient whose local part starts with `reject` gets `550` (permanent), one starting with
`tempfail` gets `451` (transient).
"""

import argparse
import asyncio
import json
import os
import sys

from aiosmtpd.smtp import SMTP


class Sink:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if local.startswith("reject"):
            return "550 5.1.1 No such user here"
        if local.startswith("tempfail"):
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        stem = os.path.join(self.directory, f"{self.count:04d}")
        # Written under a temporary name and renamed, so a reader never sees half a file.
        with open(stem + ".eml.partial", "wb") as out:
            out.write(envelope.original_content or envelope.content)
        with open(stem + ".json", "w") as out:
            json.dump({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos}, out)
        os.rename(stem + ".eml.partial", stem + ".eml")
        return "250 Message accepted for delivery"


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    handler = Sink(args.dir)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="sink.test", decode_data=False),
        "127.0.0.1",
        args.port,
    )
    port = server.sockets[0].getsockname()[1]
    print(f"PORT {port}", flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
