"""The persona rules of docs/contract.md §4: reading a stored persona, and building Anam's request body from
it with what the caller may put in (a prompt, the declared variables, the claims of a verified JWT).

Pure: no I/O. `parse_template` runs once per fetched parameter value and checks everything about the stored
value, so that a bad persona is a configuration error before any caller meets it; `build_request_body` runs
per request and builds new dicts, so the cached template (and Powertools' cached object under it) is never
mutated.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from token_vendor.errors import ErrorCode, TokenVendorError
from token_vendor.request import has_control_characters

PROMPT_PLACEHOLDER = "{{prompt}}"
CLIENT_DRIVEN_LLM = "CUSTOMER_CLIENT_V1"  # no Anam LLM: the client drives the conversation
DEPRECATED_LLM_FIELD = "brainType"  # Anam's old name for llmId
CALLER_INPUT_FIELD = "callerInput"  # the function's own: never sent to Anam

# A variable's name is what goes between the braces of its placeholder.
_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_RULE_KEYS = frozenset({"maxChars", "pattern", "enum", "claim"})
# An undeclared name a caller sent is echoed in the answer so that they can fix it: at most this much of it.
_ECHOED_NAME_CHARS = 64


@dataclass(frozen=True)
class VariableRule:
    """What a declared variable's value must be, and where it comes from (the request, or a JWT claim)."""

    max_chars: int | None = None
    pattern: re.Pattern[str] | None = None
    enum: tuple[str, ...] | None = None
    claim: str | None = None

    def problem_with(self, value: str) -> str | None:
        """Why `value` breaks this rule, as the end of a sentence naming the variable; None when it fits."""
        if has_control_characters(value):
            return "may not contain control characters other than tab, CR and LF."
        if self.max_chars is not None and len(value) > self.max_chars:
            return f"is longer than {self.max_chars} characters."
        if self.enum is not None and value not in self.enum:
            return "must be one of: " + ", ".join(self.enum) + "."
        if self.pattern is not None and not self.pattern.fullmatch(value):
            return "does not have the form this persona expects."
        return None


@dataclass(frozen=True)
class CallerInput:
    """The stored `callerInput`: whether a prompt is taken (and up to how long), and the declared variables.

    `variables` is None when the persona declares none: then a request with any variable is refused.
    """

    accepts_prompt: bool = True
    prompt_max_chars: int | None = None
    variables: Mapping[str, VariableRule] | None = None


@dataclass(frozen=True)
class PersonaTemplate:
    """The stored persona, validated: the persona config, the other keys of Anam's request body, and what a
    caller may put in."""

    persona_config: Mapping[str, Any]
    other_fields: Mapping[str, Any]
    migrated_brain_type: bool = False
    caller_input: CallerInput = field(default_factory=CallerInput)

    @property
    def is_saved(self) -> bool:
        return "personaId" in self.persona_config

    @property
    def accepts_prompt(self) -> bool:
        return not self.is_saved and self.persona_config.get("llmId") != CLIENT_DRIVEN_LLM


def parse_template(value: object) -> PersonaTemplate:
    """Validate a persona parameter's JSON value (either form of §4) into a template."""
    if not isinstance(value, Mapping):
        raise _invalid(f"is a JSON {type(value).__name__}, not an object")
    if "personaConfig" in value:
        config = value["personaConfig"]
        other_fields = {k: v for k, v in value.items() if k not in ("personaConfig", CALLER_INPUT_FIELD)}
        if not isinstance(config, Mapping):
            raise _invalid("has a personaConfig that is not an object")
    else:
        config, other_fields = value, {}
    if CALLER_INPUT_FIELD in config:
        raise _invalid(
            "has callerInput inside the persona config; put it at the top level, next to personaConfig"
        )

    config, migrated = _migrate_brain_type(config)
    if not _non_empty_string(config.get("personaId")) and not _non_empty_string(config.get("avatarId")):
        raise _invalid("has neither a personaId (saved persona) nor an avatarId (ephemeral persona)")
    if not isinstance(config.get("systemPrompt", ""), str):
        raise _invalid("has a systemPrompt that is not a string")
    limit = config.get("maxSessionLengthSeconds")
    if limit is not None and not _positive_int(limit):
        raise _invalid("has a maxSessionLengthSeconds that is not a whole number above 0")
    caller_input = _caller_input(value.get(CALLER_INPUT_FIELD) if "personaConfig" in value else None)
    if caller_input.variables and "systemPrompt" not in config:
        raise _invalid("declares variables in callerInput but has no systemPrompt to put them in")
    return PersonaTemplate(
        MappingProxyType(dict(config)), MappingProxyType(other_fields), migrated, caller_input
    )


def build_request_body(
    template: PersonaTemplate,
    prompt: str | None,
    variables: Mapping[str, str],
    claims: Mapping[str, str],
    max_session_length_seconds: int | None,
) -> dict[str, Any]:
    """Anam's request body for one session: the template with the variables and the prompt merged into its
    system prompt (in one pass: no value is ever read again for placeholders), and the cost cap applied."""
    _check_prompt(template, prompt)
    values = _variable_values(template.caller_input.variables, variables, claims)
    config = dict(template.persona_config)
    merged = merge_prompt(config.get("systemPrompt"), prompt or "", values)
    if merged is not None:
        config["systemPrompt"] = merged
    if max_session_length_seconds is not None and not template.is_saved:
        current = config.get("maxSessionLengthSeconds")
        if current is None or current > max_session_length_seconds:
            config["maxSessionLengthSeconds"] = max_session_length_seconds
    return {**template.other_fields, "personaConfig": config}


def caller_values(
    template: PersonaTemplate, prompt: str | None, variables: Mapping[str, str], claims: Mapping[str, str]
) -> tuple[str, ...]:
    """What the caller put into the persona (the prompt, variable values, the claims the persona reads): kept
    out of every log line, since Anam may echo any of it back in an error message."""
    rules = template.caller_input.variables or {}
    claimed = (claims.get(rule.claim, "") for rule in rules.values() if rule.claim)
    return tuple(value for value in (prompt, *variables.values(), *claimed) if value)


def session_seconds(body: Mapping[str, Any], max_session_length_seconds: int | None) -> int | None:
    """The longest session the token in `body` can start, for the spend guard (§9): the ephemeral persona's
    limit after the clamp, or MAX_SESSION_LENGTH_SECONDS for a saved one (whose limit is set in Anam Lab)."""
    config = body["personaConfig"]
    if "personaId" in config:
        return max_session_length_seconds
    limit = config.get("maxSessionLengthSeconds")
    return limit if isinstance(limit, int) else max_session_length_seconds


def merge_prompt(
    system_prompt: str | None, prompt: str, variables: Mapping[str, str] | None = None
) -> str | None:
    """The system prompt with each declared `{{variable}}` and the prompt merged in: the prompt at each
    `{{prompt}}`, else after a blank line. One pass over the stored text, so a value or a prompt that holds
    a placeholder is inserted as it is, never expanded."""
    if system_prompt is None:
        return prompt or None
    values = {**(variables or {}), "prompt": prompt}
    has_placeholder = PROMPT_PLACEHOLDER in system_prompt
    placeholders = re.compile("|".join(re.escape("{{" + name + "}}") for name in values))
    merged = placeholders.sub(lambda match: values[match.group()[2:-2]], system_prompt)
    return merged if has_placeholder or not prompt else f"{merged}\n\n{prompt}"


def _check_prompt(template: PersonaTemplate, prompt: str | None) -> None:
    if not prompt:
        return
    rules = template.caller_input
    if not template.accepts_prompt:
        reason = "saved persona" if template.is_saved else f"llmId {CLIENT_DRIVEN_LLM}"
        raise TokenVendorError(ErrorCode.PROMPT_NOT_SUPPORTED, reason)
    if not rules.accepts_prompt:
        raise TokenVendorError(ErrorCode.PROMPT_NOT_SUPPORTED, "callerInput.prompt is false")
    if rules.prompt_max_chars is not None and len(prompt) > rules.prompt_max_chars:
        raise TokenVendorError(ErrorCode.PROMPT_TOO_LONG, limit=rules.prompt_max_chars)


def _variable_values(
    declared: Mapping[str, VariableRule] | None, sent: Mapping[str, str], claims: Mapping[str, str]
) -> dict[str, str]:
    """Each declared variable's value, checked against its rule; a declared one without a value (none sent,
    or the caller's JWT lacks the claim) is the empty string."""
    rules = declared or {}
    undeclared = next((name for name in sent if name not in rules), None)
    if undeclared is not None:
        reason = (
            "is not one this persona takes." if rules else "was sent, but this persona takes no variables."
        )
        raise _invalid_variable(undeclared[:_ECHOED_NAME_CHARS], reason, "undeclared variable")
    values: dict[str, str] = {}
    for name, rule in rules.items():
        if rule.claim is not None:
            if name in sent:
                raise _invalid_variable(
                    name, "comes from your sign-in and cannot be sent in the request.", "request set a claim"
                )
            value = claims.get(rule.claim)
        else:
            value = sent.get(name)
        if value is None:
            values[name] = ""
            continue
        problem = rule.problem_with(value)
        if problem is not None:
            source = f"claim {rule.claim!r}" if rule.claim is not None else "request value"
            raise _invalid_variable(name, problem, f"{source} breaks the rule")
        values[name] = value
    return values


def _invalid_variable(name: str, reason: str, detail: str) -> TokenVendorError:
    return TokenVendorError(ErrorCode.INVALID_VARIABLE, detail, variable=name, reason=reason)


def _caller_input(value: object) -> CallerInput:
    if value is None:
        return CallerInput()
    if not isinstance(value, Mapping):
        raise _invalid("has a callerInput that is not an object")
    unknown = set(value) - {"prompt", "variables"}
    if unknown:
        raise _invalid(f"has callerInput keys it does not know: {', '.join(sorted(unknown))}")
    accepts_prompt, prompt_max_chars = _prompt_rule(value.get("prompt", True))
    variables = value.get("variables")
    if variables is None:
        return CallerInput(accepts_prompt, prompt_max_chars)
    if not isinstance(variables, Mapping):
        raise _invalid("has callerInput.variables that is not an object")
    rules = {name: _variable_rule(name, rule) for name, rule in variables.items()}
    return CallerInput(accepts_prompt, prompt_max_chars, MappingProxyType(rules))


def _prompt_rule(value: object) -> tuple[bool, int | None]:
    if isinstance(value, bool):
        return value, None
    if isinstance(value, Mapping) and set(value) == {"maxChars"} and _positive_int(value["maxChars"]):
        return True, value["maxChars"]
    raise _invalid('has a callerInput.prompt that is not true, false or {"maxChars": N}')


def _variable_rule(name: object, rule: object) -> VariableRule:
    where = f"callerInput.variables.{name}"
    if not isinstance(name, str) or not _VARIABLE_NAME.fullmatch(name) or name == "prompt":
        raise _invalid(f"declares a variable {str(name)[:64]!r}: names are letters, digits and _, not prompt")
    if not isinstance(rule, Mapping):
        raise _invalid(f"has {where} that is not an object")
    unknown = set(rule) - _RULE_KEYS
    if unknown:
        raise _invalid(f"has {where} keys it does not know: {', '.join(sorted(unknown))}")
    max_chars, pattern, enum, claim = (rule.get(key) for key in ("maxChars", "pattern", "enum", "claim"))
    if max_chars is not None and not _positive_int(max_chars):
        raise _invalid(f"has {where}.maxChars that is not a whole number above 0")
    if enum is not None and (
        not isinstance(enum, list) or not enum or not all(isinstance(item, str) for item in enum)
    ):
        raise _invalid(f"has {where}.enum that is not a list of strings")
    if claim is not None and not _non_empty_string(claim):
        raise _invalid(f"has {where}.claim that is not a claim's name")
    return VariableRule(
        max_chars=max_chars,
        pattern=_compiled(pattern, where) if pattern is not None else None,
        enum=tuple(enum) if enum is not None else None,
        claim=claim,
    )


def _compiled(pattern: object, where: str) -> re.Pattern[str]:
    if not isinstance(pattern, str):
        raise _invalid(f"has {where}.pattern that is not a string")
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise _invalid(f"has {where}.pattern that is not a Python regular expression: {exc}") from exc


def _migrate_brain_type(config: Mapping[str, Any]) -> tuple[Mapping[str, Any], bool]:
    if DEPRECATED_LLM_FIELD not in config:
        return config, False
    brain_type = config[DEPRECATED_LLM_FIELD]
    if "llmId" in config and config["llmId"] != brain_type:
        raise _invalid("has both brainType and llmId, with different values; keep only llmId")
    migrated = {k: v for k, v in config.items() if k != DEPRECATED_LLM_FIELD}
    migrated["llmId"] = brain_type
    return migrated, True


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _non_empty_string(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _invalid(problem: str) -> TokenVendorError:
    return TokenVendorError(ErrorCode.CONFIGURATION_ERROR, f"persona parameter {problem}")
