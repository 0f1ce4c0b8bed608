"""The one table of what SMTP reply codes mean (a pure function: no server needed)."""

from __future__ import annotations

import pytest

from forummail.reply_codes import LOST, Stage, Verdict, classify

A, R, C, F, B, D = (Verdict.ACCEPTED, Verdict.RETRY, Verdict.CLOSING, Verdict.FAILED, Verdict.TOO_BIG,
                    Verdict.SERVER_DOWN)


@pytest.mark.parametrize(("stage", "code", "verdict"), [
    # The first digit decides (RFC 5321 section 4.2.1).
    (Stage.MAIL, 250, A), (Stage.RCPT, 250, A), (Stage.RCPT, 251, A), (Stage.MESSAGE, 250, A),
    (Stage.DATA, 354, A),
    (Stage.MAIL, 451, R), (Stage.RCPT, 450, R), (Stage.RCPT, 452, R), (Stage.DATA, 451, R),
    (Stage.MESSAGE, 451, R), (Stage.MESSAGE, 452, R),
    (Stage.RCPT, 550, F), (Stage.RCPT, 553, F), (Stage.DATA, 554, F), (Stage.MESSAGE, 554, F),
    (Stage.MESSAGE, 550, F),
    # Neither 2xx, 4xx nor 5xx: nothing says it went, and nothing says to try again.
    (Stage.RCPT, 354, F), (Stage.MESSAGE, 354, F), (Stage.MESSAGE, 199, F), (Stage.RCPT, 600, F),
    # 552: too many recipients on RCPT is temporary (RFC 5321 section 4.5.3.1.10) ...
    (Stage.RCPT, 552, R),
    # ... and on MAIL (SIZE, RFC 1870 section 6.1) or after the data, the message is too big.
    (Stage.MAIL, 552, B), (Stage.DATA, 552, B), (Stage.MESSAGE, 552, B),
    # 421 closes the channel at any stage (RFC 5321 section 3.8); so does no answer at all.
    (Stage.MAIL, 421, C), (Stage.RCPT, 421, C), (Stage.DATA, 421, C), (Stage.MESSAGE, 421, C),
    (Stage.MAIL, LOST, C), (Stage.RCPT, LOST, C), (Stage.MESSAGE, LOST, C),
    # A permanent refusal of our sender would refuse every message: the server is no use.
    (Stage.MAIL, 550, D), (Stage.MAIL, 553, D), (Stage.MAIL, 530, D), (Stage.MAIL, 500, D),
    # Without a session nothing goes: any refusal before MAIL is the server being down.
    (Stage.CONNECT, 220, A), (Stage.CONNECT, 421, D), (Stage.CONNECT, 554, D), (Stage.CONNECT, LOST, D),
    (Stage.AUTH, 235, A), (Stage.AUTH, 535, D), (Stage.AUTH, 454, D),
])
def test_classify(stage: Stage, code: int, verdict: Verdict) -> None:
    assert classify(stage, code) is verdict


def test_retry_and_failed_group_the_verdicts() -> None:
    assert {v for v in Verdict if v.retry} == {Verdict.RETRY, Verdict.CLOSING}
    assert {v for v in Verdict if v.failed} == {Verdict.FAILED, Verdict.TOO_BIG}


def test_sign_in_refusals_and_what_they_mean() -> None:
    from forummail.reply_codes import sign_in_meaning, token_refused

    assert token_refused(535) and token_refused(550)
    assert not token_refused(530) and not token_refused(454) and not token_refused(504)
    assert "SmtpClientAuthenticationDisabled" in sign_in_meaning("5.7.139 Authentication unsuccessful, SmtpClient")
    assert "SMTP.SendAsApp" in sign_in_meaning("5.7.3 Authentication unsuccessful")
    assert sign_in_meaning("Authentication unsuccessful") == ""
