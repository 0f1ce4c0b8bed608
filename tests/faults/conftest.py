"""The fault-injection suite's shared parts: its sizes, its figures, its servers.

``FORUMMAIL_FAULTS=long`` runs the full figures of the README's guarantee
section; the default (CI) runs smaller counts of the same tests.  Each test
records what it measured in ``tests/faults/out/<test>.json`` and the figures
are printed at the end of the run.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Env
from tests.servers import DovecotServer

LONG = os.environ.get("FORUMMAIL_FAULTS", "").lower() == "long"
MODE = "long" if LONG else "ci"
OUT = Path(__file__).resolve().parent / "out"
POP_PASSWORD = "Faults-Pop-Pa55"

_FIGURES: dict[str, dict[str, Any]] = {}


def size(ci: int, long: int) -> int:
    """A count for this mode."""
    return long if LONG else ci


def seed() -> int:
    """The random seed of a test: FORUMMAIL_FAULTS_SEED to replay one, else a fresh one (recorded)."""
    given = os.environ.get("FORUMMAIL_FAULTS_SEED")
    return int(given) if given else random.SystemRandom().randrange(1, 2**31)


class Figures(dict[str, Any]):
    """What a test measured; written to tests/faults/out/<name>.json when the test ends."""


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Iterator[Figures]:
    name = request.node.name
    fig = Figures(mode=MODE)
    started = time.monotonic()
    yield fig
    fig["seconds"] = round(time.monotonic() - started, 1)
    call = getattr(request.node, "rep_call", None)
    fig["passed"] = bool(call and call.passed)
    _FIGURES[name] = dict(fig)
    OUT.mkdir(exist_ok=True)
    (OUT / ("%s.%s.json" % (name, MODE))).write_text(json.dumps(fig, indent=2, sort_keys=True, default=str) + "\n")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
    return report


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _FIGURES:
        return
    terminalreporter.section("fault-injection figures (%s mode; JSON in tests/faults/out/)" % MODE)
    for name, fig in sorted(_FIGURES.items()):
        shown = ", ".join("%s=%s" % (k, v) for k, v in sorted(fig.items()) if k not in ("mode",))
        terminalreporter.write_line("%s: %s" % (name, shown))


@pytest.fixture
def pop() -> Iterator[DovecotServer]:
    server = DovecotServer(login="replies", password=POP_PASSWORD).start()
    yield server
    server.stop()


def configure_pop(env: Env, port: int, **opts: object) -> None:
    """The env's settings with the reply mailbox at 127.0.0.1:port."""
    env.configure(opts={"replier_pop_addr": "127.0.0.1:%d" % port, "replier_pop_ssl": False,
                        "replier_pop_login": "replies", "replier_pop_timeout": 10, **opts},
                  env={"REPLIER_POP_PSSWD": POP_PASSWORD})


@dataclass
class Delivery:
    """What the test SMTP server got, by Message-ID."""

    total: int
    ids: list[str]

    @property
    def unique(self) -> set[str]:
        return set(self.ids)

    @property
    def duplicates(self) -> int:
        return self.total - len(self.unique)


def delivered(messages: list[Any]) -> Delivery:
    ids = []
    for m in messages:
        head = m.data.split(b"\r\n\r\n", 1)[0]
        msg = message_from_bytes(head + b"\r\n\r\n", policy=policy.compat32)
        ids.append(str(msg["Message-ID"]).strip())
    return Delivery(len(ids), ids)


def bulk_forum(forum: Any, followers: int, posts: int) -> dict[str, int]:
    """A task followed by an author and ``followers`` users; the author posts ``posts`` times.

    The forum's trigger queues ``followers * posts`` notifications.
    """
    universe = forum.universe("Bulk", allow_email_reply=True)
    author = forum.user(universe, "Ann Author", "ann@example.com")
    task = forum.task(universe, "Bulk task", [author])
    forum.conn.execute(
        "INSERT INTO users (universe_id, name, email) SELECT %s, 'User ' || g, 'user' || g || '@example.com'"
        " FROM generate_series(1, %s) g", (universe, followers))
    forum.conn.execute("INSERT INTO task_followers (task_id, user_id) SELECT %s, id FROM users WHERE id <> %s",
                       (task, author))
    for i in range(posts):
        forum.post(task, author, "Message %d of the bulk run.\n\nSecond paragraph, a bit of body." % i)
    return {"universe": universe, "author": author, "task": task}
