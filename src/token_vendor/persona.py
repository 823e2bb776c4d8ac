"""The persona rules of SPEC section 4: reading the stored persona and merging a caller's prompt into it.

Pure: no I/O. `parse_template` runs once per fetched parameter value; `build_request_body` runs per request
and builds new dicts, so the cached template (and Powertools' cached object under it) is never mutated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from token_vendor.errors import ErrorCode, TokenVendorError

PROMPT_PLACEHOLDER = "{{prompt}}"
CLIENT_DRIVEN_LLM = "CUSTOMER_CLIENT_V1"  # no Anam LLM: the client drives the conversation
DEPRECATED_LLM_FIELD = "brainType"  # Anam's old name for llmId


@dataclass(frozen=True)
class PersonaTemplate:
    """The stored persona, validated: the persona config and the other keys of Anam's request body."""

    persona_config: Mapping[str, Any]
    other_fields: Mapping[str, Any]
    migrated_brain_type: bool = False

    @property
    def is_saved(self) -> bool:
        return "personaId" in self.persona_config

    @property
    def accepts_prompt(self) -> bool:
        return not self.is_saved and self.persona_config.get("llmId") != CLIENT_DRIVEN_LLM


def parse_template(value: object) -> PersonaTemplate:
    """Validate a persona parameter's JSON value (either form of SPEC 4) into a template."""
    if not isinstance(value, Mapping):
        raise _invalid(f"is a JSON {type(value).__name__}, not an object")
    if "personaConfig" in value:
        config = value["personaConfig"]
        other_fields = {k: v for k, v in value.items() if k != "personaConfig"}
        if not isinstance(config, Mapping):
            raise _invalid("has a personaConfig that is not an object")
    else:
        config, other_fields = value, {}

    config, migrated = _migrate_brain_type(config)
    if not _non_empty_string(config.get("personaId")) and not _non_empty_string(config.get("avatarId")):
        raise _invalid("has neither a personaId (saved persona) nor an avatarId (ephemeral persona)")
    if not isinstance(config.get("systemPrompt", ""), str):
        raise _invalid("has a systemPrompt that is not a string")
    limit = config.get("maxSessionLengthSeconds")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0):
        raise _invalid("has a maxSessionLengthSeconds that is not a whole number above 0")
    return PersonaTemplate(MappingProxyType(dict(config)), MappingProxyType(other_fields), migrated)


def build_request_body(
    template: PersonaTemplate, prompt: str | None, max_session_length_seconds: int | None
) -> dict[str, Any]:
    """Anam's request body for one session: the template, the prompt merged in, the cost cap applied."""
    config = dict(template.persona_config)
    if prompt and not template.accepts_prompt:
        raise TokenVendorError(
            ErrorCode.PROMPT_NOT_SUPPORTED,
            "saved persona" if template.is_saved else f"llmId {CLIENT_DRIVEN_LLM}",
        )
    merged = merge_prompt(config.get("systemPrompt"), prompt or "")
    if merged is not None:
        config["systemPrompt"] = merged
    if max_session_length_seconds is not None and not template.is_saved:
        current = config.get("maxSessionLengthSeconds")
        if current is None or current > max_session_length_seconds:
            config["maxSessionLengthSeconds"] = max_session_length_seconds
    return {**template.other_fields, "personaConfig": config}


def merge_prompt(system_prompt: str | None, prompt: str) -> str | None:
    """The system prompt with `prompt` merged in: at each placeholder, else after a blank line."""
    if system_prompt is None:
        return prompt or None
    if PROMPT_PLACEHOLDER in system_prompt:
        return system_prompt.replace(PROMPT_PLACEHOLDER, prompt)
    return f"{system_prompt}\n\n{prompt}" if prompt else system_prompt


def _migrate_brain_type(config: Mapping[str, Any]) -> tuple[Mapping[str, Any], bool]:
    if DEPRECATED_LLM_FIELD not in config:
        return config, False
    brain_type = config[DEPRECATED_LLM_FIELD]
    if "llmId" in config and config["llmId"] != brain_type:
        raise _invalid("has both brainType and llmId, with different values; keep only llmId")
    migrated = {k: v for k, v in config.items() if k != DEPRECATED_LLM_FIELD}
    migrated["llmId"] = brain_type
    return migrated, True


def _non_empty_string(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _invalid(problem: str) -> TokenVendorError:
    return TokenVendorError(ErrorCode.CONFIGURATION_ERROR, f"persona parameter {problem}")
