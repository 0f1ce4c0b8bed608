"""The SMTP servers of the settings: ``OPTS['smtp_servers']``, or ``MAIL_SMTP`` and friends as the one server.

One entry of ``smtp_servers`` and the ``smtp_*`` keys of ``OPTS`` are the
same details under two spellings, so both are checked by one function with
the ranges and defaults of forummail.options.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType
from typing import Any

from .checker import Checker
from .oauth2conf import oauth2_setting
from .options import OPTION, PRESETS, SERVER_KEYS
from .settingtypes import SmtpServer

# The keys of a server that are also OPTS keys for MAIL_SMTP (as smtp_<key>).
_AS_OPTS = ("preset", "max_connections", "per_minute", "per_day", "recipients_per_minute",
            "recipients_per_day", "aside_seconds")


def host_port(text: str) -> tuple[str, int | None]:
    """``host:port`` (or ``[v6]:port``) split; no port: None."""
    host, sep, port = text.rpartition(":")
    if sep and port.isdigit() and host and not host.endswith(":"):
        return host.strip("[]"), int(port)
    return text, None


def smtp_servers(c: Checker, module: ModuleType, mail_disable: bool, timeout: int,
                 verify: bool, folder: Path | None = None) -> tuple[SmtpServer, ...]:
    """``OPTS['smtp_servers']`` when given, else ``MAIL_SMTP`` and friends as the one server."""
    listed = c.opt("smtp_servers")
    if listed:
        if not isinstance(listed, list | tuple) or not all(isinstance(d, dict) for d in listed):
            c.problems.append("OPTS['smtp_servers'] must be a list of dicts like [{'host': 'smtp.example.com'}]")
            return ()
        servers = []
        for i, d in enumerate(listed):
            servers.append(_server_from_dict(c, "OPTS['smtp_servers'][%d]" % i, d, timeout, verify, folder=folder))
        server_names = [s.name for s in servers]
        for dup in sorted({n for n in server_names if server_names.count(n) > 1}):
            c.problems.append("OPTS['smtp_servers'] has two servers named %r: give each a different "
                              "'description' (budgets and universes refer to servers by it)" % dup)
        if not any(s.enabled for s in servers) and not mail_disable:
            c.problems.append("OPTS['smtp_servers'] has no server with 'enabled': True")
        return tuple(servers)
    host_text = c.string("MAIL_SMTP", c.top("MAIL_SMTP"))
    if not host_text:
        if not mail_disable:
            c.problems.append("MAIL_SMTP is empty: set the SMTP server's host name (or OPTS['mail_disable'] = True)")
        return ()
    host, port_in_host = host_port(host_text)
    ssl = c.boolean("MAIL_USE_SSL", c.top("MAIL_USE_SSL"))
    d = {
        "host": host,
        "port": c.opt("smtp_port") or port_in_host,
        "ssl": ssl,
        "tls": c.opt("smtp_tls"),
        "login": c.top("MAIL_LOGIN"),
        "password": c.secret(c.top("MAIL_PSSWD"), "MAIL_PSSWD"),
        "oauth2": c.opt("smtp_oauth2"),
    }
    d.update({key: c.opt("smtp_" + key) for key in _AS_OPTS})
    names = {"ssl": "MAIL_USE_SSL", "tls": "OPTS['smtp_tls']", "port": "OPTS['smtp_port']",
             "login": "MAIL_LOGIN", "password": "MAIL_PSSWD", "host": "MAIL_SMTP", "oauth2": "OPTS['smtp_oauth2']"}
    names.update({key: OPTION["smtp_" + key].label for key in _AS_OPTS})
    return (_server_from_dict(c, "", d, timeout, verify, names, folder),)


def _server_from_dict(
    c: Checker,
    label: str,
    d: dict[str, Any],
    timeout: int,
    verify: bool,
    names: dict[str, str] | None = None,
    folder: Path | None = None,
) -> SmtpServer:
    def name(key: str) -> str:
        return names[key] if names and key in names else "%s[%r]" % (label, key)

    def ranged(key: str, value: Any, low: int | None = None) -> int:
        option = OPTION["smtp_" + key]
        assert option.low is not None and option.high is not None
        return c.integer(name(key), value, option.low if low is None else low, option.high)

    def limit(key: str) -> int:
        return ranged(key, d.get(key) or preset.get(key, 0))

    preset_name = d.get("preset") or ""
    preset: dict[str, int] = {}
    if preset_name:
        if preset_name not in PRESETS:
            c.problems.append("%s %r is not a known preset: use one of %s"
                              % (name("preset"), preset_name, ", ".join(sorted(PRESETS))))
        else:
            preset = PRESETS[preset_name]

    for key in sorted(set(d) - set(SERVER_KEYS), key=str):
        c.problems.append("%s has unknown key %r" % (label, key))
    host = c.string(name("host"), d.get("host", ""))
    if not host:
        c.problems.append("%s is empty" % name("host"))
    ssl = c.boolean(name("ssl"), d.get("ssl", False))
    tls = c.boolean(name("tls"), d.get("tls", False))
    if ssl and tls:
        c.problems.append(
            "%s and %s are both True: use one (implicit TLS on 465, or STARTTLS on 587)"
            % (name("ssl"), name("tls"))
        )
    port = d.get("port") or (465 if ssl else 25)
    login = c.string(name("login"), d.get("login", ""))
    password = c.string(name("password"), d.get("password", ""), secret=True)
    if label and not password:
        # Secrets need not live in the file: SMTP_PSSWD_<DESCRIPTION> in .env or the environment.
        env_name = "SMTP_PSSWD_" + re.sub(r"\W", "_", str(d.get("description") or d.get("host") or "")).upper()
        password = c.string(env_name, c.secret("", env_name), secret=True)
    # SMTP_OAUTH2_CLIENT_SECRET / _REFRESH_TOKEN serve every SMTP OAuth2 block that lacks them.
    oauth2 = oauth2_setting(c, name("oauth2"), d.get("oauth2"), "SMTP_OAUTH2", login, name("login"), folder)
    if login and not password and not oauth2 and not d.get("oauth2"):
        c.problems.append("%s is set but %s is empty" % (name("login"), name("password")))
    if d.get("oauth2") and not ssl and not tls:
        # A bearer token is as good as a password to whoever reads it; the
        # transport refuses to send it in clear, so say it now (78), not at
        # every run (75).
        c.problems.append("%s is set but the connection has no TLS: set %s to True (STARTTLS on 587, as "
                          "Microsoft 365 and Google require) or %s (implicit TLS on 465)"
                          % (name("oauth2"), name("tls"), name("ssl")))
    checked = c.boolean(name("verify"), d.get("verify", verify))
    if d.get("oauth2") and not checked:
        # With the certificate unchecked, whoever answers gets the token, and
        # an app-only token (SMTP.SendAsApp) sends as every mailbox of the tenant.
        c.problems.append("%s is set but %s is False: a token is only sent to a server whose certificate is "
                          "checked: remove it, and name your own CA in SSL_CERT_FILE if the server's is private"
                          % (name("oauth2"), name("verify") if label else "OPTS['smtp_verify_tls']"))
    return SmtpServer(
        host=host,
        port=ranged("port", port),
        ssl=ssl,
        tls=tls,
        login=login,
        password=password,
        # 0 (the default) means the preset's number, else 1: the value checked is at least 1.
        max_connections=ranged("max_connections", d.get("max_connections") or preset.get("max_connections", 1),
                               low=1),
        enabled=c.boolean(name("enabled"), d.get("enabled", True)),
        description=c.string(name("description"), d.get("description", "")),
        timeout=float(ranged("timeout", d.get("timeout", timeout))),
        verify=checked,
        per_minute=limit("per_minute"),
        per_day=limit("per_day"),
        recipients_per_minute=limit("recipients_per_minute"),
        recipients_per_day=limit("recipients_per_day"),
        aside_seconds=ranged("aside_seconds", d.get("aside_seconds") or OPTION["smtp_aside_seconds"].default),
        oauth2=oauth2,
    )
