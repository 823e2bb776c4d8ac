"""What a caller may send to POST /session-token, checked in the contract's order (docs/contract.md §3): type,
size, JSON, fields.

Pure: takes the pieces of the HTTP request, returns a `TokenRequest` or raises `TokenVendorError`.
(The method is checked earlier, by routing.)
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from token_vendor.errors import ErrorCode, TokenVendorError

MAX_BODY_BYTES = 16 * 1024
# A base64 body longer than this decodes to more than MAX_BODY_BYTES: refuse it before decoding.
_MAX_BASE64_CHARS = -(-MAX_BODY_BYTES // 3) * 4

ACCEPTED_MEDIA_TYPES = frozenset({"", "application/json", "text/plain"})
PERSONA_FIELDS = ("personaConfig", "personaId", "avatarId", "voiceId", "llmId", "brainType", "systemPrompt")
ACCEPTED_FIELDS = ("prompt", "persona", "variables", "turnstileToken")

# What JSON counts as whitespace (bytes.strip() would also drop \x0b and \x0c, which JSON refuses).
_JSON_WHITESPACE = b" \t\r\n"

# Control characters (C0, DEL, C1) other than tab, LF and CR, and lone surrogates, which are not text.
_NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


@dataclass(frozen=True)
class TokenRequest:
    prompt: str | None = None
    persona: str | None = None
    variables: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    turnstile_token: str | None = None


def parse_token_request(
    headers: Mapping[str, str], body: str | None, is_base64_encoded: bool, prompt_max_chars: int
) -> TokenRequest:
    _check_content_type(headers)
    raw = _body_bytes(body or "", is_base64_encoded)
    if not raw.strip(_JSON_WHITESPACE):
        return TokenRequest()
    fields = _json_object(raw)
    prompt = _optional_string(fields, "prompt")
    if prompt is not None:
        if has_control_characters(prompt):
            raise TokenVendorError(
                ErrorCode.INVALID_REQUEST,
                "prompt has control characters",
                reason='"prompt" may not contain control characters other than tab, CR and LF.',
            )
        if len(prompt) > prompt_max_chars:
            raise TokenVendorError(ErrorCode.PROMPT_TOO_LONG, limit=prompt_max_chars)
    return TokenRequest(
        prompt=prompt,
        persona=_optional_string(fields, "persona"),
        variables=_variables(fields),
        turnstile_token=_optional_string(fields, "turnstileToken"),
    )


def has_control_characters(text: str) -> bool:
    """Whether `text` holds what a prompt or a variable value may not: control characters, lone surrogates."""
    return _NOT_TEXT.search(text) is not None


def _check_content_type(headers: Mapping[str, str]) -> None:
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type not in ACCEPTED_MEDIA_TYPES:
        raise TokenVendorError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, f"content type {media_type[:60]!r}")


def _body_bytes(body: str, is_base64_encoded: bool) -> bytes:
    if not is_base64_encoded:
        raw = body.encode("utf-8", "surrogatepass")
    elif len(body) > _MAX_BASE64_CHARS:
        raise TokenVendorError(ErrorCode.BODY_TOO_LARGE)
    else:
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise TokenVendorError(ErrorCode.INVALID_JSON, "body is not valid base64") from exc
    if len(raw) > MAX_BODY_BYTES:
        raise TokenVendorError(ErrorCode.BODY_TOO_LARGE, f"{len(raw)} bytes")
    return raw


def _json_object(raw: bytes) -> dict[str, object]:
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=_not_json, object_pairs_hook=_unique_keys)
    except _DuplicateKeyError as exc:
        raise TokenVendorError(ErrorCode.INVALID_JSON, str(exc)) from exc
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise TokenVendorError(ErrorCode.INVALID_JSON, type(exc).__name__) from exc
    if not isinstance(value, dict):
        raise TokenVendorError(
            ErrorCode.INVALID_REQUEST,
            f"body is a JSON {type(value).__name__}",
            reason='The request body must be a JSON object, such as {"prompt": "..."}.',
        )
    persona_field = next((name for name in PERSONA_FIELDS if name in value), None)
    if persona_field:
        raise TokenVendorError(ErrorCode.PERSONA_CONFIG_NOT_ALLOWED, field=persona_field)
    unknown = next((name for name in value if name not in ACCEPTED_FIELDS), None)
    if unknown is not None:
        accepted = ", ".join(f'"{name}"' for name in ACCEPTED_FIELDS)
        raise TokenVendorError(
            ErrorCode.INVALID_REQUEST,
            "unknown field",
            reason=f"The request body has a field this endpoint does not take: {json.dumps(unknown[:40])}. "
            f"It takes {accepted}, all optional.",
        )
    return value


class _DuplicateKeyError(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    # Python keeps the last of two values for one key, another reader (a log, a proxy, a WAF) may keep the
    # first: what they checked would not be what is used. Refused at every depth, `variables` included.
    value: dict[str, object] = {}
    for key, item in pairs:
        if key in value:
            raise _DuplicateKeyError(f"an object has the key {json.dumps(key[:40])} twice")
        value[key] = item
    return value


def _not_json(constant: str) -> None:
    # Python's json accepts NaN and Infinity; JSON does not.
    raise ValueError(f"{constant} is not JSON")


def _optional_string(fields: Mapping[str, object], name: str) -> str | None:
    value = fields.get(name)
    if value is None or isinstance(value, str):
        return value
    raise TokenVendorError(
        ErrorCode.INVALID_REQUEST,
        f"{name} is a {type(value).__name__}",
        reason=f'"{name}" must be a string (or null).',
    )


def _variables(fields: Mapping[str, object]) -> Mapping[str, str]:
    value = fields.get("variables")
    if value is None:
        return MappingProxyType({})
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise TokenVendorError(
            ErrorCode.INVALID_REQUEST,
            "variables is not an object of strings",
            reason='"variables" must be an object whose values are strings (or null).',
        )
    return MappingProxyType(dict(value))
