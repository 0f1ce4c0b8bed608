"""What ``manage.py check`` can say about a credential's expiry, read where the client can read it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from ..settingtypes import OAuth2


def describe(config: OAuth2) -> list[str]:
    """Lines about ``config``'s credential: what it is, and when it expires where that can be known."""
    where = "%s: provider %r" % (config.setting, config.provider)
    if config.provider == "command":
        return ["%s, token_command %s: the command keeps its own credential" % (where,
                                                                                 config.token_command.split()[0])]
    if config.provider == "microsoft" and config.certificate:
        return ["%s, certificate %s: %s" % (where, config.certificate, certificate_expiry(config.certificate))]
    if config.provider == "microsoft":
        return ["%s, client secret of app %s: Entra ID does not tell the client when a secret expires; see the "
                "app registration's 'Certificates & secrets' page in the Entra admin center (entra.microsoft.com) "
                "and put a new secret in place before that date" % (where, config.client_id)]
    if config.provider == "google" and config.service_account_file:
        return ["%s, service account key %s: keys do not expire unless your organisation's policy sets it; "
                "see IAM & Admin > Service accounts > Keys in the Google Cloud console"
                % (where, config.service_account_file)]
    if config.refresh_token:
        extra = (" (Google revokes one unused for 6 months, one whose user changed the password, and after 7 "
                 "days one of an app in 'Testing' status)" if config.provider == "google" else "")
        return ["%s, refresh token of client %s: the provider does not tell when it stops working%s"
                % (where, config.client_id, extra)]
    return ["%s, client credentials of %s at %s: the endpoint does not tell when the secret expires"
            % (where, config.client_id, config.token_url)]


def certificate_expiry(path: str) -> str:
    """The certificate's notAfter, read from the PEM file, as a sentence."""
    from cryptography import x509  # installed with MSAL, which a certificate needs anyway

    try:
        cert = x509.load_pem_x509_certificate(Path(path).read_bytes())
    except (OSError, ValueError) as exc:
        return "cannot be read: %s" % exc
    not_after = cert.not_valid_after_utc
    days = (not_after - datetime.now(UTC)).days
    if days < 0:
        return "expired on %s: make a new one and upload it to the app registration" % not_after.date()
    return "valid until %s (%d days)" % (not_after.strftime("%Y-%m-%d %H:%M UTC"), days)
