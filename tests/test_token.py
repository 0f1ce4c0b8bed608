"""The reply token: signed, bound to user and task, expiring, case-proof."""

from __future__ import annotations

from datetime import date

import pytest

from forummail import token

SECRET = "0123456789abcdef-secret"


def test_round_trip_and_case_folding() -> None:
    t = token.make(SECRET, 31, 42, date(2027, 1, 1))
    assert t == t.lower() and "+" not in t and "-" not in t
    for variant in (t, t.upper()):
        data = token.verify([SECRET], variant, date(2026, 12, 31))
        assert (data.user_id, data.task_id, data.expires) == (31, 42, date(2027, 1, 1))


@pytest.mark.parametrize("field", [0, 1, 2])
def test_changing_any_field_breaks_the_signature(field: int) -> None:
    parts = token.make(SECRET, 31, 42, date(2027, 1, 1)).split(".")
    parts[field] = "%x" % (int(parts[field], 16) + 1)
    with pytest.raises(token.InvalidToken) as err:
        token.verify([SECRET], ".".join(parts), date(2026, 1, 1))
    assert err.value.reason == "forged"


def test_other_secret_is_forged_old_secret_still_accepted() -> None:
    t = token.make("old-secret-0123456789", 1, 2, date(2027, 1, 1))
    with pytest.raises(token.InvalidToken, match="forged"):
        token.verify([SECRET], t, date(2026, 1, 1))
    assert token.verify([SECRET, "old-secret-0123456789"], t, date(2026, 1, 1)).task_id == 2


def test_expired() -> None:
    t = token.make(SECRET, 1, 2, date(2026, 1, 1))
    assert token.verify([SECRET], t, date(2026, 1, 1)).user_id == 1
    with pytest.raises(token.InvalidToken, match="expired"):
        token.verify([SECRET], t, date(2026, 1, 2))


@pytest.mark.parametrize("bad", ["", "abc", "1.2.3", "1.2.3.!!!!!!!!!!!!!!!!", "g.2.3.abcdefghijklmnop"])
def test_malformed(bad: str) -> None:
    with pytest.raises(token.InvalidToken, match="malformed"):
        token.verify([SECRET], bad, date(2026, 1, 1))


def test_found_in_addresses_and_message_ids() -> None:
    t = token.make(SECRET, 5, 6, date(2027, 1, 1))
    assert token.find(token.reply_address("replies@example.com", t)) == t
    assert token.find("<%s.n17.abcdefgh@example.com>" % t) == t
    assert token.find("<%s.n17.abcdefgh@example.com>" % t.upper()) == t
    assert token.find("<n17.abcdefgh@example.com>") is None
    assert token.reply_address("replies@example.com", t) == "replies+%s@example.com" % t
