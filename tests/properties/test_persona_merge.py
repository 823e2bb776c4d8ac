"""docs/contract.md §4 as properties of `parse_template` and `build_request_body`: for any stored persona
(saved or ephemeral, bare or in a request-body template, with any extra fields) and any prompt, Anam gets the
stored persona changed only where the rules say, with the prompt exactly where the merge rule puts it, and the
stored value is never changed.
"""

import copy
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tests.properties import strategies as gen
from tests.properties.spec_model import PLACEHOLDER, merged_persona, split_template, takes_prompt
from token_vendor.domain.persona import build_request_body, parse_template
from token_vendor.errors import ErrorCode, TokenVendorError

caps = st.none() | gen.session_limits
any_prompt = st.none() | gen.prompts

MISSING = object()


def body_for(stored: dict[str, Any], prompt: str | None, cap: int | None) -> dict[str, Any]:
    return build_request_body(parse_template(stored), prompt, {}, {}, cap)


@gen.PURE
@given(stored=gen.stored_personas, prompt=any_prompt, cap=caps)
def test_anam_gets_the_stored_persona_merged_by_spec_4s_rules_and_the_template_as_stored(stored, prompt, cap):
    config, other_fields = split_template(stored)
    assume(not prompt or takes_prompt(config))

    body = body_for(stored, prompt, cap)

    assert body["personaConfig"] == merged_persona(config, prompt, cap)
    assert {k: v for k, v in body.items() if k != "personaConfig"} == other_fields


@gen.PURE
@given(stored=gen.stored_personas, prompt=any_prompt, cap=caps)
def test_only_the_system_prompt_the_session_limit_and_brain_type_ever_differ(stored, prompt, cap):
    config, _ = split_template(stored)
    assume(not prompt or takes_prompt(config))

    sent = body_for(stored, prompt, cap)["personaConfig"]

    differing = {k for k in config.keys() | sent.keys() if config.get(k, MISSING) != sent.get(k, MISSING)}
    assert differing <= {"systemPrompt", "maxSessionLengthSeconds", "brainType", "llmId"}
    assert "brainType" not in sent
    if "brainType" in config:
        assert sent["llmId"] == config["brainType"]


@gen.PURE
@given(stored=gen.personas_taking_a_prompt, prompt=gen.prompts.filter(bool), cap=caps)
def test_the_prompt_lands_where_the_merge_rule_says(stored, prompt, cap):
    config, _ = split_template(stored)
    before = config.get("systemPrompt")

    after = body_for(stored, prompt, cap)["personaConfig"]["systemPrompt"]

    if before is None:
        assert after == prompt
    elif PLACEHOLDER in before:
        assert after == prompt.join(before.split(PLACEHOLDER)), "every placeholder replaced by the prompt"
    else:
        assert after == f"{before}\n\n{prompt}", "appended after one blank line"


@gen.PURE
@given(stored=gen.stored_personas, cap=caps, prompt=st.sampled_from([None, ""]))
def test_without_a_prompt_only_the_placeholders_are_emptied(stored, cap, prompt):
    config, _ = split_template(stored)

    sent = body_for(stored, prompt, cap)["personaConfig"]

    if "systemPrompt" in config:
        assert sent["systemPrompt"] == config["systemPrompt"].replace(PLACEHOLDER, "")
    else:
        assert "systemPrompt" not in sent


@gen.PURE
@given(stored=gen.personas_refusing_a_prompt, prompt=gen.prompts.filter(bool))
def test_a_saved_or_client_driven_persona_refuses_a_prompt(stored, prompt):
    with pytest.raises(TokenVendorError) as refusal:
        body_for(stored, prompt, None)

    assert refusal.value.code is ErrorCode.PROMPT_NOT_SUPPORTED


@gen.PURE
@given(stored=gen.stored_personas, prompt=any_prompt, cap=caps)
def test_the_stored_persona_is_never_changed_by_a_merge(stored, prompt, cap):
    assume(not prompt or takes_prompt(split_template(stored)[0]))
    as_fetched = copy.deepcopy(stored)
    template = parse_template(stored)
    first = build_request_body(template, prompt, {}, {}, cap)
    expected = copy.deepcopy(first)
    first["personaConfig"].clear()  # what a careless user of the result might do to it
    first.clear()

    again = build_request_body(template, prompt, {}, {}, cap)

    assert again == expected, "the cached template is unchanged"
    assert stored == as_fetched, "and so is the value Powertools cached"


@gen.PURE
@given(config=gen.ephemeral_configs(), other=gen.ids)
def test_brain_type_and_llm_id_that_disagree_are_a_configuration_error(config, other):
    llm_id = config.get("llmId", config.get("brainType"))
    assume(other != llm_id)
    config |= {"llmId": llm_id, "brainType": other}

    with pytest.raises(TokenVendorError) as refusal:
        parse_template(config)

    assert refusal.value.code is ErrorCode.CONFIGURATION_ERROR


@gen.PURE
@given(config=gen.extra_fields, blank=st.sampled_from([None, "", "  "]))
def test_a_persona_with_neither_a_persona_id_nor_an_avatar_id_is_a_configuration_error(config, blank):
    for name in ("personaId", "avatarId"):
        if blank is not None:
            config[name] = blank

    with pytest.raises(TokenVendorError) as refusal:
        parse_template(config)

    assert refusal.value.code is ErrorCode.CONFIGURATION_ERROR
