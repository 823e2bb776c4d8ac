"""docs/contract.md §3 and §4 restated as plain functions: what the properties compare the function against.

Written from the contract's words, not from the code: where the two disagree, a property fails and shows
where.
"""

from __future__ import annotations

import base64
import binascii
import json
import unicodedata
from collections.abc import Mapping
from typing import Any

MAX_BODY_BYTES = 16 * 1024
ACCEPTED_MEDIA_TYPES = ("application/json", "text/plain")
PERSONA_FIELDS = ("personaConfig", "personaId", "avatarId", "voiceId", "llmId", "brainType", "systemPrompt")
PLACEHOLDER = "{{prompt}}"
REQUEST_FIELDS = ("prompt", "persona", "variables", "turnstileToken")
CLIENT_DRIVEN_LLM = "CUSTOMER_CLIENT_V1"
ALLOWED_CONTROL_CHARACTERS = "\t\r\n"
JSON_WHITESPACE = b" \t\r\n"  # RFC 8259's whitespace: an "empty" body holds nothing else

# An accepted request, as the outcome of checking one: ("accepted", the prompt or None).
Accepted = tuple[str, str | None]
Outcome = str | Accepted


def accepted(prompt: str | None) -> Accepted:
    return ("accepted", prompt)


def media_type(content_type: str | None) -> str:
    """The type/subtype, without parameters, compared case-insensitively; "" when none is given."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def request_outcomes(
    content_type: str | None, body: str | None, is_base64: bool, prompt_max_chars: int
) -> set[Outcome]:
    """What docs/contract.md §3 allows as the answer to a POST: error codes, or the request accepted with its
    prompt.

    A set, because where a request breaks two rules at the same step the contract does not say which one
    answers.
    """
    if media_type(content_type) not in ("", *ACCEPTED_MEDIA_TYPES):
        return {"unsupported_media_type"}
    raw = body_bytes(body, is_base64)
    if raw is None:
        # Not base64; and if it is long enough, too large to be decoded within the limit: either rule answers.
        too_large = len(body or "") * 3 // 4 > MAX_BODY_BYTES
        return {"invalid_json", "body_too_large"} if too_large else {"invalid_json"}
    if len(raw) > MAX_BODY_BYTES:
        return {"body_too_large"}
    if not raw.strip(JSON_WHITESPACE):
        return {accepted(None)}
    try:
        value = strict_json(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        return {"invalid_json"}
    if not isinstance(value, dict):
        return {"invalid_request"}
    if value.keys() & set(PERSONA_FIELDS):
        return {"persona_config_not_allowed"}
    if value.keys() - set(REQUEST_FIELDS):
        return {"invalid_request"}
    refusals = _field_refusals(value, prompt_max_chars)
    if refusals:
        return refusals
    # The default persona of the suite declares no callerInput, and no named personas are configured.
    persona_rules: set[Outcome] = set()
    if value.get("persona") is not None:
        persona_rules.add("unknown_persona")
    if value.get("variables"):
        persona_rules.add("invalid_variable")
    return persona_rules or {accepted(value.get("prompt"))}


def _field_refusals(value: Mapping[str, Any], prompt_max_chars: int) -> set[Outcome]:
    """docs/contract.md §3's field checks: each field of the wrong type, a prompt with control characters or
    too long."""
    refusals: set[Outcome] = set()
    for name in ("persona", "turnstileToken"):
        if value.get(name) is not None and not isinstance(value[name], str):
            refusals.add("invalid_request")
    variables = value.get("variables")
    if variables is not None and not (
        isinstance(variables, dict) and all(isinstance(v, str) for v in variables.values())
    ):
        refusals.add("invalid_request")
    prompt = value.get("prompt")
    if prompt is None:
        return refusals
    if not isinstance(prompt, str):
        return refusals | {"invalid_request"}
    if any(_is_control_or_not_text(c) for c in prompt):
        refusals.add("invalid_request")
    if len(prompt) > prompt_max_chars:
        refusals.add("prompt_too_long")
    return refusals


def body_bytes(body: str | None, is_base64: bool) -> bytes | None:
    """The body's bytes, base64-decoded when flagged so; None when it is not base64."""
    text = body or ""
    if not is_base64:
        return text.encode("utf-8", "surrogatepass")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def strict_json(text: str) -> Any:
    """RFC 8259 JSON: Python's parser, without the NaN and Infinity it also accepts, and with no object that
    has the same key twice (the contract's invalid_json)."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON")

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        if len({key for key, _ in pairs}) != len(pairs):
            raise ValueError("a key twice")
        return dict(pairs)

    return json.loads(text, parse_constant=refuse, object_pairs_hook=unique)


def takes_prompt(config: Mapping[str, Any]) -> bool:
    """docs/contract.md §4: a saved persona, or one whose conversation the client drives, cannot take a
    prompt."""
    llm_id = config.get("llmId", config.get("brainType"))
    return "personaId" not in config and llm_id != CLIENT_DRIVEN_LLM


def merged_persona(config: Mapping[str, Any], prompt: str | None, cap: int | None) -> dict[str, Any]:
    """docs/contract.md §4's rules applied to a stored persona config, one by one, into a new dict."""
    merged = dict(config)
    if "brainType" in merged:
        merged["llmId"] = merged.pop("brainType")
    text = prompt or ""
    stored = merged.get("systemPrompt")
    if stored is None:
        if text:
            merged["systemPrompt"] = text
    elif PLACEHOLDER in stored:
        merged["systemPrompt"] = text.join(stored.split(PLACEHOLDER))
    elif text:
        merged["systemPrompt"] = f"{stored}\n\n{text}"
    if cap is not None and "personaId" not in config:
        limit = merged.get("maxSessionLengthSeconds")
        merged["maxSessionLengthSeconds"] = cap if limit is None else min(limit, cap)
    return merged


def split_template(stored: Mapping[str, Any]) -> tuple[Mapping[str, Any], dict[str, Any]]:
    """docs/contract.md §4's two forms: (the persona config, the request body's other keys)."""
    if "personaConfig" in stored:
        return stored["personaConfig"], {k: v for k, v in stored.items() if k != "personaConfig"}
    return stored, {}


def _is_control_or_not_text(char: str) -> bool:
    # Cc: control characters (C0, DEL, C1); Cs: a lone surrogate, which no UTF-8 text can hold.
    return char not in ALLOWED_CONTROL_CHARACTERS and unicodedata.category(char) in ("Cc", "Cs")


# docs/contract.md §11: what settling one open reservation does, from the contract's words.
# A session as Anam lists it: (start, end or None while it runs, its reported length in ms or None).
AnamSession = tuple[float, float | None, float | None]


def minutes_of(session: AnamSession) -> int:
    """An ended session's minutes: its reported length (`sessionLengthMs`/`durationMs`), else end minus
    start, rounded up to whole minutes."""
    start, end, length_ms = session
    assert end is not None
    seconds = length_ms / 1000 if length_ms is not None else end - start
    whole = int(seconds // 60)
    return whole + 1 if whole * 60 < seconds else whole


def minutes_used(
    its_sessions: list[AnamSession], token_expires_at: float, later_starts: list[float], now: float
) -> int | None:
    """The minutes a reservation is settled as having used, or None when it is left for a later pass:
    - its session has ended: the session's minutes (each session of its label, summed);
    - its session is still running (any of them): left for a later pass;
    - no session of its label, the token has expired, and the listing made after the lookup holds a session
      of this deployment that started after that expiry (`later_starts`: the starts of this deployment's
      sessions in it): never used, 0;
    - otherwise (a lookup that finds nothing proves nothing): left for a later pass."""
    if its_sessions:
        for _, end, _ in its_sessions:
            if end is None:
                return None
        return sum(minutes_of(session) for session in its_sessions)
    if now < token_expires_at:
        return None
    for start in later_starts:
        if start > token_expires_at:
            return 0
    return None


def budget_after(counter: int, held: int, used: int, reserved: int) -> int:
    """A budget window's counter once a reservation that still holds `held` of its `reserved` minutes there
    is settled as having used `used`: the reserved minutes minus the used ones go back (an overrun is added),
    and never more than it reserved, nor what the window no longer holds."""
    holds = min(max(held, 0), reserved)
    return counter - holds + used
