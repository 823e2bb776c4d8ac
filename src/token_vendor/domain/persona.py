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

from token_vendor.domain.caller_input import (
    CallerInput,
    invalid_persona,
    is_non_empty_string,
    is_positive_int,
    parse_caller_input,
    variable_values,
)
from token_vendor.errors import ErrorCode, TokenVendorError

PROMPT_PLACEHOLDER = "{{prompt}}"
CLIENT_DRIVEN_LLM = "CUSTOMER_CLIENT_V1"  # no Anam LLM: the client drives the conversation
DEPRECATED_LLM_FIELD = "brainType"  # Anam's old name for llmId
CALLER_INPUT_FIELD = "callerInput"  # the function's own: never sent to Anam


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
        raise invalid_persona(f"is a JSON {type(value).__name__}, not an object")
    if "personaConfig" in value:
        config = value["personaConfig"]
        other_fields = {k: v for k, v in value.items() if k not in ("personaConfig", CALLER_INPUT_FIELD)}
        if not isinstance(config, Mapping):
            raise invalid_persona("has a personaConfig that is not an object")
    else:
        config, other_fields = value, {}
    if CALLER_INPUT_FIELD in config:
        raise invalid_persona(
            "has callerInput inside the persona config; put it at the top level, next to personaConfig"
        )

    config, migrated = _migrate_brain_type(config)
    if not is_non_empty_string(config.get("personaId")) and not is_non_empty_string(config.get("avatarId")):
        raise invalid_persona("has neither a personaId (saved persona) nor an avatarId (ephemeral persona)")
    if not isinstance(config.get("systemPrompt", ""), str):
        raise invalid_persona("has a systemPrompt that is not a string")
    limit = config.get("maxSessionLengthSeconds")
    if limit is not None and not is_positive_int(limit):
        raise invalid_persona("has a maxSessionLengthSeconds that is not a whole number above 0")
    caller_input = parse_caller_input(value.get(CALLER_INPUT_FIELD) if "personaConfig" in value else None)
    if caller_input.variables and "systemPrompt" not in config:
        raise invalid_persona("declares variables in callerInput but has no systemPrompt to put them in")
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
    values = variable_values(template.caller_input.variables, variables, claims)
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


def can_shorten(body: Mapping[str, Any]) -> bool:
    """Whether the function can set the session's length: an ephemeral persona's, never a saved one's (whose
    limit is set in Anam Lab, and which Anam reads nothing next to)."""
    return "personaId" not in body["personaConfig"]


def with_session_length(body: Mapping[str, Any], seconds: int) -> dict[str, Any]:
    """A copy of `body` whose ephemeral persona runs at most `seconds` (a budget's remainder, §12)."""
    return {**body, "personaConfig": {**body["personaConfig"], "maxSessionLengthSeconds": seconds}}


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


def _migrate_brain_type(config: Mapping[str, Any]) -> tuple[Mapping[str, Any], bool]:
    if DEPRECATED_LLM_FIELD not in config:
        return config, False
    brain_type = config[DEPRECATED_LLM_FIELD]
    if "llmId" in config and config["llmId"] != brain_type:
        raise invalid_persona("has both brainType and llmId, with different values; keep only llmId")
    migrated = {k: v for k, v in config.items() if k != DEPRECATED_LLM_FIELD}
    migrated["llmId"] = brain_type
    return migrated, True
