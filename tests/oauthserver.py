"""A token endpoint on 127.0.0.1 over HTTPS, for the tests: Microsoft v2.0, RFC 6749, Google's JWT bearer.

It speaks what forummail's providers and Dovecot's oauth2 passdb ask:

* Microsoft v2.0: ``GET /{tenant}/v2.0/.well-known/openid-configuration`` and
  ``POST /{tenant}/oauth2/v2.0/token`` (client credentials with a client
  secret, or a client assertion JWT checked against the registered
  certificate), errors in Entra ID's shape (``AADSTS...``);
* RFC 6749 ``POST /token``: refresh_token and client_credentials grants
  (client auth by HTTP Basic or in the body), optional refresh-token
  rotation; and Google's JWT-bearer grant for service accounts (RFC 7523);
* RFC 7662 ``POST /introspect`` for Dovecot: ``{"active": true, "email",
  "username", "exp"}`` or ``{"active": false}``.

The test controls it in-process: ``register`` clients, ``add_refresh_token``,
``issue``/``revoke``/``active`` access tokens, ``rotate``, ``fail_next``,
``delay``, and reads ``log`` (one dict per request) to count refreshes.
"""

from __future__ import annotations

import json
import secrets
import ssl
import threading
import time
import urllib.parse
from base64 import b64decode
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.servers import free_port, make_ca

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
BAD_SECRET = ("AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the "
              "client secret value, not the client secret ID, for a secret added to app '%s'.\r\n"
              "Trace ID: 0b1d6e4a-0000-4000-8000-000000000000\r\nCorrelation ID: 5f0c0000-0000-4000-8000-"
              "000000000000\r\nTimestamp: 2026-11-29 21:00:00Z")


@dataclass
class Client:
    secret: str = ""
    certificate: str = ""  # PEM: client assertions must be signed by its key
    subject: str = ""  # who its client-credentials tokens are for (default: the client id)


class TokenEndpoint:
    """The endpoint; ``url`` is its base (``https://127.0.0.1:PORT``)."""

    def __init__(self, folder: Path, rotate: bool = False) -> None:
        self.ca_file, cert, key = make_ca(folder)
        self.port = free_port()
        self.url = "https://127.0.0.1:%d" % self.port
        self.token_url = self.url + "/token"
        self.introspection_url = self.url + "/introspect"
        self.clients: dict[str, Client] = {}
        self.tenants: set[str] = {"contoso"}
        self.rotate = rotate
        self.lifetime = 3600
        self.delay = 0.0  # seconds each token request takes, to make two hosts meet
        self.log: list[dict[str, str]] = []
        self._tokens: dict[str, tuple[str, float]] = {}  # access token -> (subject, expiry)
        self._refresh: dict[str, tuple[str, str]] = {}  # refresh token -> (client id, subject)
        self._fail: list[int] = []
        # Answers given as they are, in place of the protocol: (status, content type, body), where
        # "{form}" and "{auth}" in the body become the request's form and Authorization header
        # (a misbehaving provider that echoes the request).
        self._raw: list[tuple[int, str, str]] = []
        self._lock = threading.Lock()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(cert), str(key))
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> TokenEndpoint:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # In-process control.
    def register(self, client_id: str, secret: str = "", certificate: str = "", subject: str = "") -> None:
        self.clients[client_id] = Client(secret, certificate, subject)

    def add_refresh_token(self, client_id: str, subject: str) -> str:
        token = "rt-" + secrets.token_urlsafe(16)
        with self._lock:
            self._refresh[token] = (client_id, subject)
        return token

    def issue(self, subject: str, lifetime: int | None = None) -> str:
        token = "at-" + secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = (subject, time.time() + (self.lifetime if lifetime is None else lifetime))
        return token

    def revoke(self, token: str) -> None:
        with self._lock:
            self._tokens.pop(token, None)

    def active(self, token: str) -> str | None:
        with self._lock:
            subject, expiry = self._tokens.get(token, ("", 0.0))
        return subject if expiry > time.time() else None

    def fail_next(self, status: int) -> None:
        """The next token request answers ``status`` (a 5xx: the endpoint unwell)."""
        self._fail.append(status)

    def answer_next(self, status: int, content_type: str, body: str) -> None:
        """The next token request gets this answer, whatever it asked ("{form}", "{auth}": its own words)."""
        self._raw.append((status, content_type, body))

    def grants(self, kind: str) -> int:
        """How many token requests of grant type ``kind`` came."""
        return sum(1 for entry in self.log if entry.get("grant_type") == kind)

    # The protocols.
    def answer(self, method: str, path: str, form: dict[str, str], auth: str) -> tuple[int, dict[str, Any]]:
        parts = path.strip("/").split("/")
        if method == "GET" and len(parts) == 4 and parts[1:] == ["v2.0", ".well-known", "openid-configuration"]:
            return self._openid(parts[0])
        if method != "POST":
            return 404, {"error": "not_found"}
        if path == "/introspect":
            subject = self.active(form.get("token", ""))
            if subject is None:
                return 200, {"active": False}
            return 200, {"active": True, "email": subject, "username": subject, "sub": subject,
                         "exp": int(self._tokens[form["token"]][1])}
        entry = {"path": path, "grant_type": form.get("grant_type", ""), "client_id": form.get("client_id", "")}
        with self._lock:
            self.log.append(entry)
            failure = self._fail.pop(0) if self._fail else 0
        if self.delay:
            time.sleep(self.delay)
        if failure:
            return failure, {"error": "server_error", "error_description": "the test asked for %d" % failure}
        if len(parts) == 4 and parts[1:] == ["oauth2", "v2.0", "token"]:
            return self._microsoft(parts[0], form)
        if path == "/token":
            return self._rfc6749(form, auth)
        return 404, {"error": "not_found"}

    def _openid(self, tenant: str) -> tuple[int, dict[str, Any]]:
        if tenant not in self.tenants:
            return 400, {"error": "invalid_tenant", "error_description": "AADSTS90002: Tenant '%s' not found." % tenant}
        base = "%s/%s" % (self.url, tenant)
        return 200, {"issuer": base + "/v2.0", "token_endpoint": base + "/oauth2/v2.0/token",
                     "authorization_endpoint": base + "/oauth2/v2.0/authorize",
                     "device_authorization_endpoint": base + "/oauth2/v2.0/devicecode",
                     "jwks_uri": base + "/discovery/v2.0/keys", "response_types_supported": ["code"],
                     "subject_types_supported": ["pairwise"], "id_token_signing_alg_values_supported": ["RS256"]}

    def _microsoft(self, tenant: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if tenant not in self.tenants:
            return 400, {"error": "invalid_request", "error_codes": [90002],
                         "error_description": "AADSTS90002: Tenant '%s' not found." % tenant}
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type", "error_codes": [70003],
                         "error_description": "AADSTS70003: The app requested an unsupported grant type."}
        client_id = form.get("client_id", "")
        client = self.clients.get(client_id)
        if client is None:
            return 400, {"error": "unauthorized_client", "error_codes": [700016],
                         "error_description": "AADSTS700016: Application with identifier '%s' was not found in "
                                              "the directory." % client_id}
        if not form.get("scope", "").endswith("/.default"):
            return 400, {"error": "invalid_scope", "error_codes": [1002012],
                         "error_description": "AADSTS1002012: The provided value for scope %s is not valid. "
                                              "Client credential flows must have a scope value with /.default "
                                              "suffixed to the resource identifier." % form.get("scope", "")}
        audience = "%s/%s/oauth2/v2.0/token" % (self.url, tenant)
        if not self._client_ok(client, client_id, form, audience):
            return 401, {"error": "invalid_client", "error_codes": [7000215],
                         "error_description": BAD_SECRET % client_id}
        return self._token(client.subject or client_id)

    def _client_ok(self, client: Client, client_id: str, form: dict[str, str], audience: str) -> bool:
        if form.get("client_assertion_type") == ASSERTION_TYPE and client.certificate:
            claims = _verify_jwt(form.get("client_assertion", ""), client.certificate, audience)
            return claims is not None and claims.get("iss") == claims.get("sub") == client_id
        return bool(client.secret) and form.get("client_secret") == client.secret

    def _rfc6749(self, form: dict[str, str], auth: str) -> tuple[int, dict[str, Any]]:
        grant = form.get("grant_type", "")
        if grant == JWT_BEARER:
            return self._jwt_bearer(form.get("assertion", ""))
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        if auth.startswith("Basic "):
            pair = b64decode(auth[6:]).decode()
            client_id, _, secret = (urllib.parse.unquote_plus(p) for p in pair.partition(":"))
        client = self.clients.get(client_id)
        if client is None or (client.secret and secret != client.secret) or (not client.secret and secret):
            return 401, {"error": "invalid_client",
                         "error_description": "Client authentication failed (grant_type %s)." % grant}
        if grant == "client_credentials":
            if not client.secret:
                return 400, {"error": "unauthorized_client", "error_description": "public client"}
            return self._token(client.subject or client_id)
        if grant != "refresh_token":
            return 400, {"error": "unsupported_grant_type", "error_description": grant}
        with self._lock:
            owner = self._refresh.get(form.get("refresh_token", ""))
            if owner is None or owner[0] != client_id:
                return 400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
            extra: dict[str, Any] = {}
            if self.rotate:  # the used one is spent (RFC 6749 section 10.4)
                del self._refresh[form["refresh_token"]]
                extra["refresh_token"] = new = "rt-" + secrets.token_urlsafe(16)
                self._refresh[new] = owner
        status, body = self._token(owner[1])
        return status, {**body, **extra}

    def _jwt_bearer(self, assertion: str) -> tuple[int, dict[str, Any]]:
        import jwt

        try:
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT."}
        client = self.clients.get(str(unverified.get("iss", "")))
        # google-auth addresses its assertion to Google's endpoint whatever token_uri it posts to.
        audience = [self.token_url, "https://oauth2.googleapis.com/token"]
        claims = _verify_jwt(assertion, client.certificate, audience) if client else None
        if claims is None:
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
        if not claims.get("sub"):
            return 400, {"error": "unauthorized_client", "error_description": "Client is unauthorized to "
                                                                               "retrieve access tokens"}
        return self._token(str(claims["sub"]))

    def _token(self, subject: str) -> tuple[int, dict[str, Any]]:
        token = self.issue(subject)
        return 200, {"token_type": "Bearer", "expires_in": self.lifetime, "access_token": token}


def _verify_jwt(token: str, key_pem: str, audience: str | list[str]) -> dict[str, Any] | None:
    """The claims of a JWT signed by the key of ``key_pem`` (a certificate or a public key), else None."""
    import jwt
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    key: Any
    if "CERTIFICATE" in key_pem:
        key = x509.load_pem_x509_certificate(key_pem.encode()).public_key()
    else:
        key = load_pem_public_key(key_pem.encode())
    try:
        return dict(jwt.decode(token, key, algorithms=["RS256", "PS256"], audience=audience))
    except jwt.PyJWTError:
        return None


def _handler(endpoint: TokenEndpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            form = dict(urllib.parse.parse_qsl(body))
            path = urllib.parse.urlsplit(self.path).path
            if endpoint._raw and method == "POST":
                endpoint.log.append({"path": path, "grant_type": form.get("grant_type", "")})
                status, kind, text = endpoint._raw.pop(0)
                raw = text.replace("{form}", body).replace("{auth}", self.headers.get("Authorization", ""))
                self._send(status, kind, raw.encode())
                return
            status, answer = endpoint.answer(method, path, form, self.headers.get("Authorization", ""))
            self._send(status, "application/json", json.dumps(answer).encode())

        def _send(self, status: int, content_type: str, data: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            self._serve("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._serve("POST")

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    return Handler
