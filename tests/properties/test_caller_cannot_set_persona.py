"""docs/contract.md §3 and §4: the persona is defined on the server. Whatever JSON object a caller sends (any
keys, repeated, \\u-escaped, any values), Anam gets the stored persona merged with at most the caller's prompt
(the suite's default persona declares no variables); an object with a key twice gets nothing: invalid_json.
"""

import json

from hypothesis import event, given
from hypothesis import strategies as st

from local.standins.anam import AnamStub
from tests.conftest import PERSONA
from tests.properties import strategies as gen
from tests.properties.spec_model import PERSONA_FIELDS, REQUEST_FIELDS, merged_persona, strict_json
from tests.support.function import Function
from token_vendor.domain.request import parse_token_request
from token_vendor.errors import ErrorCode, TokenVendorError

JSON_TYPE = {"content-type": "application/json"}


def has_a_key_twice(body: str) -> bool:
    try:
        strict_json(body)
    except ValueError:
        return True
    return False


@gen.PURE
@given(body=gen.json_object_texts())
def test_a_body_naming_a_persona_field_is_refused_and_an_accepted_one_carries_only_a_prompt(body):
    fields = json.loads(body)
    try:
        request = parse_token_request(JSON_TYPE, body, False, 4000)
    except TokenVendorError as refusal:
        code = refusal.code
    else:
        assert not has_a_key_twice(body)
        assert fields.keys() <= set(REQUEST_FIELDS)
        assert request.prompt == fields.get("prompt")
        return
    if has_a_key_twice(body):
        assert code is ErrorCode.INVALID_JSON
    elif fields.keys() & set(PERSONA_FIELDS):
        assert code is ErrorCode.PERSONA_CONFIG_NOT_ALLOWED


@gen.HANDLER
@given(body=gen.json_object_texts() | gen.json_object_texts(names=st.just("prompt")))
def test_whatever_object_a_caller_posts_anam_gets_the_stored_persona_merged_with_at_most_the_prompt(
    function: Function, anam: AnamStub, body
):
    fields = json.loads(body)
    anam.reset()  # each example looks only at what it sent

    answer = function.request("POST", body, JSON_TYPE)

    event(f"{answer.status} {answer.json().get('code', '')}")  # hypothesis's statistics
    prompt = fields.get("prompt") if isinstance(fields.get("prompt"), str) else None
    for sent in anam.requests:
        assert sent.json == {"personaConfig": merged_persona(PERSONA, prompt, None)}
    if has_a_key_twice(body):
        assert (answer.status, answer.json()["code"]) == (400, "invalid_json")
        assert anam.requests == []
        return
    if fields.keys() - set(REQUEST_FIELDS):
        assert answer.status == 400
        assert anam.requests == []
    if fields.keys() & set(PERSONA_FIELDS):
        assert answer.json()["code"] == "persona_config_not_allowed"
