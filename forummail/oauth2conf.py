"""An OAuth2 setting checked: ``OPTS['smtp_oauth2']``, an entry's ``'oauth2'``, ``OPTS['replier_pop_oauth2']``.

One function for all three, so a provider's keys and rules live once.
Problems name the setting and the key; secret values never appear in one.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import urllib.parse
from pathlib import Path
from typing import Any

from .checker import Checker
from .settingtypes import OAuth2

AUTHORITY = "https://login.microsoftonline.com"
GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"
# App-only tokens name the resource with /.default (Entra ID's client
# credentials flow); Google's full-mail scope covers IMAP, POP and SMTP.
DEFAULT_SCOPE = {"microsoft": "https://outlook.office365.com/.default", "google": "https://mail.google.com/"}
DEFAULT_TIMEOUT = 30

_COMMON = ("provider", "scope", "timeout")
KEYS: dict[str, tuple[str, ...]] = {
    "microsoft": (*_COMMON, "tenant", "client_id", "client_secret", "certificate", "private_key", "authority"),
    "google": (*_COMMON, "client_id", "client_secret", "refresh_token", "service_account_file", "token_url"),
    "generic": (*_COMMON, "token_url", "client_id", "client_secret", "refresh_token"),
    "command": ("provider", "token_command", "timeout"),
}
_FILES = ("certificate", "private_key", "service_account_file")
_SECRETS = ("client_secret", "refresh_token")


def oauth2_setting(c: Checker, label: str, value: Any, env_prefix: str, subject: str, subject_label: str,
                   folder: Path | None) -> OAuth2 | None:
    """The checked OAuth2 setting ``label`` (None when not set); problems go to ``c``.

    ``env_prefix`` (SMTP_OAUTH2, REPLIER_POP_OAUTH2) names the variables that
    hold client_secret and refresh_token when the setting lacks them;
    ``subject`` is the mailbox (the setting ``subject_label``); relative file
    names are in ``folder``.
    """
    if value is None or value == {}:
        return None
    if not isinstance(value, dict):
        c.problems.append("%s must be a dict like {'provider': 'microsoft', 'tenant': ..., 'client_id': ...}, "
                          "not a %s" % (label, type(value).__name__))
        return None
    provider = value.get("provider")
    if not isinstance(provider, str) or provider not in KEYS:
        c.problems.append("%s: 'provider' must be one of %s, not %r"
                          % (label, ", ".join("'%s'" % p for p in KEYS), provider))
        return None
    before = len(c.problems)
    for key in sorted(set(value) - set(KEYS[provider]), key=str):
        c.problems.append("%s has unknown key %r for provider %r (its keys: %s)"
                          % (label, key, provider, ", ".join(KEYS[provider])))
    v: dict[str, str] = {}
    for key in KEYS[provider]:
        if key != "timeout":
            v[key] = c.string("%s[%r]" % (label, key), value.get(key, ""), secret=key in _SECRETS)
    env = {key: "%s_%s" % (env_prefix, key.upper()) for key in _SECRETS}
    for key in _SECRETS:
        if key in v and not v[key]:
            v[key] = c.string(env[key], c.secret("", env[key]), secret=True)
    timeout = c.integer("%s['timeout']" % label, value.get("timeout", DEFAULT_TIMEOUT), 1, 300)
    files_ok = True
    for key in _FILES:
        if v.get(key):
            problems = len(c.problems)
            v[key] = _readable(c, label, key, v[key], folder)
            files_ok = files_ok and len(c.problems) == problems
    _RULES[provider](c, label, v, env)
    if provider == "microsoft" and files_ok and v["certificate"] and v["private_key"]:
        _key_pair(c, label, v["certificate"], v["private_key"])
    if not subject:
        c.problems.append("%s is set but %s is empty: name the mailbox to sign in to" % (label, subject_label))
    if len(c.problems) > before:
        return None
    if provider == "microsoft" and v["certificate"]:
        v["client_secret"] = ""  # the certificate wins over a secret left in the environment
    if provider == "google" and v["service_account_file"]:
        v["client_secret"] = v["refresh_token"] = ""
    return OAuth2(
        setting=label, provider=provider, subject=subject, scope=v.get("scope") or DEFAULT_SCOPE.get(provider, ""),
        client_id=v.get("client_id", ""), client_secret=v.get("client_secret", ""),
        refresh_token=v.get("refresh_token", ""), tenant=v.get("tenant", ""),
        authority=(v.get("authority") or AUTHORITY).rstrip("/") if provider == "microsoft" else "",
        certificate=v.get("certificate", ""), private_key=v.get("private_key", ""),
        service_account_file=v.get("service_account_file", ""),
        token_url=v.get("token_url") or (GOOGLE_TOKEN_URL if provider == "google" else ""),
        token_command=v.get("token_command", ""), secret_env=env["client_secret"],
        refresh_env=env["refresh_token"], timeout=float(timeout))


def _readable(c: Checker, label: str, key: str, name: str, folder: Path | None) -> str:
    path = Path(name).expanduser()
    if not path.is_absolute() and folder is not None:
        path = folder / path  # beside the settings file, as its .env is: cron runs from the user's home
    if not path.is_file():
        c.problems.append("%s[%r]: %s is not a file" % (label, key, path))
    elif not os.access(path, os.R_OK):
        c.problems.append("%s[%r]: %s cannot be read by this user: give it to the user that runs the cron jobs "
                          "(chmod 600)" % (label, key, path))
    return str(path)


def _https(c: Checker, label: str, key: str, url: str) -> bool:
    # RFC 6749 section 3.2: the token endpoint MUST be reached over TLS; a secret goes there.
    if url and (not url.lower().startswith("https://") or not urllib.parse.urlsplit(url).hostname):
        c.problems.append("%s[%r] must be an https:// URL, not %r" % (label, key, url))
        return False
    return True


def _need(c: Checker, label: str, provider: str, v: dict[str, str], *keys: str) -> None:
    for key in keys:
        if not v.get(key):
            c.problems.append("%s: provider %r needs %s" % (label, provider, key))


def _microsoft(c: Checker, label: str, v: dict[str, str], env: dict[str, str]) -> None:
    _need(c, label, "microsoft", v, "tenant", "client_id")
    if _https(c, label, "authority", v["authority"]) and v["authority"]:
        # MSAL asks {authority}/{tenant}/v2.0/...: a tenant in the authority is asked for twice.
        parts = urllib.parse.urlsplit(v["authority"])
        if parts.path.strip("/") or parts.query or parts.fragment:
            c.problems.append("%s['authority'] is the sign-in host only, like 'https://login.microsoftonline.us', "
                              "not %r: the tenant goes in 'tenant'" % (label, v["authority"]))
    if v["tenant"] and (set(v["tenant"]) & set("/?#\\ ")):
        c.problems.append("%s['tenant'] is the directory's id or domain (like '0a1b...-GUID' or "
                          "'contoso.onmicrosoft.com'), not %r" % (label, v["tenant"]))
    if v["certificate"] and not v["private_key"] or v["private_key"] and not v["certificate"]:
        c.problems.append("%s: certificate and private_key go together (the certificate uploaded to the app "
                          "registration, and its private key)" % label)
    elif not v["client_secret"] and not v["certificate"]:
        c.problems.append("%s: provider 'microsoft' needs client_secret (or %s in the environment) or "
                          "certificate and private_key" % (label, env["client_secret"]))


def _key_pair(c: Checker, label: str, certificate: str, private_key: str) -> None:
    """The certificate and key files are what they say, the key has no passphrase, and they belong together.

    MSAL reads them only when a token is due, and then fails with a
    traceback (an encrypted key) or a message about something else.
    """
    from cryptography import x509  # installed with MSAL, which a certificate needs anyway
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    try:
        cert = x509.load_pem_x509_certificate(Path(certificate).read_bytes())
    except (OSError, ValueError):
        c.problems.append("%s['certificate']: %s is not a PEM certificate (a file starting -----BEGIN "
                          "CERTIFICATE-----, the one uploaded to the app registration)" % (label, certificate))
        return
    try:
        key = serialization.load_pem_private_key(Path(private_key).read_bytes(), password=None)
    except TypeError:  # cryptography's word for "encrypted, and no password given"
        c.problems.append("%s['private_key']: %s is protected by a passphrase, which no one types for cron: "
                          "write it without one (openssl pkey -in KEY -out NEWKEY; chmod 600 NEWKEY)"
                          % (label, private_key))
        return
    except (OSError, ValueError, UnsupportedAlgorithm):
        c.problems.append("%s['private_key']: %s is not a PEM private key (a file starting -----BEGIN PRIVATE "
                          "KEY-----)" % (label, private_key))
        return
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if cert.public_key().public_bytes(*spki) != key.public_key().public_bytes(*spki):
        c.problems.append("%s: private_key %s is not the key of certificate %s" % (label, private_key, certificate))


def _google(c: Checker, label: str, v: dict[str, str], env: dict[str, str]) -> None:
    _https(c, label, "token_url", v["token_url"])
    if v["service_account_file"]:
        _service_account(c, label, v["service_account_file"])
        return
    for key in ("client_id", "client_secret", "refresh_token"):
        if not v[key]:
            hint = " (or %s in the environment)" % env[key] if key in env else ""
            c.problems.append("%s: provider 'google' needs %s%s, or service_account_file" % (label, key, hint))


def _service_account(c: Checker, label: str, path: str) -> None:
    try:
        info = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        info = None
    if isinstance(info, dict) and info.get("type") == "service_account" and info.get("client_email") \
            and info.get("private_key") and info.get("token_uri"):
        return
    if Path(path).is_file():
        c.problems.append("%s['service_account_file']: %s is not a service account key file (the JSON file "
                          "Google Cloud console gives under IAM & Admin > Service accounts > Keys)" % (label, path))


def _generic(c: Checker, label: str, v: dict[str, str], env: dict[str, str]) -> None:
    _need(c, label, "generic", v, "token_url", "client_id")
    _https(c, label, "token_url", v["token_url"])
    if not v["refresh_token"] and not v["client_secret"]:
        c.problems.append("%s: provider 'generic' needs refresh_token (or %s in the environment) for the refresh "
                          "grant, or client_secret (or %s) for the client-credentials grant"
                          % (label, env["refresh_token"], env["client_secret"]))


def _command(c: Checker, label: str, v: dict[str, str], env: dict[str, str]) -> None:
    try:
        argv = shlex.split(v["token_command"])
    except ValueError as exc:
        c.problems.append("%s['token_command'] cannot be split into words: %s" % (label, exc))
        return
    if not argv:
        c.problems.append("%s: provider 'command' needs token_command, a command that prints an access token"
                          % label)
    elif not shutil.which(argv[0]):
        c.problems.append("%s['token_command']: %s is not an executable program (give its full path; it runs "
                          "without a shell)" % (label, argv[0]))


_RULES = {"microsoft": _microsoft, "google": _google, "generic": _generic, "command": _command}
