"""docs/contract.md §4's caller input as properties of `build_request_body`: for any declared variables (any
rules, from the request or from a claim), any variables a request sends, any claims and any prompt, the
session Anam is asked for holds only what the operator declared, in the form declared, and nothing a caller
sent is ever read again for placeholders.
"""

import re
import unicodedata
from dataclasses import dataclass, replace
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests.properties import strategies as gen
from token_vendor.domain.persona import build_request_body, parse_template
from token_vendor.errors import ErrorCode, TokenVendorError

NAMES = ("firstName", "page", "plan", "email", "x")
PATTERNS = (r"^[\w .'-]*$", r"[a-z]+", r"\d{1,4}", r".*")
CLAIMS = ("email", "name", "sub")

PLACEHOLDERS = tuple(f"{{{{{name}}}}}" for name in (*NAMES, "prompt", "other"))

# What callers send: text a person types, text with placeholders in it, and text no rule should let through.
placeholders = st.sampled_from(PLACEHOLDERS)
values = st.one_of(
    gen.plain_prompts.map(lambda text: text[:30]),
    st.lists(st.one_of(st.text(max_size=5), placeholders), max_size=4).map("".join),
    st.sampled_from(["pricing", "docs", "home", "Ana", "1234", "ana@example.com"]),
    gen.any_text,
)
rules = st.fixed_dictionaries(
    {},
    optional={
        "maxChars": st.integers(1, 20),
        "pattern": st.sampled_from(PATTERNS),
        "enum": st.lists(st.sampled_from(["pricing", "docs", "home", "Ana", ""]), min_size=1, max_size=3),
        "claim": st.sampled_from(CLAIMS),
    },
)
declared_variables = st.dictionaries(st.sampled_from(NAMES), rules, max_size=4)
sent_variables = st.dictionaries(st.sampled_from((*NAMES, "colour", "prompt")), values, max_size=4)
claim_sets = st.dictionaries(st.sampled_from(CLAIMS), values, max_size=3)
# The stored system prompt: literal text (no braces) and placeholders, in any order.
stored_system_prompts = st.lists(
    st.one_of(st.text(alphabet=st.characters(exclude_characters="{}"), max_size=6), placeholders), max_size=6
)
prompts = st.none() | st.lists(st.one_of(st.text(max_size=5), placeholders), max_size=3).map("".join)


@dataclass(frozen=True)
class Case:
    declared: dict[str, dict[str, Any]]
    segments: list[str]
    sent: dict[str, str]
    claims: dict[str, str]
    prompt: str | None

    @property
    def stored(self) -> dict[str, Any]:
        config = {"avatarId": "a", "voiceId": "v", "llmId": "l", "systemPrompt": "".join(self.segments)}
        return {"personaConfig": config, "callerInput": {"variables": self.declared}}

    def body(self) -> dict[str, Any]:
        return build_request_body(parse_template(self.stored), self.prompt, self.sent, self.claims, None)

    def value_of(self, name: str) -> str | None:
        """Where §4 says a declared variable's value comes from; None: it has none (the empty string)."""
        rule = self.declared[name]
        return self.claims.get(rule["claim"]) if "claim" in rule else self.sent.get(name)


cases = st.builds(Case, declared_variables, stored_system_prompts, sent_variables, claim_sets, prompts)
# Text that passes every rule below: whatever a value holds, placeholders included, must arrive as it is.
free_text = st.lists(st.one_of(gen.plain_prompts.map(lambda text: text[:5]), placeholders), max_size=4).map(
    "".join
)


@st.composite
def accepted_cases(draw: st.DrawFn) -> Case:
    """Cases every rule lets through: rules that take any text, values only for what is declared."""
    declared = draw(
        st.dictionaries(
            st.sampled_from(NAMES),
            st.just({}) | st.builds(lambda c: {"claim": c}, st.sampled_from(CLAIMS)),
            max_size=4,
        )
    )
    from_request = [name for name, rule in declared.items() if "claim" not in rule]
    sent = draw(st.dictionaries(st.sampled_from(from_request), free_text)) if from_request else {}
    claims = draw(st.dictionaries(st.sampled_from(CLAIMS), free_text, max_size=3))
    return Case(declared, draw(stored_system_prompts), sent, claims, draw(st.none() | free_text))


def fits(value: str, rule: dict[str, Any]) -> bool:
    """§4's rule for one value, from the contract's words: the prompt's character rule, then the declared."""
    if any(c not in "\t\r\n" and unicodedata.category(c) in ("Cc", "Cs") for c in value):
        return False
    if "maxChars" in rule and len(value) > rule["maxChars"]:
        return False
    if "enum" in rule and value not in rule["enum"]:
        return False
    return "pattern" not in rule or re.fullmatch(rule["pattern"], value) is not None


def outcome(case: Case) -> dict[str, Any] | TokenVendorError:
    try:
        return case.body()
    except TokenVendorError as error:
        return error


@gen.PURE
@given(case=cases)
def test_no_undeclared_variable_is_ever_accepted(case):
    result = outcome(case)

    if case.sent.keys() - case.declared.keys():
        assert isinstance(result, TokenVendorError)
        assert result.code is ErrorCode.INVALID_VARIABLE


@gen.PURE
@given(case=cases)
def test_a_claim_variable_is_never_set_by_a_request(case):
    result = outcome(case)

    if any("claim" in case.declared.get(name, {}) for name in case.sent):
        assert isinstance(result, TokenVendorError)
        assert result.code is ErrorCode.INVALID_VARIABLE


@gen.PURE
@given(case=cases)
def test_every_value_anam_gets_fits_its_rule_and_a_breaking_one_is_refused_by_name(case):
    # Only variables a request may send: the two properties above cover the others.
    sendable = {n: v for n, v in case.sent.items() if "claim" not in case.declared.get(n, {"claim": ""})}
    case = replace(case, sent=sendable)
    breaking = [
        name
        for name in case.declared
        if (value := case.value_of(name)) is not None and not fits(value, case.declared[name])
    ]

    result = outcome(case)

    if breaking:
        assert isinstance(result, TokenVendorError)
        assert result.code is ErrorCode.INVALID_VARIABLE
        assert any(f'"{name}"' in result.message for name in breaking)
    else:
        assert not isinstance(result, TokenVendorError), result


@gen.PURE
@given(case=accepted_cases())
def test_values_and_the_prompt_are_inserted_as_they_are_never_expanded(case):
    result = case.body()
    prompt = case.prompt or ""
    expected = {name: case.value_of(name) or "" for name in case.declared} | {"prompt": prompt}

    # Each placeholder of the stored text replaced by its value, in one pass over the stored text only.
    merged = "".join(
        expected.get(segment[2:-2], segment) if segment in PLACEHOLDERS else segment
        for segment in case.segments
    )
    if "{{prompt}}" not in case.segments and prompt:
        merged = f"{merged}\n\n{prompt}"

    assert result["personaConfig"]["systemPrompt"] == merged
