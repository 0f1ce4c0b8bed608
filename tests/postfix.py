"""A private Postfix on 127.0.0.1 that writes real delivery reports, for the tests.

Postfix is the MTA of most on-premises installations, so its delivery
reports (RFC 3464) are the ones our bounce handling meets first.  This
instance has its own config_directory, queue and data folders in a temp
dir (the system's Postfix, if any, is neither started nor touched):

* smtpd listens on a free port of 127.0.0.1 and relays for 127.0.0.0/8;
* ``forum.test`` is a virtual mailbox domain: ``replies@forum.test`` is a
  Maildir, and ``recipient_delimiter = +`` delivers ``replies+anything@``
  into it, as the guide asks of the reply mailbox;
* ``bounce.test`` goes to ``error:5.1.1 ...``: every mail to it bounces at
  once, and Postfix's bounce daemon writes the report to the envelope sender;
* ``delay.test`` goes to ``retry:4.4.1 ...``: mail to it waits in the queue,
  and with ``delay_warning_time`` a delay notice (Action: delayed) goes out;
* everything else goes to ``remote_mx`` (a test SMTP server on 127.0.0.1,
  standing for the recipients' own servers: what it refuses, Postfix
  bounces with the server's words, as in real life), or is discarded
  without one; nothing ever leaves the machine.

Postfix's master runs as root (it drops to ``mail_owner``): as another
user, or without postfix installed, the tests are skipped with the reason,
unless ``FORUMMAIL_POSTFIX_REQUIRED=1`` (set by .ci/run) makes that a failure.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.servers import free_port

BOUNCE_DOMAIN = "bounce.test"
DELAY_DOMAIN = "delay.test"
MAILBOX_DOMAIN = "forum.test"
_POSTFIX = "/usr/sbin/postfix"
_REQUIRED = "FORUMMAIL_POSTFIX_REQUIRED"

# Every service is unchained (chroot column n): the temp queue holds no copy
# of /etc and /lib for a chroot jail.
_MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
smtp      unix  -       -       n       -       -       smtp
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

_MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {base}/queue
data_directory = {base}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.{domain}
mydomain = {domain}
myorigin = $myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_banner = $myhostname ESMTP
# No DNS: the test machine may have none, and the test domains are not real.
smtp_dns_support_level = disabled
disable_dns_lookups = yes
smtpd_peername_lookup = no
biff = no
alias_maps =
alias_database =
# A relay accepts the mail and bounces it afterwards, as when the recipient's own
# server refuses it: smtpd must not refuse at RCPT what the error transport will.
smtpd_reject_unlisted_recipient = no
maillog_file = {base}/postfix.log
maillog_file_prefixes = {base}
virtual_mailbox_domains = {domain}
virtual_mailbox_base = {base}/mail
virtual_mailbox_maps = texthash:{conf}/vmailbox
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
virtual_minimum_uid = 1
recipient_delimiter = +
transport_maps = texthash:{conf}/transport
default_transport = {default_transport}
# A deferred mail is retried, and its delay noticed, within seconds rather than hours.
delay_warning_time = 1s
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
"""


def _unavailable(reason: str) -> None:
    if os.environ.get(_REQUIRED) == "1":
        pytest.fail("%s, and %s=1 requires the Postfix tests to run" % (reason, _REQUIRED), pytrace=False)
    pytest.skip(reason)


class PostfixServer:
    """A private Postfix instance: smtpd on ``port``, the reply Maildir in ``maildir``.

    ``remote_mx``: the port of a test SMTP server on 127.0.0.1 that stands for
    every other domain's server; without it, such mail is discarded.
    """

    def __init__(self, mailbox: str = "replies", remote_mx: int | None = None) -> None:
        if not Path(_POSTFIX).exists():
            _unavailable("postfix is not installed: apt-get install postfix (with main_mailer_type "
                         "'No configuration') to run the tests against real Postfix delivery reports")
        if os.geteuid() != 0:
            _unavailable("Postfix's master daemon runs as root: run the Postfix tests as root")
        self.port = free_port()
        self.base = Path(tempfile.mkdtemp(prefix="forummail-postfix-"))
        os.chmod(self.base, 0o755)
        self.conf = self.base / "conf"
        self.mailbox = mailbox
        self.address = "%s@%s" % (mailbox, MAILBOX_DOMAIN)
        self.maildir = self.base / "mail" / MAILBOX_DOMAIN / mailbox
        owner = pwd.getpwnam("nobody")
        self.uid, self.gid = owner.pw_uid, owner.pw_gid
        self.default_transport = ("smtp:[127.0.0.1]:%d" % remote_mx if remote_mx
                                  else "discard:the test Postfix delivers nowhere else")

    def _postfix(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([_POSTFIX, "-c", str(self.conf), *args], capture_output=True, text=True,
                                timeout=60, stdin=subprocess.DEVNULL)
        if check and result.returncode != 0:
            raise RuntimeError("postfix %s failed: %s%s%s" % (" ".join(args), result.stdout, result.stderr,
                                                              self.log))
        return result

    def start(self) -> PostfixServer:
        self.conf.mkdir()
        for sub in ("queue", "data"):
            (self.base / sub).mkdir()
        self.maildir.parent.mkdir(parents=True)
        shutil.chown(self.maildir.parent, self.uid, self.gid)
        shutil.chown(self.base / "data", "postfix", "postfix")
        (self.conf / "main.cf").write_text(_MAIN_CF.format(
            base=self.base, conf=self.conf, domain=MAILBOX_DOMAIN, uid=self.uid, gid=self.gid,
            default_transport=self.default_transport))
        (self.conf / "master.cf").write_text(_MASTER_CF.format(port=self.port))
        # A trailing slash makes the virtual(8) mailbox a Maildir.
        (self.conf / "vmailbox").write_text("%s %s/%s/\n" % (self.address, MAILBOX_DOMAIN, self.mailbox))
        (self.conf / "transport").write_text(
            "%s error:5.1.1 mailbox does not exist (forummail test: %s always bounces)\n"
            "%s retry:4.4.1 host not answering (forummail test: %s always waits)\n"
            % (BOUNCE_DOMAIN, BOUNCE_DOMAIN, DELAY_DOMAIN, DELAY_DOMAIN))
        # start creates the private queue's folders, owned by mail_owner
        # (post-install create-missing), as the package does for /var/spool/postfix.
        self._postfix("start")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                    if s.recv(100).startswith(b"220"):
                        return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("postfix did not answer on 127.0.0.1:%d within 60 s: %s" % (self.port, self.log))

    @property
    def log(self) -> str:
        path = self.base / "postfix.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def flush(self) -> None:
        """Ask the queue manager to try every deferred mail now (``postqueue -f``)."""
        subprocess.run(["/usr/sbin/postqueue", "-c", str(self.conf), "-f"], capture_output=True, timeout=60,
                       stdin=subprocess.DEVNULL)

    def delivered(self) -> list[Path]:
        """The mails Postfix delivered into the reply Maildir (new/), oldest first."""
        new = self.maildir / "new"
        return sorted(new.iterdir(), key=lambda p: p.name) if new.is_dir() else []

    def wait_for(self, count: int, timeout: float = 90) -> list[Path]:
        """Poll the Maildir until it holds ``count`` mails; flush the queue now and then."""
        deadline = time.monotonic() + timeout
        flushed = time.monotonic()
        while time.monotonic() < deadline:
            found = self.delivered()
            if len(found) >= count:
                return found
            if time.monotonic() - flushed > 5:
                self.flush()
                flushed = time.monotonic()
            time.sleep(0.2)
        raise AssertionError("Postfix delivered %d of %d mail(s) into %s within %.0f s; its log:\n%s"
                             % (len(self.delivered()), count, self.maildir, timeout, self.log))

    def stop(self) -> None:
        try:
            self._postfix("stop", check=False)
        finally:
            shutil.rmtree(self.base, ignore_errors=True)
