"""The SASL strings of OAuth2 sign-in (pure functions: no server needed)."""

from __future__ import annotations

import base64
import json

import pytest

from forummail import sasl


def test_xoauth2_is_googles_and_microsofts_format() -> None:
    # The example of Google's XOAUTH2 protocol page, byte for byte.
    raw = sasl.client_response(sasl.XOAUTH2, "someuser@example.com", "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg")
    assert raw == b"user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01"
    assert sasl.encoded_response(sasl.XOAUTH2, "someuser@example.com",
                                 "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg") == (
        "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52"
        "YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==")


def test_oauthbearer_is_rfc7628_section_3_1() -> None:
    # RFC 7628 section 4.1's example: GS2 header, host, port, auth, each ended by ^A.
    raw = sasl.client_response(sasl.OAUTHBEARER, "user@example.com", "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==",
                               "server.example.com", 143)
    assert raw == (b"n,a=user@example.com,\x01host=server.example.com\x01port=143\x01"
                   b"auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01")


def test_oauthbearer_escapes_comma_and_equals_in_the_user() -> None:
    raw = sasl.client_response(sasl.OAUTHBEARER, "a,b=c@example.com", "t")
    assert raw.startswith(b"n,a=a=2Cb=3Dc@example.com,\x01auth=Bearer t\x01\x01")


def test_unknown_mechanism_is_refused() -> None:
    with pytest.raises(ValueError, match="PLAIN"):
        sasl.client_response("PLAIN", "u", "t")


@pytest.mark.parametrize(("offered", "chosen"), [
    (["PLAIN", "LOGIN", "XOAUTH2"], "XOAUTH2"),
    (["xoauth2", "oauthbearer"], "OAUTHBEARER"),
    (["PLAIN", "LOGIN"], None),
    ([], None),
])
def test_oauthbearer_where_offered_else_xoauth2(offered: list[str], chosen: str | None) -> None:
    assert sasl.choose(offered) == chosen


def test_after_an_error_challenge() -> None:
    # RFC 7628 section 3.2.3: a single ^A for OAUTHBEARER; XOAUTH2: an empty response.
    assert base64.b64decode(sasl.after_error(sasl.OAUTHBEARER)) == b"\x01"
    assert sasl.after_error(sasl.XOAUTH2) == ""


def test_error_challenge_read_into_one_line() -> None:
    challenge = base64.b64encode(json.dumps(
        {"status": "invalid_token", "scope": "https://mail.google.com/", "schemes": "Bearer"}).encode())
    assert sasl.read_error(challenge) == "status invalid_token, scope https://mail.google.com/"
    assert sasl.read_error(challenge.decode()) == "status invalid_token, scope https://mail.google.com/"
    assert sasl.read_error(b"not base64 at all\r\n  second") == "not base64 at all second"
    assert sasl.read_error(base64.b64encode(b'{"schemes": "Bearer"}')) == "an error challenge without a status"
