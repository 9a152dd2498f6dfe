"""A real SMTP server for paperboy's tests: aiosmtpd writing every accepted message to a Maildir.

It can be told to misbehave the way mail servers do:
  --reject-rcpt ADDR          answer 550 to RCPT TO for ADDR (permanent failure), repeatable
  --tempfail-first N          answer "451 try again later" to the first N DATA commands
Run with Debian's python3 (python3-aiosmtpd):
  /usr/bin/python3 tests/support/smtp_sink.py --port 2525 --maildir /tmp/mail
"""
import argparse
import asyncio
import mailbox
import signal

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox


class Sink(Mailbox):
    def __init__(self, maildir, reject, tempfail_first):
        super().__init__(maildir)
        self.reject = {r.lower() for r in reject}
        self.tempfail_left = tempfail_first

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.reject:
            return "550 5.1.1 <%s>: mailbox unavailable" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.tempfail_left > 0:
            self.tempfail_left -= 1
            return "451 4.3.0 try again later"
        return await super().handle_DATA(server, session, envelope)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--maildir", required=True)
    p.add_argument("--reject-rcpt", action="append", default=[])
    p.add_argument("--tempfail-first", type=int, default=0)
    a = p.parse_args()
    mailbox.Maildir(a.maildir, create=True)
    controller = Controller(Sink(a.maildir, a.reject_rcpt, a.tempfail_first), hostname="127.0.0.1", port=a.port)
    controller.start()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.run_until_complete(stop.wait())
    controller.stop()


if __name__ == "__main__":
    main()
