"""docs/contract.md §5 and §6: an attempt at Anam, connect and read together, ends by its deadline."""

from typing import Any

import pytest
import requests

from token_vendor.adapters.anam import AnamClient
from token_vendor.adapters.http_session import CONNECT_TIMEOUT_SECONDS, attempt_timeouts
from token_vendor.errors import TokenVendorError


@pytest.mark.parametrize("remaining", [0.01, 0.5, 1.0, 3.9, 10.0, 14.5])
def test_connect_and_read_timeouts_add_up_to_the_time_left(remaining):
    connect, read = attempt_timeouts(remaining)
    assert connect + read == pytest.approx(remaining)
    assert 0 < connect <= CONNECT_TIMEOUT_SECONDS
    assert read > 0


def test_each_attempt_is_given_what_is_left_of_the_budget_split_between_connect_and_read(monkeypatch):
    now = [100.0]
    client = AnamClient("http://127.0.0.1:9", clock=lambda: now[0], sleep=lambda s: None, jitter=lambda: 0.0)
    given: list[Any] = []

    def post(url: str, **kwargs: Any) -> requests.Response:
        given.append(kwargs["timeout"])
        now[0] += 1.0  # each attempt fails after a second
        raise requests.ConnectionError("refused")

    monkeypatch.setattr(client.session, "post", post)

    with pytest.raises(TokenVendorError):
        client.create_session_token("key", {}, deadline=110.0)

    assert [sum(timeouts) for timeouts in given] == pytest.approx([10.0, 9.0, 8.0])
    assert all(connect == CONNECT_TIMEOUT_SECONDS for connect, _ in given)
