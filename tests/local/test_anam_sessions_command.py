"""`make sessions` (scripts/anam_sessions.py): an operator sees the sessions the pass would find on their own
Anam account, and is told plainly what to check when there are none."""

from __future__ import annotations

import time

import pytest

from scripts import anam_sessions
from tests.conftest import API_KEY

PREFIX = "shop-prod"


@pytest.fixture
def account(anam, monkeypatch):
    monkeypatch.setenv("ANAM_API_KEY", API_KEY)
    monkeypatch.setenv("ANAM_API_BASE_URL", anam.url)
    return anam


def test_the_deployments_sessions_are_listed_newest_first(account, capsys):
    started = time.time() - 600
    account.sessions.add(f"website:{PREFIX}:{'a' * 32}", started_at=started, ended_at=started + 90)
    account.sessions.add(f"{PREFIX}:{'b' * 32}", started_at=started + 300)
    account.sessions.add(f"another-stack:{'c' * 32}", started_at=started)

    assert anam_sessions.main(["--prefix", PREFIX]) == 0

    out = capsys.readouterr().out
    assert "2 session(s)" in out
    assert out.index("b" * 32) < out.index("a" * 32)
    assert "c" * 32 not in out
    assert "running" in out
    assert "brought it back" in out
    searches = [request.path for request in account.requests]
    assert f"search={PREFIX}%3A{'b' * 32}" in searches[-1]  # the newest, searched by its whole label


def test_a_search_by_a_whole_label_that_does_not_bring_its_session_back_is_said_plainly(account, capsys):
    from local.standins.anam import Reply

    account.sessions.add(f"{PREFIX}:{'b' * 32}", started_at=time.time() - 60)
    account.enqueue(
        Reply(200, account.sessions.page(f"search={PREFIX}&perPage=100&page=1")),
        Reply(200, {"data": [], "meta": {"lastPage": 1}}),
    )
    assert anam_sessions.main(["--prefix", PREFIX]) == 3
    assert "did NOT bring it back" in capsys.readouterr().out


def test_none_found_says_what_that_means_and_what_to_check(account, capsys):
    assert anam_sessions.main(["--prefix", PREFIX]) == 0
    out = capsys.readouterr().out
    assert "No session on this Anam account carries" in out
    assert "CLIENT_LABEL_PREFIX" in out


def test_a_refused_key_is_said_plainly(account, monkeypatch, capsys):
    monkeypatch.setenv("ANAM_API_KEY", "not-the-key")
    assert anam_sessions.main(["--prefix", PREFIX]) == 1
    assert "401" in capsys.readouterr().err
