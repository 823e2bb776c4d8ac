"""The checks Anam's token endpoint makes on a request body, as far as Anam's docs and code show them.

Pure functions, used by the Anam stand-in. Where Anam's behaviour is not documented the stand-in is stricter
than Anam, never looser: a request it accepts should be one Anam accepts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

STATEFUL = "stateful"
EPHEMERAL = "ephemeral"
LEGACY = "legacy"
TOKEN_TYPES = (STATEFUL, EPHEMERAL, LEGACY)

_EPHEMERAL_REQUIRED = ("avatarId", "voiceId", "llmId")
_OPTIONAL_STRINGS = ("systemPrompt", "name", "languageCode", "avatarModel")


def problem_with(body: Mapping[str, Any]) -> str | None:
    """Why Anam would answer 400 to this request body, or None when it would mint a token."""
    persona = body.get("personaConfig")
    if not isinstance(persona, Mapping):
        return "personaConfig must be an object"
    # Anam still accepts the deprecated brainType. The stand-in refuses it so that a test fails if the
    # function forwards a stored brainType instead of migrating it to llmId (docs/contract.md §4).
    if "brainType" in persona:
        return "brainType is deprecated: send llmId instead"
    problem = _persona_problem(persona)
    if problem is None and "clientLabel" in body and not isinstance(body["clientLabel"], str):
        problem = "clientLabel must be a string"
    if problem is None and "sessionOptions" in body:
        problem = _session_options_problem(body["sessionOptions"])
    return problem


def token_type_for(persona: Mapping[str, Any]) -> str:
    return STATEFUL if "personaId" in persona else EPHEMERAL


def _persona_problem(persona: Mapping[str, Any]) -> str | None:
    if "personaId" in persona:
        # A saved persona: Anam ignores every other field next to it.
        return None if _non_empty_string(persona["personaId"]) else "personaId must be a non-empty string"
    if "avatarId" not in persona:
        return "personaConfig needs a personaId or an avatarId"
    for name in _EPHEMERAL_REQUIRED:
        if not _non_empty_string(persona.get(name)):
            return f"{name} is required for an ephemeral persona and must be a non-empty string"
    for name in _OPTIONAL_STRINGS:
        if name in persona and not isinstance(persona[name], str):
            return f"{name} must be a string"
    if "maxSessionLengthSeconds" in persona:
        limit = persona["maxSessionLengthSeconds"]
        if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
            return "maxSessionLengthSeconds must be a positive integer"
    return None


def _session_options_problem(options: Any) -> str | None:
    if not isinstance(options, Mapping):
        return "sessionOptions must be an object"
    if ("videoWidth" in options) != ("videoHeight" in options):
        return "videoWidth and videoHeight must be given together"
    return None


def _non_empty_string(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())
