"""docs/contract.md §4, "What a caller may put into a persona": the stored `callerInput`, checked when the
persona is read, and the variables and prompt a request may bring, merged into the system prompt."""

from typing import Any

import pytest

from token_vendor.domain.persona import build_request_body, parse_template, session_seconds
from token_vendor.errors import ErrorCode, TokenVendorError

CONFIG = {
    "avatarId": "avatar-1",
    "voiceId": "voice-1",
    "llmId": "0934d97d-0c3a-4f33-91b0-5e136a0ef466",
    "systemPrompt": "You are Cara. The visitor is {{firstName}}, on the {{page}} page. {{prompt}}",
}
CALLER_INPUT = {
    "prompt": {"maxChars": 30},
    "variables": {
        "firstName": {"maxChars": 12, "pattern": r"^[\w .'-]*$"},
        "page": {"enum": ["pricing", "docs", "home"]},
        "email": {"claim": "email"},
    },
}
STORED = {"personaConfig": CONFIG, "callerInput": CALLER_INPUT, "clientLabel": "website"}


def body_for(
    stored: dict[str, Any] = STORED,
    prompt: str | None = None,
    variables: dict[str, str] | None = None,
    claims: dict[str, str] | None = None,
    cap: int | None = None,
) -> dict[str, Any]:
    return build_request_body(parse_template(stored), prompt, variables or {}, claims or {}, cap)


def system_prompt(**kwargs: Any) -> str:
    prompt: str = body_for(**kwargs)["personaConfig"]["systemPrompt"]
    return prompt


def refusal(code: ErrorCode, **kwargs: Any) -> TokenVendorError:
    with pytest.raises(TokenVendorError) as caught:
        body_for(**kwargs)
    assert caught.value.code is code
    return caught.value


def invalid_variable(**kwargs: Any) -> str:
    """The message a caller reads for a refused variable."""
    error = refusal(ErrorCode.INVALID_VARIABLE, **kwargs)
    assert error.status == 400
    return error.message


def configuration_error(stored: object) -> str:
    with pytest.raises(TokenVendorError) as caught:
        parse_template(stored)
    assert caught.value.code is ErrorCode.CONFIGURATION_ERROR
    return caught.value.detail


def test_declared_variables_are_put_in_their_placeholders():
    merged = system_prompt(variables={"firstName": "Ana", "page": "docs"}, prompt="Be brief.")
    assert merged == "You are Cara. The visitor is Ana, on the docs page. Be brief."


def test_caller_input_is_never_sent_to_anam():
    body = body_for(variables={"firstName": "Ana"})
    assert "callerInput" not in body
    assert "callerInput" not in body["personaConfig"]
    assert body["clientLabel"] == "website"


def test_a_declared_variable_without_a_value_becomes_the_empty_string():
    assert system_prompt() == "You are Cara. The visitor is , on the  page. "


def test_a_claim_variable_takes_its_value_from_the_verified_claims():
    stored = {**STORED, "personaConfig": {**CONFIG, "systemPrompt": "Mail: {{email}}"}}
    assert (
        system_prompt(stored=stored, claims={"email": "ana@example.com", "sub": "u-1"})
        == "Mail: ana@example.com"
    )


def test_a_request_value_for_a_claim_variable_is_refused():
    message = invalid_variable(variables={"email": "boss@example.com"}, claims={"email": "ana@example.com"})
    assert '"email"' in message
    assert "sign-in" in message


def test_a_claim_value_must_fit_the_variables_rule_too():
    stored = {
        "personaConfig": {**CONFIG, "systemPrompt": "Hi {{name}}"},
        "callerInput": {"variables": {"name": {"claim": "name", "maxChars": 5}}},
    }
    assert '"name"' in invalid_variable(stored=stored, claims={"name": "Bartholomew"})


def test_an_undeclared_variable_is_refused_and_named():
    assert '"colour"' in invalid_variable(variables={"colour": "red"})


def test_variables_for_a_persona_without_caller_input_are_refused():
    stored = {"personaConfig": CONFIG}
    assert '"page"' in invalid_variable(stored=stored, variables={"page": "docs"})


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"firstName": "Bartholomew-Jones"}, "firstName"),  # longer than maxChars
        ({"firstName": "Ana<script>"}, "firstName"),  # pattern not fully matched
        ({"firstName": "Ana\n"}, "firstName"),  # $ would match before a final newline; fullmatch does not
        ({"page": "admin"}, "page"),  # not in the enum
        ({"page": "Docs"}, "page"),
    ],
)
def test_a_value_that_breaks_its_rule_is_refused_and_named(variables, named):
    assert f'"{named}"' in invalid_variable(variables=variables)


@pytest.mark.parametrize("value", ["Ana\x00", "Ana\x1b[31m", "Ana\x85", "Ana\ud800"])
def test_a_value_with_control_characters_is_refused(value):
    stored = {**STORED, "callerInput": {"variables": {"firstName": {}}}}
    assert '"firstName"' in invalid_variable(stored=stored, variables={"firstName": value})


def test_tab_cr_and_lf_are_allowed_in_a_value_as_in_a_prompt():
    stored = {**STORED, "callerInput": {"variables": {"firstName": {}, "page": {}}}}
    merged = system_prompt(stored=stored, variables={"firstName": "A\tB\r\nC"})
    assert "A\tB\r\nC" in merged


def test_a_value_holding_a_placeholder_is_inserted_as_it_is():
    stored = {**STORED, "callerInput": {"variables": {"firstName": {}, "page": {}}}}
    merged = system_prompt(stored=stored, variables={"firstName": "{{prompt}} {{page}}"}, prompt="P")
    assert merged == "You are Cara. The visitor is {{prompt}} {{page}}, on the  page. P"


def test_a_prompt_holding_a_placeholder_is_inserted_as_it_is():
    merged = system_prompt(variables={"page": "docs"}, prompt="{{page}}")
    assert merged.endswith("on the docs page. {{page}}")


def test_a_prompt_is_appended_after_the_variables_when_there_is_no_prompt_placeholder():
    stored = {**STORED, "personaConfig": {**CONFIG, "systemPrompt": "On {{page}}."}}
    assert system_prompt(stored=stored, variables={"page": "home"}, prompt="P") == "On home.\n\nP"


def test_the_persona_can_lower_the_prompt_limit():
    error = refusal(ErrorCode.PROMPT_TOO_LONG, prompt="x" * 31)
    assert "30" in error.message
    assert system_prompt(prompt="x" * 30).endswith("x" * 30)


def test_the_persona_can_refuse_any_prompt():
    stored = {**STORED, "callerInput": {"prompt": False}}
    refusal(ErrorCode.PROMPT_NOT_SUPPORTED, stored=stored, prompt="Be brief.")
    assert system_prompt(stored=stored, prompt="").endswith("page. ")


@pytest.mark.parametrize("prompt_rule", [True, None])
def test_prompt_true_or_absent_is_as_without_caller_input(prompt_rule):
    caller_input: dict[str, Any] = {"variables": {}} if prompt_rule is None else {"prompt": True}
    stored = {**STORED, "callerInput": caller_input}
    assert system_prompt(stored=stored, prompt="y" * 500).endswith("y" * 500)


@pytest.mark.parametrize(
    ("caller_input", "problem"),
    [
        ("yes", "callerInput"),
        ({"prompts": True}, "prompts"),
        ({"prompt": {"maxChars": 0}}, "callerInput.prompt"),
        ({"prompt": {"maxChars": "30"}}, "callerInput.prompt"),
        ({"prompt": "no"}, "callerInput.prompt"),
        ({"variables": []}, "callerInput.variables"),
        ({"variables": {"page": "docs"}}, "callerInput.variables.page"),
        ({"variables": {"page": {"enum": []}}}, "enum"),
        ({"variables": {"page": {"enum": ["a", 1]}}}, "enum"),
        ({"variables": {"page": {"pattern": "("}}}, "pattern"),
        ({"variables": {"page": {"maxChars": True}}}, "maxChars"),
        ({"variables": {"page": {"claim": ""}}}, "claim"),
        ({"variables": {"page": {"max_chars": 3}}}, "max_chars"),
        ({"variables": {"prompt": {}}}, "prompt"),
        ({"variables": {"first name": {}}}, "first name"),
    ],
)
def test_a_bad_caller_input_is_a_configuration_error_when_the_persona_is_read(caller_input, problem):
    assert problem in configuration_error({"personaConfig": CONFIG, "callerInput": caller_input})


def test_caller_input_inside_a_bare_persona_config_is_a_configuration_error():
    assert "top level" in configuration_error({**CONFIG, "callerInput": CALLER_INPUT})


def test_variables_need_a_system_prompt_to_go_into():
    stored = {"personaConfig": {"personaId": "p-1"}, "callerInput": {"variables": {"page": {}}}}
    assert "systemPrompt" in configuration_error(stored)


def test_the_template_is_not_changed_by_variables():
    template = parse_template(STORED)
    build_request_body(template, "P", {"page": "docs"}, {"email": "a@example.com"}, 60)
    assert build_request_body(template, None, {}, {}, None)["personaConfig"] == {
        **CONFIG,
        "systemPrompt": "You are Cara. The visitor is , on the  page. ",
    }


@pytest.mark.parametrize(
    ("config", "cap", "seconds"),
    [
        ({"avatarId": "a"}, 600, 600),  # the cap, set as the persona's limit
        ({"avatarId": "a", "maxSessionLengthSeconds": 300}, 600, 300),  # a shorter stored limit
        ({"avatarId": "a", "maxSessionLengthSeconds": 3600}, 600, 600),  # clamped
        ({"personaId": "p-1"}, 600, 600),  # saved: its limit is set in Anam Lab, to match the cap
        ({"avatarId": "a", "maxSessionLengthSeconds": 300}, None, 300),
        ({"avatarId": "a"}, None, None),  # no cap anywhere: the guard cannot count minutes
    ],
)
def test_the_session_cap_the_spend_guard_reserves(config, cap, seconds):
    body = build_request_body(parse_template(config), None, {}, {}, cap)
    assert session_seconds(body, cap) == seconds
