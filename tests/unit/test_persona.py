"""docs/contract.md §4: the stored persona's two forms, its rules, and how a caller's prompt is merged in."""

import copy

import pytest

from token_vendor.domain.persona import build_request_body, merge_prompt, parse_template
from token_vendor.errors import ErrorCode, TokenVendorError

EPHEMERAL = {
    "avatarId": "avatar-1",
    "voiceId": "voice-1",
    "llmId": "0934d97d-0c3a-4f33-91b0-5e136a0ef466",
    "systemPrompt": "You are a guide.",
}


def body_for(stored, prompt=None, cap=None):
    return build_request_body(parse_template(stored), prompt, {}, {}, cap)


def config_error(stored) -> TokenVendorError:
    with pytest.raises(TokenVendorError) as caught:
        parse_template(stored)
    assert caught.value.code is ErrorCode.CONFIGURATION_ERROR
    return caught.value


def test_a_bare_persona_config_becomes_anams_persona_config():
    assert body_for(EPHEMERAL) == {"personaConfig": EPHEMERAL}


def test_a_request_body_template_keeps_its_other_keys_as_they_are():
    stored = {
        "personaConfig": {"personaId": "p-1"},
        "sessionOptions": {"sessionReplay": {"enableSessionReplay": False}},
        "clientLabel": "website",
    }
    assert body_for(stored) == stored


def test_the_prompt_replaces_every_placeholder():
    stored = {**EPHEMERAL, "systemPrompt": "Start. {{prompt}} Middle. {{prompt}}"}
    merged = body_for(stored, "CTX")["personaConfig"]["systemPrompt"]
    assert merged == "Start. CTX Middle. CTX"


def test_without_a_placeholder_the_prompt_is_appended_after_a_blank_line():
    assert body_for(EPHEMERAL, "CTX")["personaConfig"]["systemPrompt"] == "You are a guide.\n\nCTX"


def test_without_a_stored_system_prompt_the_prompt_becomes_it():
    stored = {k: v for k, v in EPHEMERAL.items() if k != "systemPrompt"}
    assert body_for(stored, "CTX")["personaConfig"]["systemPrompt"] == "CTX"


@pytest.mark.parametrize("prompt", [None, ""])
def test_no_prompt_leaves_the_config_unchanged_but_empties_placeholders(prompt):
    assert body_for(EPHEMERAL, prompt)["personaConfig"] == EPHEMERAL
    stored = {**EPHEMERAL, "systemPrompt": "Hello.{{prompt}}"}
    assert body_for(stored, prompt)["personaConfig"]["systemPrompt"] == "Hello."


def test_no_prompt_and_no_stored_system_prompt_adds_none():
    stored = {"avatarId": "a", "voiceId": "v", "llmId": "l"}
    assert "systemPrompt" not in body_for(stored)["personaConfig"]


def test_brain_type_is_sent_as_llm_id():
    stored = {"avatarId": "a", "voiceId": "v", "brainType": "ANAM_LLAMA_v3_3_70B_V1"}
    template = parse_template(stored)
    config = build_request_body(template, None, {}, {}, None)["personaConfig"]
    assert config == {"avatarId": "a", "voiceId": "v", "llmId": "ANAM_LLAMA_v3_3_70B_V1"}
    assert template.migrated_brain_type


def test_brain_type_equal_to_llm_id_is_dropped():
    stored = {**EPHEMERAL, "brainType": EPHEMERAL["llmId"]}
    assert body_for(stored)["personaConfig"] == EPHEMERAL


def test_brain_type_different_from_llm_id_is_a_configuration_error():
    assert "brainType" in config_error({**EPHEMERAL, "brainType": "other"}).detail


@pytest.mark.parametrize(
    "stored",
    [
        {"voiceId": "v", "llmId": "l"},
        {"personaConfig": {"voiceId": "v"}},
        {"personaId": ""},
        {"personaConfig": "p-1"},
        ["avatarId"],
        "a string",
        None,
    ],
)
def test_a_persona_without_persona_id_or_avatar_id_is_a_configuration_error(stored):
    config_error(stored)


@pytest.mark.parametrize(
    "stored",
    [{**EPHEMERAL, "systemPrompt": 3}, {**EPHEMERAL, "maxSessionLengthSeconds": "600"}],
)
def test_fields_of_the_wrong_type_are_configuration_errors(stored):
    config_error(stored)


@pytest.mark.parametrize("stored", [{"personaId": "p-1"}, {**EPHEMERAL, "llmId": "CUSTOMER_CLIENT_V1"}])
def test_a_saved_or_client_driven_persona_refuses_a_prompt(stored):
    with pytest.raises(TokenVendorError) as caught:
        body_for(stored, "CTX")
    assert (caught.value.status, caught.value.code) == (400, ErrorCode.PROMPT_NOT_SUPPORTED)


def test_a_saved_persona_without_a_prompt_is_fine():
    assert body_for({"personaId": "p-1"}, "") == {"personaConfig": {"personaId": "p-1"}}


def test_the_session_length_cap_is_set_when_absent_and_clamps_a_larger_value():
    assert body_for(EPHEMERAL, cap=600)["personaConfig"]["maxSessionLengthSeconds"] == 600
    longer = {**EPHEMERAL, "maxSessionLengthSeconds": 3600}
    assert body_for(longer, cap=600)["personaConfig"]["maxSessionLengthSeconds"] == 600


def test_the_session_length_cap_keeps_a_shorter_value():
    shorter = {**EPHEMERAL, "maxSessionLengthSeconds": 300}
    assert body_for(shorter, cap=600)["personaConfig"]["maxSessionLengthSeconds"] == 300


def test_the_session_length_cap_does_not_touch_a_saved_persona():
    assert body_for({"personaId": "p-1"}, cap=600) == {"personaConfig": {"personaId": "p-1"}}


def test_merging_never_changes_the_stored_value():
    stored = {
        "personaConfig": {**EPHEMERAL, "systemPrompt": "A {{prompt}}", "tools": [{"name": "t"}]},
        "sessionOptions": {"videoQuality": "high"},
    }
    before = copy.deepcopy(stored)
    template = parse_template(stored)
    build_request_body(template, "CTX", {}, {}, 60)
    build_request_body(template, None, {}, {}, 60)
    assert stored == before
    assert build_request_body(template, None, {}, {}, None)["personaConfig"]["systemPrompt"] == "A "


@pytest.mark.parametrize(
    ("stored", "prompt", "merged"),
    [(None, "p", "p"), (None, "", None), ("s", "", "s"), ("s{{prompt}}", "", "s"), ("s", "p", "s\n\np")],
)
def test_merge_prompt_table(stored, prompt, merged):
    assert merge_prompt(stored, prompt) == merged
