"""Generators of what callers send and operators store, and the settings every property runs with."""

from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tests.properties.spec_model import (
    CLIENT_DRIVEN_LLM,
    MAX_BODY_BYTES,
    PERSONA_FIELDS,
    PLACEHOLDER,
)

# Reproducible in CI: the same examples on every run, and no example database written to the work tree.
PURE = settings(max_examples=200, deadline=None, derandomize=True, database=None)
# Through the real handler: fewer examples, each one a whole invocation, in one execution environment.
HANDLER = settings(
    PURE,
    max_examples=50,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Any code point, lone surrogates included (the Lambda runtime's JSON parser can hand the handler those).
any_text = st.text(alphabet=st.characters(exclude_categories=()), max_size=40)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)

# ---- What a caller sends ---------------------------------------------------------------------------------

field_names = st.one_of(
    st.sampled_from(["prompt", "persona", "variables", "turnstileToken", *PERSONA_FIELDS]),
    st.sampled_from(
        ["Prompt", "prompt ", "PROMPT", "personaconfig", "PersonaId", "persona_id", "system_prompt"]
    ),
    st.text(max_size=12),
)
prompts = st.one_of(
    st.text(max_size=80),
    any_text,
    st.lists(st.text(max_size=6), max_size=3).map(PLACEHOLDER.join),
    st.integers(0, 80).map(lambda n: "é" * n),  # around the limits the properties draw
)
prompt_values = st.one_of(prompts, st.none(), json_values)
# Text a person types: no control characters but tab, CR and LF, no lone surrogates.
plain_prompts = st.text(
    alphabet=st.characters(exclude_categories=("Cc", "Cs")) | st.sampled_from("\t\r\n"), max_size=200
)


def json_key(name: str, escape_every_character: bool) -> str:
    """A key as JSON text, its characters optionally all \\u-escaped: the same key to a JSON parser."""
    if not escape_every_character:
        return json.dumps(name)
    units = name.encode("utf-16-be", "surrogatepass")
    return (
        '"'
        + "".join(f"\\u{int.from_bytes(units[i : i + 2], 'big'):04x}" for i in range(0, len(units), 2))
        + '"'
    )


@st.composite
def json_object_texts(draw: st.DrawFn, names: st.SearchStrategy[str] = field_names) -> str:
    """A JSON object as a caller might write it: any keys, repeated or escaped, any values, any spacing."""
    members = draw(st.lists(st.tuples(names, prompt_values, st.booleans()), max_size=4))
    separator = draw(st.sampled_from([",", ", ", ",\n  "]))
    rendered = [f"{json_key(name, escape)}: {json.dumps(value)}" for name, value, escape in members]
    return "{" + separator.join(rendered) + "}"


def prompt_bodies() -> st.SearchStrategy[str]:
    return st.builds(lambda prompt: json.dumps({"prompt": prompt}), prompt_values)


def bodies_near_the_size_limit() -> st.SearchStrategy[str]:
    overhead = len(json.dumps({"prompt": ""}))
    return st.integers(-2, 2).map(
        lambda delta: json.dumps({"prompt": "x" * (MAX_BODY_BYTES - overhead + delta)})
    )


request_texts = st.one_of(
    st.just(""),
    st.text(alphabet=" \t\r\n", max_size=4),
    json_object_texts(),
    prompt_bodies(),
    prompt_bodies(),
    prompt_bodies(),
    json_values.map(json.dumps),
    json_object_texts().flatmap(lambda text: st.integers(0, max(0, len(text) - 1)).map(lambda n: text[:n])),
    st.sampled_from(["NaN", '{"prompt": NaN}', "\x0c", " \x0b", "[", '{"prompt": "a"', "\ufeff{}", "{}{}"]),
    any_text,
    bodies_near_the_size_limit(),
)


@st.composite
def http_bodies(draw: st.DrawFn) -> tuple[str | None, bool]:
    """An event's `body` and `isBase64Encoded`: text as sent, or bytes base64-encoded as API Gateway does."""
    how = draw(st.sampled_from(["absent", "text", "base64 text", "base64 bytes", "not base64"]))
    if how == "absent":
        return None, draw(st.booleans())
    if how == "text":
        return draw(request_texts), False
    if how == "base64 text":
        return base64.b64encode(draw(request_texts).encode("utf-8", "surrogatepass")).decode(), True
    if how == "base64 bytes":
        return base64.b64encode(draw(st.binary(max_size=64))).decode(), True
    return draw(any_text), True


def _any_case(text: str) -> st.SearchStrategy[str]:
    return st.lists(st.booleans(), min_size=len(text), max_size=len(text)).map(
        lambda upper: "".join(c.upper() if u else c for c, u in zip(text, upper, strict=True))
    )


media_parameters = st.lists(
    st.builds(
        lambda space, name, value: f";{space}{name}={value}",
        st.sampled_from(["", " "]),
        st.sampled_from(["charset", "boundary", "q", "x-anything"]),
        st.sampled_from(["utf-8", "UTF-8", '"utf-8"', "iso-8859-1", "", "a=b"]),
    ),
    max_size=2,
).map("".join)
accepted_content_types = st.builds(
    lambda media, spaces, parameters: f"{spaces}{media}{spaces}{parameters}",
    st.sampled_from(["application/json", "text/plain"]).flatmap(_any_case),
    st.sampled_from(["", " ", "\t"]),
    media_parameters,
)
other_content_types = st.one_of(
    st.sampled_from(
        [
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=----x",
            "application/xml",
            "text/html; charset=utf-8",
            "application/json-patch+json",
            "application/jsonp",
            "text/plain-ish",
            "*/*",
            "application/json, text/plain",
        ]
    ),
    st.text(max_size=30),
)
# Repeated branches weigh the choice (one_of picks a branch uniformly): most requests should get past the
# first checks, so that the deeper ones are exercised too.
content_types = st.one_of(st.none(), accepted_content_types, accepted_content_types, other_content_types)
methods = st.one_of(
    st.just("POST"),
    st.just("POST"),
    st.just("POST"),
    st.sampled_from(["OPTIONS", "GET", "HEAD", "PUT", "PATCH", "DELETE", "post", "Options"]),
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ-_!#$%&'*+.^`|~0123456789", min_size=1, max_size=10),
)

# ---- What an operator stores -----------------------------------------------------------------------------

KNOWN_PERSONA_KEYS = {*PERSONA_FIELDS, "maxSessionLengthSeconds"}
ids = st.text(min_size=1, max_size=12).filter(lambda s: bool(s.strip()))
extra_fields = st.dictionaries(
    st.text(max_size=10).filter(lambda k: k not in KNOWN_PERSONA_KEYS), json_values, max_size=4
)
system_prompts = st.one_of(
    st.text(max_size=30), st.lists(st.text(max_size=8), min_size=2, max_size=4).map(PLACEHOLDER.join)
)
session_limits = st.integers(1, 10**6)


any_llm_id = ids | st.just(CLIENT_DRIVEN_LLM)


@st.composite
def ephemeral_configs(draw: st.DrawFn, llm_ids: st.SearchStrategy[str] = any_llm_id) -> dict[str, Any]:
    config = draw(extra_fields)
    config["avatarId"] = draw(ids)
    config["voiceId"] = draw(ids)
    llm_id = draw(llm_ids)
    for field in draw(st.sampled_from([("llmId",), ("brainType",), ("llmId", "brainType")])):
        config[field] = llm_id
    if draw(st.booleans()):
        config["systemPrompt"] = draw(system_prompts)
    if draw(st.booleans()):
        config["maxSessionLengthSeconds"] = draw(session_limits)
    return config


@st.composite
def saved_configs(draw: st.DrawFn) -> dict[str, Any]:
    config = draw(extra_fields)
    config["personaId"] = draw(ids)
    if draw(st.booleans()):
        config["systemPrompt"] = draw(system_prompts)  # Anam ignores it next to a personaId
    return config


template_other_fields = st.dictionaries(
    st.one_of(st.sampled_from(["sessionOptions", "clientLabel"]), st.text(max_size=10)).filter(
        lambda k: k != "personaConfig"
    ),
    json_values,
    max_size=3,
)


def stored_as_either_form(configs: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """docs/contract.md §4's two forms of the parameter: the persona config itself, or a request-body
    template."""
    return configs | st.builds(
        lambda config, others: {**others, "personaConfig": config}, configs, template_other_fields
    )


stored_personas = stored_as_either_form(ephemeral_configs() | saved_configs())
personas_taking_a_prompt = stored_as_either_form(ephemeral_configs(llm_ids=ids))
personas_refusing_a_prompt = stored_as_either_form(
    saved_configs() | ephemeral_configs(llm_ids=st.just(CLIENT_DRIVEN_LLM))
)
