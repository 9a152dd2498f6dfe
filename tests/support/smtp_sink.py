"""A real SMTP server for paperboy's tests: aiosmtpd writing every accepted message to a Maildir.

It can be told to misbehave the way mail servers do:
  --reject-rcpt ADDR          answer 550 to RCPT TO for ADDR (permanent failure), repeatable
  --tempfail-first N          answer "451 try again later" to the first N DATA commands
  --greylist ADDR:N           greylist ADDR: answer 451 to its first N RCPT TO commands
  --data-delay SECONDS        wait this long before accepting a message (and keep nothing if the
                              client hung up meanwhile, as a real MTA would); a file "receiving"
                              in the Maildir shows a message is in flight
  --mailroot DIR --owner USER also deliver each message, like an MTA, into DIR/<address>/ (a
                              Maildir per recipient, "+tag" dropped, a Delivered-To header added)
                              owned by USER, so Dovecot serves it over IMAP
Run with Debian's python3 (python3-aiosmtpd):
  /usr/bin/python3 tests/support/smtp_sink.py --port 2525 --maildir /tmp/mail
"""
import argparse
import asyncio
import mailbox
import os
import pwd
import signal

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox


class Sink(Mailbox):
    def __init__(self, maildir, reject, tempfail_first, mailroot, owner, data_delay=0.0, greylist=()):
        super().__init__(maildir)
        self.greylist = {}
        for g in greylist:
            addr, _, n = g.rpartition(":")
            self.greylist[addr.lower()] = int(n)
        self.maildir_path = maildir
        self.data_delay = data_delay
        self.reject = {r.lower() for r in reject}
        self.tempfail_left = tempfail_first
        self.mailroot = mailroot
        self.owner = pwd.getpwnam(owner) if owner else None

    def deliver(self, rcpt, data):
        local, _, domain = rcpt.lower().partition("@")
        box = os.path.join(self.mailroot, "%s@%s" % (local.split("+", 1)[0], domain))
        # Dovecot creates a user's Maildir on first login (root first, then cur/, new/, tmp/):
        # a delivery racing it finds the root but no tmp/ yet. Make all three ourselves.
        for sub in ("tmp", "new", "cur"):
            os.makedirs(os.path.join(box, sub), exist_ok=True)
        md = mailbox.Maildir(box, create=True)
        md.add(b"Delivered-To: " + rcpt.encode() + b"\r\n" + data)
        if self.owner:
            for root, dirs, files in os.walk(box):
                for name in [root] + [os.path.join(root, n) for n in dirs + files]:
                    # Dovecot, serving the same Maildir, may rename or remove its own files
                    # (tmp/, uidlist locks) between the walk and the chown: nothing to do then.
                    try:
                        os.chown(name, self.owner.pw_uid, self.owner.pw_gid)
                    except FileNotFoundError:
                        pass

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.reject:
            return "550 5.1.1 <%s>: mailbox unavailable" % address
        if self.greylist.get(address.lower(), 0) > 0:
            self.greylist[address.lower()] -= 1
            return "451 4.7.1 <%s>: greylisted, please try again later" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_delay:
            marker = os.path.join(self.maildir_path, "receiving")
            open(marker, "w").close()
            try:
                await asyncio.sleep(self.data_delay)
            finally:
                os.remove(marker)
            if server.transport is None or server.transport.is_closing():
                return "451 4.4.2 the client went away"
        if self.tempfail_left > 0:
            self.tempfail_left -= 1
            return "451 4.3.0 try again later"
        if self.mailroot:
            data = envelope.original_content or envelope.content
            if isinstance(data, str):
                data = data.encode()
            for rcpt in envelope.rcpt_tos:
                self.deliver(rcpt, data)
        return await super().handle_DATA(server, session, envelope)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--maildir", required=True)
    p.add_argument("--reject-rcpt", action="append", default=[])
    p.add_argument("--tempfail-first", type=int, default=0)
    p.add_argument("--mailroot")
    p.add_argument("--owner")
    p.add_argument("--data-delay", type=float, default=0.0)
    p.add_argument("--greylist", action="append", default=[])
    a = p.parse_args()
    mailbox.Maildir(a.maildir, create=True)
    controller = Controller(Sink(a.maildir, a.reject_rcpt, a.tempfail_first, a.mailroot, a.owner, a.data_delay, a.greylist), hostname="127.0.0.1", port=a.port)
    controller.start()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.run_until_complete(stop.wait())
    controller.stop()


if __name__ == "__main__":
    main()
