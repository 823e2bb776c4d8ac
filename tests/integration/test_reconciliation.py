"""docs/contract.md §11 over real HTTP: tokens labelled at Anam, and the scheduled pass settling each
reservation against the session list of the Anam stand-in, in moto's DynamoDB.

Reservations come from real requests where the flow allows it (the ledger records them), and from
`tests/support/reservations.py` where a test needs a past the clock cannot give (an expired token, a give-back
a request could not finish).
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from local.moto_server import aws_client
from local.standins.anam import AnamStub
from tests.conftest import PERSONA
from tests.support.dynamodb_engines import DynamoDb
from tests.support.function import Function
from tests.support.reservations import budget_keys, counter, put_reservation, record

PREFIX = "anam-token-vendor"  # the stack's name: POWERTOOLS_SERVICE_NAME in the tests
HOUR = 3600


@pytest.fixture
def dynamodb_client(dynamodb: DynamoDb) -> Any:
    """The operator's view of the guard's table (no fault proxy in between)."""
    return aws_client("dynamodb", dynamodb.url)


def reconcile(function: Function) -> dict[str, Any]:
    answer: dict[str, Any] = function.invoke({"reconcile": True})
    return answer


def minted_label(anam: AnamStub) -> str:
    label: str = anam.requests[-1].json["clientLabel"]
    return label


def list_requests(anam: AnamStub) -> list[Any]:
    return [request for request in anam.requests if request.route == "/v1/sessions"]


def query(path: str) -> dict[str, str]:
    return {name: values[-1] for name, values in parse_qs(urlsplit(path).query).items()}


def expired_reservation(dynamodb_client: Any, table: str, **fields: Any) -> str:
    """A reservation made two hours ago: its token has expired."""
    return put_reservation(dynamodb_client, table, created_at=time.time() - 2 * HOUR, **fields)


def test_each_token_carries_a_label_of_its_own_after_the_personas_label(
    function, reconciling, anam, aws_admin
):
    aws_admin.put_persona(json.dumps({"personaConfig": PERSONA, "clientLabel": "website"}))
    assert function.post().status == 200
    assert function.post().status == 200
    first, second = (request.json["clientLabel"] for request in anam.requests)
    assert first != second
    assert first.startswith(f"website:{PREFIX}:")
    assert len(first.rsplit(":", 1)[1]) == 32


def test_without_a_minutes_budget_nothing_is_labelled(function, guarded, anam):
    assert function.post().status == 200
    assert "clientLabel" not in anam.requests[-1].json


def test_reconcile_usage_false_turns_the_labels_and_the_pass_off(function, reconciling, anam, monkeypatch):
    monkeypatch.setenv("RECONCILE_USAGE", "false")
    assert function.post().status == 200
    assert "clientLabel" not in anam.requests[-1].json
    assert reconcile(function) == {"reconciled": False, "error": "reconciliation_off"}


def test_the_record_holds_no_caller_token_or_prompt_only_the_label_to_look_its_session_up(
    function, reconciling, anam, dynamodb_client
):
    answer = function.post({"prompt": "Talk about the weather"})
    reservation_id = minted_label(anam).rsplit(":", 1)[1]
    kept = record(dynamodb_client, reconciling, reservation_id)
    assert (kept["state"], kept["label"]) == ("open", minted_label(anam))
    stored = json.dumps(kept)
    for secret in (answer.json()["sessionToken"], "weather", "127.0.0.1"):
        assert secret not in stored


@pytest.mark.parametrize("length_field", ["sessionLengthMs", "durationMs", None])
def test_an_ended_session_gives_back_the_minutes_it_did_not_use_rounded_up(
    function, reconciling, anam, dynamodb_client, length_field
):
    anam.sessions.length_field = length_field
    assert function.post().status == 200  # reserves 10 minutes from the day and the month
    started = time.time() - 600
    anam.sessions.add(minted_label(anam), started_at=started, ended_at=started + 121)  # 2 min 1 s: 3 minutes

    summary = reconcile(function)

    assert summary["settledUsed"] == 1
    assert (summary["minutesReserved"], summary["minutesUsed"], summary["minutesGivenBack"]) == (10, 3, 7)
    assert [counter(dynamodb_client, reconciling, key) for key in budget_keys()] == [3, 3]


def test_each_session_is_rounded_up_on_its_own(function, reconciling, anam, dynamodb_client):
    for _ in range(2):
        assert function.post().status == 200
        started = time.time() - 600
        anam.sessions.add(minted_label(anam), started_at=started, ended_at=started + 61)  # 2 minutes each
    assert reconcile(function)["minutesUsed"] == 4
    assert counter(dynamodb_client, reconciling, budget_keys()[0]) == 4


def test_a_session_longer_than_its_reservation_adds_its_overrun(function, reconciling, anam, dynamodb_client):
    assert function.post().status == 200
    started = time.time() - 1200
    anam.sessions.add(minted_label(anam), started_at=started, ended_at=started + 14 * 60)
    reconcile(function)
    assert [counter(dynamodb_client, reconciling, key) for key in budget_keys()] == [14, 14]


def test_a_running_session_waits_for_a_later_pass(function, reconciling, anam, dynamodb_client):
    assert function.post().status == 200
    label = minted_label(anam)
    session = anam.sessions.add(label, started_at=time.time() - 30)

    assert reconcile(function)["waiting"] == 1
    assert counter(dynamodb_client, reconciling, budget_keys()[0]) == 10

    anam.sessions.stop(session)
    assert reconcile(function)["settledUsed"] == 1
    assert counter(dynamodb_client, reconciling, budget_keys()[0]) == 1


def test_an_expired_unused_token_gives_everything_back_only_once_a_later_session_proves_the_listing(
    function, reconciling, anam, dynamodb_client
):
    reservation_id = expired_reservation(dynamodb_client, reconciling)
    expiry = record(dynamodb_client, reconciling, reservation_id)["tokenExpiresAt"]

    # A listing that finds nothing proves nothing; nor does a session from before the expiry, nor another
    # deployment's session after it.
    anam.sessions.add(f"{PREFIX}:{'a' * 32}", started_at=expiry - 60, ended_at=expiry)
    anam.sessions.add(f"another-stack:{'b' * 32}", started_at=expiry + 60)
    assert reconcile(function)["waiting"] == 1
    assert counter(dynamodb_client, reconciling, budget_keys(expiry - 2 * HOUR)[0]) == 10

    anam.sessions.add(f"website:{PREFIX}:{'c' * 32}", started_at=expiry + 60)
    summary = reconcile(function)

    assert (summary["settledUnused"], summary["minutesGivenBack"]) == (1, 10)
    assert [counter(dynamodb_client, reconciling, key) for key in budget_keys(expiry - 2 * HOUR)] == [0, 0]
    assert record(dynamodb_client, reconciling, reservation_id)["state"] == "settled"
    assert "openShard" not in record(dynamodb_client, reconciling, reservation_id)


def test_repeated_passes_change_nothing_more(function, reconciling, anam, dynamodb_client):
    assert function.post().status == 200
    started = time.time() - 600
    anam.sessions.add(minted_label(anam), started_at=started, ended_at=started + 90)
    reconcile(function)

    again = reconcile(function)

    assert (again["openBefore"], again["minutesGivenBack"]) == (0, 0)
    assert [counter(dynamodb_client, reconciling, key) for key in budget_keys()] == [2, 2]


def test_a_give_back_a_request_could_not_finish_is_settled_by_the_next_pass(
    function, reconciling, anam, dynamodb_client
):
    # As the ledger leaves a give-back whose month counter failed: the day given back, the month still held.
    day, month = budget_keys(time.time() - 2 * HOUR)
    reservation_id = expired_reservation(dynamodb_client, reconciling, windows={month: 10})
    expiry = record(dynamodb_client, reconciling, reservation_id)["tokenExpiresAt"]
    anam.sessions.add(f"{PREFIX}:{'d' * 32}", started_at=expiry + 5)

    reconcile(function)

    assert [counter(dynamodb_client, reconciling, key) for key in (day, month)] == [0, 0]
    assert record(dynamodb_client, reconciling, reservation_id)["usedMinutes"] == 0


def test_a_reservation_being_given_back_is_left_to_its_request(function, reconciling, anam, dynamodb_client):
    reservation_id = expired_reservation(dynamodb_client, reconciling, state="giving_back")
    expiry = record(dynamodb_client, reconciling, reservation_id)["tokenExpiresAt"]
    anam.sessions.add(f"{PREFIX}:{'e' * 32}", started_at=expiry + 5)
    assert reconcile(function)["openBefore"] == 0
    assert counter(dynamodb_client, reconciling, budget_keys(expiry - 2 * HOUR)[0]) == 10


def test_a_token_whose_anam_call_failed_is_not_given_back_twice(function, reconciling, anam, dynamodb_client):
    from local.standins.anam import Reply

    anam.enqueue(Reply(400, {"message": "bad avatar"}))
    assert function.post().status == 502  # reservation given back at once, its record settled with it
    anam.sessions.add(f"{PREFIX}:{'f' * 32}", started_at=time.time() + 2 * HOUR)
    assert reconcile(function)["openBefore"] == 0
    assert counter(dynamodb_client, reconciling, budget_keys()[0]) == 0


def test_each_reservation_is_looked_up_by_its_whole_label_and_no_listing_when_no_proof_is_needed(
    function, reconciling, anam, dynamodb_client
):
    labels = [f"website:{PREFIX}:{number:032x}" for number in range(3)]
    for number, label in enumerate(labels):
        put_reservation(dynamodb_client, reconciling, reservation_id=f"{number:032x}", label=label)
        started = time.time() - 600
        anam.sessions.add(label, started_at=started, ended_at=started + 30)
    for number in range(250):  # the site's other sessions: none of them is read
        anam.sessions.add(f"{PREFIX}:{number + 100:032x}", started_at=time.time() - 7200 + number)

    assert reconcile(function)["settledUsed"] == 3
    searches = sorted(query(request.path)["search"] for request in list_requests(anam))
    assert searches == sorted(labels)
    assert all(query(request.path)["perPage"] == "100" for request in list_requests(anam))


def test_a_session_whose_label_only_contains_the_reservations_label_is_not_its_session(
    function, reconciling, anam, dynamodb_client
):
    # The stand-in's search, like Anam's perhaps, matches part of a label: a session labelled by a persona
    # whose label ends like this reservation's is returned by the lookup, and must not settle it as used.
    reservation_id = expired_reservation(dynamodb_client, reconciling)
    expiry = record(dynamodb_client, reconciling, reservation_id)["tokenExpiresAt"]
    anam.sessions.add(f"x:{PREFIX}:{reservation_id}", started_at=expiry - 600, ended_at=expiry - 300)
    anam.sessions.add(f"{PREFIX}:{'c' * 32}", started_at=expiry + 60)  # the proof of a later session

    summary = reconcile(function)

    assert (summary["settledUsed"], summary["settledUnused"], summary["minutesGivenBack"]) == (0, 1, 10)


def test_a_record_from_before_labels_were_kept_is_found_by_its_id_whatever_the_personas_label(
    function, reconciling, anam, dynamodb_client
):
    reservation_id = put_reservation(dynamodb_client, reconciling, label=None)
    started = time.time() - 600
    anam.sessions.add(f"website:{PREFIX}:{reservation_id}", started_at=started, ended_at=started + 100)
    anam.sessions.add(f"website:another-stack:{reservation_id}", started_at=started, ended_at=started + 900)

    assert reconcile(function)["minutesUsed"] == 2
    [lookup] = list_requests(anam)
    assert query(lookup.path)["search"] == f"{PREFIX}:{reservation_id}"


def test_the_proof_of_a_later_session_comes_from_one_listing_made_after_the_lookups(
    function, reconciling, anam, dynamodb_client
):
    unused = [expired_reservation(dynamodb_client, reconciling) for _ in range(3)]
    expiry = max(record(dynamodb_client, reconciling, key)["tokenExpiresAt"] for key in unused)
    anam.sessions.add(f"{PREFIX}:{'c' * 32}", started_at=expiry + 60)

    summary = reconcile(function)

    assert summary["settledUnused"] == 3
    *lookups, listing = list_requests(anam)
    assert sorted(query(request.path)["search"] for request in lookups) == sorted(
        f"{PREFIX}:{key}" for key in unused
    )
    assert query(listing.path) == {"search": PREFIX, "perPage": "100", "page": "1"}


def test_the_pass_publishes_its_figures_and_each_budgets_share(function, reconciling, anam, capsys):
    assert function.post().status == 200
    started = time.time() - 600
    anam.sessions.add(minted_label(anam), started_at=started, ended_at=started + 100)
    capsys.readouterr()

    summary = reconcile(function)

    assert summary["budgetsUsedPercent"] == {"daily": 2.0, "monthly": 0.2}
    emitted = capsys.readouterr().out
    for name in ("MinutesReserved", "MinutesUsed", "MinutesGivenBack", "TokensSettledUsed",
                 "OpenReservations", "BudgetUsedPercent", "ReconcilePasses"):  # fmt: skip
        assert f'"{name}"' in emitted


def test_with_nothing_open_anam_is_not_asked(function, reconciling, anam):
    summary = reconcile(function)
    assert (summary["reconciled"], summary["openBefore"]) == (True, 0)
    assert not list_requests(anam)
