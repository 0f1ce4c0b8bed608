"""Real servers on 127.0.0.1 for the tests: PostgreSQL, SMTP and Dovecot POP3.

PostgreSQL refuses to run as root, so as root the cluster is created and run
as the ``postgres`` user (``runuser``), in a temporary folder it owns.
"""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_bindir() -> Path:
    found = shutil.which("pg_config")
    if found:
        out = subprocess.run([found, "--bindir"], capture_output=True, text=True).stdout.strip()
        if out and Path(out, "initdb").exists():
            return Path(out)
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not candidates:
        raise RuntimeError("PostgreSQL server binaries not found: apt-get install postgresql")
    return Path(candidates[-1]).parent


class PostgresServer:
    """A throw-away PostgreSQL cluster on a free port."""

    def __init__(self) -> None:
        self.bindir = _pg_bindir()
        self.port = free_port()
        self.base = Path(tempfile.mkdtemp(prefix="forummail-pg-"))
        self.data = self.base / "data"
        self.user = "postgres"
        self.as_root = os.geteuid() == 0

    def _run(self, *args: str) -> None:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError("%s failed: %s%s" % (args[0], result.stdout, result.stderr))

    def start(self) -> PostgresServer:
        if self.as_root:
            shutil.chown(self.base, "postgres", "postgres")
        os.chmod(self.base, 0o755)
        self._run("initdb", "-D", str(self.data), "-U", self.user, "-A", "trust",
                  "--no-sync", "-E", "UTF8", "--locale=C")
        opts = ("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
                " -c max_connections=200" % (self.port, self.base))
        self._run("pg_ctl", "-D", str(self.data), "-o", opts, "-l", str(self.base / "log"), "-w", "start")
        return self

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

    def conninfo(self, dbname: str = "postgres") -> dict[str, Any]:
        return {"host": "127.0.0.1", "port": self.port, "user": self.user, "dbname": dbname}


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes
    peer: str = ""  # the client's address:port: one per connection
    mail_options: list[str] = field(default_factory=list)  # MAIL FROM parameters (SIZE=, SMTPUTF8, ...)


@dataclass
class SmtpBehaviour:
    """What the test SMTP server answers: programmable per test."""

    rcpt: dict[str, str] = field(default_factory=dict)  # address -> reply, e.g. "550 no such user"
    data: deque[str] = field(default_factory=deque)     # next DATA replies; "drop" hangs up
    mail_from: deque[str] = field(default_factory=deque)
    delay: float = 0.0
    pipelining: bool = False  # offer PIPELINING (RFC 2920) in EHLO, as Postfix, Exchange and Gmail do


class _Handler:
    def __init__(self, behaviour: SmtpBehaviour, received: list[Received]) -> None:
        self.behaviour = behaviour
        self.received = received
        self.lock = threading.Lock()
        self.active = 0
        self.max_active = 0  # most messages in DATA at the same moment
        self.commands: list[str] = []  # every MAIL and RCPT the server was given, as "MAIL addr"
        self.pipelined = 0  # MAIL commands that came with more commands already behind them

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str,
                          responses: list[str]) -> list[str]:
        session.host_name = hostname
        if self.behaviour.pipelining:
            responses.insert(1, "250-PIPELINING")
        return responses

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        self.commands.append("MAIL %s" % address)
        if server._reader._buffer:  # RCPT TO (and DATA) arrived with it: the client pipelines
            self.pipelined += 1
        if self.behaviour.mail_from:
            return self.behaviour.mail_from.popleft()
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        self.commands.append("RCPT %s" % address)
        rule = self.behaviour.rcpt.get(address.lower())
        if rule:
            return rule
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            if self.behaviour.delay:
                await asyncio.sleep(self.behaviour.delay)
            return self._data(server, session, envelope)
        finally:
            self.active -= 1

    def _data(self, server: Any, session: Any, envelope: Any) -> str:
        if self.behaviour.data:
            reply = self.behaviour.data.popleft()
            if reply == "drop":
                server.transport.close()
                return "421 closing"
            if not reply.startswith("2"):
                return reply
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content,
                                          "%s:%s" % tuple(session.peer[:2]), list(envelope.mail_options)))
            n = len(self.received)
        return "250 2.0.0 Ok: queued as Q%06d" % n


def make_ca(folder: Path) -> tuple[Path, Path, Path]:
    """A throw-away CA and a certificate for 127.0.0.1 signed by it: (ca, cert, key)."""
    folder.mkdir(parents=True, exist_ok=True)
    ca, ca_key = folder / "ca.pem", folder / "ca.key"
    cert, key, csr, ext = folder / "server.pem", folder / "server.key", folder / "server.csr", folder / "ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for cmd in (
        ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca, "-days", "2",
         "-subj", "/CN=forummail test CA"],
        ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"],
        ["x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", cert,
         "-days", "2", "-extfile", ext],
    ):
        subprocess.run(["openssl", *map(str, cmd)], check=True, capture_output=True)
    os.chmod(key, 0o644)
    return ca, cert, key


class SmtpServer:
    """aiosmtpd on 127.0.0.1 keeping what it receives; optional AUTH, STARTTLS or implicit TLS."""

    def __init__(self, login: str = "", password: str = "", tls: str = "",
                 cert: tuple[Path, Path] | None = None, smtputf8: bool = True) -> None:
        self.port = free_port()
        self.behaviour = SmtpBehaviour()
        self.received: list[Received] = []
        self.logins: list[str] = []
        kwargs: dict[str, Any] = {}
        if login:
            def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
                ok = isinstance(data, LoginPassword) and data.login.decode() == login \
                    and data.password.decode() == password
                if ok:
                    self.logins.append(login)
                return AuthResult(success=ok, handled=False)
            kwargs = {"authenticator": authenticator, "auth_require_tls": False, "auth_required": True}
        if tls:
            import ssl

            assert cert is not None
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(cert[0]), str(cert[1]))
            kwargs["ssl_context" if tls == "ssl" else "tls_context"] = context
        if not smtputf8:  # a server without SMTPUTF8 (RFC 6531) in its EHLO; aiosmtpd offers it by default
            kwargs["enable_SMTPUTF8"] = False
        self.handler = _Handler(self.behaviour, self.received)
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **kwargs)

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    @property
    def messages(self) -> list[Received]:
        return list(self.received)


class TokenChecker(Protocol):
    """What the OAuth2 test servers ask about a token: its subject (the mailbox), or None."""

    def active(self, token: str) -> str | None: ...


@dataclass
class SignIn:
    mechanism: str
    login: str
    ok: bool
    tls: bool


class _OAuth2Handler(_Handler):
    """The SMTP handler of :class:`OAuth2SmtpServer`: XOAUTH2 and OAUTHBEARER only."""

    def __init__(self, behaviour: SmtpBehaviour, received: list[Received], tokens: TokenChecker,
                 style: str) -> None:
        super().__init__(behaviour, received)
        self.tokens = tokens
        self.style = style
        self.sign_ins: list[SignIn] = []
        self.hang_up_after_refusal = 0  # refusals after which the server closes the connection

    async def auth_XOAUTH2(self, server: Any, args: list[str]) -> AuthResult:
        return await self._auth(server, args, "XOAUTH2")

    async def auth_OAUTHBEARER(self, server: Any, args: list[str]) -> AuthResult:
        return await self._auth(server, args, "OAUTHBEARER")

    async def _auth(self, server: Any, args: list[str], mechanism: str) -> AuthResult:
        import base64
        import json

        if server._tls_protocol is None:  # as Gmail and Exchange Online answer on 587
            self.sign_ins.append(SignIn(mechanism, "", False, False))
            await server.push("530 5.7.0 Must issue a STARTTLS command first")
            return AuthResult(success=False, handled=True)
        if len(args) > 1:
            blob = base64.b64decode(args[1])
        else:
            got = await server.challenge_auth("")
            if got is MISSING:
                return AuthResult(success=False, handled=True)
            blob = got
        fields = dict(f.split("=", 1) for f in blob.decode().split("\x01") if "=" in f)
        if mechanism == "OAUTHBEARER":
            gs2 = blob.decode().split("\x01", 1)[0]  # n,a=user,
            login = gs2.split(",")[1][2:].replace("=2C", ",").replace("=3D", "=")
        else:
            login = fields.get("user", "")
        token = fields.get("auth", "").removeprefix("Bearer ")
        ok = bool(token) and self.tokens.active(token) == login
        self.sign_ins.append(SignIn(mechanism, login, ok, True))
        if ok:
            return AuthResult(success=True, auth_data=login)
        if self.style == "google" or mechanism == "OAUTHBEARER":
            # RFC 7628 section 3.2.2 (and Google's XOAUTH2): an error challenge,
            # then the final refusal after the client's dummy response.
            error = json.dumps({"status": "invalid_token", "scope": "https://mail.google.com/",
                                "schemes": "Bearer"})
            await server.challenge_auth(error)
            message = "535 5.7.8 Username and Password not accepted"
        else:
            message = "535 5.7.3 Authentication unsuccessful"
        if self.hang_up_after_refusal:
            self.hang_up_after_refusal -= 1
            await server.push(message)
            server.transport.close()
            return AuthResult(success=False, handled=True)
        return AuthResult(success=False, handled=False, message=message)


class OAuth2SmtpServer(SmtpServer):
    """aiosmtpd with STARTTLS whose only sign-in is OAuth2, each token checked with ``tokens``.

    ``style``: ``'microsoft'`` refuses a bad token with ``535 5.7.3``,
    ``'google'`` with an error challenge (334 base64 JSON) and then 535.
    AUTH before STARTTLS: ``530 5.7.0``.  OAUTHBEARER only when ``oauthbearer``.
    """

    def __init__(self, tokens: TokenChecker, cert: tuple[Path, Path], style: str = "microsoft",
                 oauthbearer: bool = False) -> None:
        import ssl

        self.port = free_port()
        self.behaviour = SmtpBehaviour()
        self.received = []
        self.logins = []
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(cert[0]), str(cert[1]))
        self.handler = self.oauth2 = _OAuth2Handler(self.behaviour, self.received, tokens, style)
        exclude = ["PLAIN", "LOGIN"] + ([] if oauthbearer else ["OAUTHBEARER"])
        self.controller = Controller(
            self.handler, hostname="127.0.0.1", port=self.port, tls_context=context,
            # AUTH listed before STARTTLS too, so that a client which would send
            # its token in clear is answered by the handler (530), not hidden from.
            auth_require_tls=False, auth_required=True, auth_exclude_mechanism=exclude)

    @property
    def sign_ins(self) -> list[SignIn]:
        return list(self.oauth2.sign_ins)


@dataclass
class OAuth2Passdb:
    """Where Dovecot's oauth2 passdb asks about tokens."""

    introspection_url: str
    ca_file: Path
    username_attribute: str = "username"


class DovecotServer:
    """Dovecot POP3 on 127.0.0.1 with one mailbox, from a private config in a temp dir.

    Dovecot refuses root for mail: the mailbox user's uid is ``nobody``'s.
    Messages are delivered by writing Maildir files, as an MTA would.
    """

    def __init__(self, login: str = "replies", password: str = "pop-secret",
                 cert: tuple[Path, Path] | None = None, oauth2: OAuth2Passdb | None = None) -> None:
        import pwd

        self.cert = cert
        self.oauth2 = oauth2
        self.tls_port = free_port() if cert else 0
        self.login, self.password = login, password
        self.port = free_port()
        self.base = Path(tempfile.mkdtemp(prefix="forummail-dovecot-"))
        os.chmod(self.base, 0o755)
        self.as_root = os.geteuid() == 0
        user = pwd.getpwnam("nobody") if self.as_root else pwd.getpwuid(os.geteuid())
        self.uid, self.gid = user.pw_uid, user.pw_gid
        self.maildir = self.base / "mail" / login
        self.proc: subprocess.Popen[bytes] | None = None
        self._n = 0

    def _config(self) -> str:
        me = "" if self.as_root else "default_login_user = %s\ndefault_internal_user = %s\n" % (
            os.environ.get("USER", "nobody"), os.environ.get("USER", "nobody"))
        return """\
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
protocols = pop3
listen = 127.0.0.1
{ssl}
{auth}
# No penalty delay for the failed logins the tests make on purpose.
auth_failure_delay = 0
login_trusted_networks = 127.0.0.0/8
mail_location = maildir:{base}/mail/%u
pop3_uidl_format = %08Xu%08Xv
first_valid_uid = {uid}
{me}{passdb}
userdb {{
  driver = passwd-file
  args = username_format=%u {base}/passwd
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener pop3s {{
    address = 127.0.0.1
    port = {tls_port}
  }}
}}
service anvil {{
  chroot =
}}
""".format(base=self.base, port=self.port, uid=min(self.uid, 500), me=me, tls_port=self.tls_port,
           ssl="ssl = yes\nssl_cert = <%s\nssl_key = <%s" % self.cert if self.cert else "ssl = no",
           auth=self._auth(), passdb=self._passdb())

    def _auth(self) -> str:
        if self.oauth2 is None:
            return "disable_plaintext_auth = no\nauth_mechanisms = plain login"
        # Tokens only, and only over TLS; auth_debug logs each introspection request.
        return "disable_plaintext_auth = yes\nauth_mechanisms = xoauth2 oauthbearer\nauth_debug = yes"

    def _passdb(self) -> str:
        if self.oauth2 is None:
            return "passdb {\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%%u %s/passwd\n}" \
                % self.base
        # Dovecot 2.3's oauth2 passdb: every token is POSTed to the endpoint's
        # introspection URL (RFC 7662); the subject it answers must be the login.
        # Dovecot's auth process runs as another user: it reads a copy in its own folder.
        ca = self.base / "oauth2-ca.pem"
        shutil.copyfile(self.oauth2.ca_file, ca)
        os.chmod(ca, 0o644)
        (self.base / "oauth2.conf.ext").write_text(
            "introspection_mode = post\nintrospection_url = %s\nusername_attribute = %s\n"
            "active_attribute = active\nactive_value = true\ntls_ca_cert_file = %s\n"
            % (self.oauth2.introspection_url, self.oauth2.username_attribute, ca))
        return ("passdb {\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = %s/oauth2.conf.ext\n}"
                % self.base)

    def start(self) -> DovecotServer:
        for sub in ("run", "state", "mail"):
            (self.base / sub).mkdir()
        for sub in ("cur", "new", "tmp"):
            (self.maildir / sub).mkdir(parents=True)
        (self.base / "passwd").write_text("%s:{PLAIN}%s:%d:%d::%s::\n" % (
            self.login, self.password, self.uid, self.gid, self.maildir))
        (self.base / "dovecot.conf").write_text(self._config())
        if self.as_root:
            for path in [self.base / "mail", *self.maildir.parents, self.maildir, *self.maildir.iterdir()]:
                if str(path).startswith(str(self.base / "mail")):
                    os.chown(path, self.uid, self.gid)
        binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
        self.proc = subprocess.Popen([binary, "-F", "-c", str(self.base / "dovecot.conf")],
                                     start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    if s.recv(100).startswith(b"+OK"):
                        return self
            except OSError:
                time.sleep(0.05)
            if self.proc.poll() is not None:
                break
        log = (self.base / "dovecot.log")
        raise RuntimeError("dovecot did not start: %s %s" % (
            self.proc.stderr.read() if self.proc.stderr and self.proc.poll() is not None else b"",
            log.read_text() if log.exists() else ""))

    def deliver(self, data: bytes) -> str:
        """Put one message into the mailbox (as an MTA's Maildir delivery does)."""
        self._n += 1
        name = "%d.M%dP%d.forummail-test" % (int(time.time()), self._n, os.getpid())
        tmp = self.maildir / "tmp" / name
        tmp.write_bytes(data.replace(b"\r\n", b"\n"))
        if self.as_root:
            os.chown(tmp, self.uid, self.gid)
        os.rename(tmp, self.maildir / "new" / name)
        return name

    def count(self) -> int:
        return sum(1 for sub in ("new", "cur") for _ in (self.maildir / sub).iterdir())

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.proc is not None and self.proc.stderr:
            self.proc.stderr.close()
        shutil.rmtree(self.base, ignore_errors=True)
