"""docs/contract.md §5's one retry after a 401, with a freshly fetched key, when faults strike around it.

Each case starts warm, holding the old key; then Anam stops accepting it and the operator (maybe) puts a new
one in Secrets Manager. The 401 is the stand-in's own; the proxy and AWS add faults after it.
"""

from dataclasses import dataclass

import pytest

from local.fault_proxy import Fault, FaultProxy, aws_throttling
from local.standins.anam import AnamStub
from tests.conftest import API_KEY, ROTATED_API_KEY
from tests.faults.answer_checks import PROMPT, assert_answer, assert_nothing_leaked, assert_token
from tests.support.function import Function, Logs

THROUGH = Fault.delay(0.0)  # forwarded as it is: the attempt with the old key, which Anam refuses


@dataclass(frozen=True)
class Rotation:
    secret: str  # what the operator put in Secrets Manager
    accepted: frozenset[str]  # the keys Anam accepts from now on
    status: int
    code: str | None  # None: a session token
    keys_tried: tuple[str, ...]  # the keys that reached Anam after the rotation, in order
    anam_faults: tuple[Fault, ...] = ()
    aws_faults: tuple[Fault, ...] = ()


NEW_KEY_ONLY = frozenset({ROTATED_API_KEY})
ROTATIONS = [
    pytest.param(
        Rotation(
            ROTATED_API_KEY,
            NEW_KEY_ONLY,
            200,
            None,
            keys_tried=(API_KEY, ROTATED_API_KEY),
            anam_faults=(THROUGH, Fault.reset()),
        ),
        id="the new key's attempt is reset, then a token",
    ),
    pytest.param(
        Rotation(
            ROTATED_API_KEY,
            NEW_KEY_ONLY,
            200,
            None,
            keys_tried=(API_KEY, ROTATED_API_KEY),
            anam_faults=(THROUGH, Fault.status(503)),
        ),
        id="the new key's attempt meets a 503, then a token",
    ),
    pytest.param(
        Rotation(
            ROTATED_API_KEY,
            NEW_KEY_ONLY,
            429,
            "rate_limited",
            keys_tried=(API_KEY,),
            anam_faults=(THROUGH, Fault.status(429, {"message": "slow down"}, {"Retry-After": "9"})),
        ),
        id="the new key's attempt is rate limited",
    ),
    pytest.param(
        Rotation(
            ROTATED_API_KEY,
            frozenset({"yet-another-anam-key"}),
            502,
            "upstream_auth_failed",
            keys_tried=(API_KEY, ROTATED_API_KEY),
        ),
        id="the new key is refused too",
    ),
    pytest.param(
        Rotation(API_KEY, NEW_KEY_ONLY, 502, "upstream_auth_failed", keys_tried=(API_KEY,)),
        id="the secret was not replaced",
    ),
    pytest.param(
        Rotation(
            ROTATED_API_KEY,
            NEW_KEY_ONLY,
            502,
            "upstream_auth_failed",
            keys_tried=(API_KEY,),
            aws_faults=(aws_throttling(), aws_throttling()),
        ),
        id="fetching the new key is throttled",
    ),
]


@pytest.mark.parametrize("rotation", ROTATIONS)
def test_a_401_fetches_the_key_afresh_once_and_faults_after_it_end_in_the_specs_answer(
    function: Function,
    anam_proxy: FaultProxy,
    anam: AnamStub,
    aws: FaultProxy,
    aws_admin,
    logs: Logs,
    rotation: Rotation,
):
    assert_token(function.post({"prompt": PROMPT}))
    aws_admin.put_secret(rotation.secret)
    anam.api_keys = set(rotation.accepted)
    anam_proxy.enqueue(*rotation.anam_faults)
    aws.enqueue(*rotation.aws_faults, match="GetSecretValue")

    answer = function.post({"prompt": PROMPT})

    assert_answer(answer, rotation.status, rotation.code)
    keys_tried = [r.headers["Authorization"].removeprefix("Bearer ") for r in anam.requests[1:]]
    assert tuple(keys_tried) == rotation.keys_tried
    assert_nothing_leaked(answer, logs)
