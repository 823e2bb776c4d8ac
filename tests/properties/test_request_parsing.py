"""docs/contract.md §3's request checks as properties of `parse_token_request`: for any body, content type and
base64 flag, the answer is the one docs/contract.md §3 gives (spec_model.request_outcomes), a 4xx with a code,
and never an exception.
"""

import base64
import json

from hypothesis import assume, event, given
from hypothesis import strategies as st

from tests.properties import strategies as gen
from tests.properties.spec_model import ACCEPTED_MEDIA_TYPES, Outcome, accepted, media_type, request_outcomes
from token_vendor.domain.request import parse_token_request
from token_vendor.errors import TokenVendorError

CONTENT_TYPE_NAMES = st.sampled_from(["content-type", "Content-Type", "CONTENT-TYPE"])


def outcome_of(
    content_type: str | None, header_name: str, body: str | None, is_base64: bool, limit: int
) -> Outcome:
    headers = {} if content_type is None else {header_name: content_type}
    try:
        return accepted(parse_token_request(headers, body, is_base64, limit).prompt)
    except TokenVendorError as refusal:
        refused = refusal
    assert 400 <= refused.status < 500, refused
    return str(refused.code)


@gen.PURE
@given(
    content_type=gen.content_types,
    header_name=CONTENT_TYPE_NAMES,
    body=gen.http_bodies(),
    limit=st.integers(1, 64) | st.just(4000),
)
def test_any_request_gets_the_answer_spec_3_gives_it(content_type, header_name, body, limit):
    text, is_base64 = body
    outcome = outcome_of(content_type, header_name, text, is_base64, limit)
    event(outcome if isinstance(outcome, str) else "accepted")  # for hypothesis's statistics
    assert outcome in request_outcomes(content_type, text, is_base64, limit)


@gen.PURE
@given(content_type=gen.accepted_content_types, header_name=CONTENT_TYPE_NAMES, prompt=gen.prompts)
def test_json_and_text_plain_with_any_parameters_and_any_case_are_accepted(content_type, header_name, prompt):
    outcome = outcome_of(content_type, header_name, json.dumps({"prompt": prompt}), False, 4000)
    assert outcome != "unsupported_media_type"


@gen.PURE
@given(content_type=gen.other_content_types, body=gen.http_bodies())
def test_any_other_media_type_is_refused_with_415_whatever_the_body(content_type, body):
    assume(media_type(content_type) not in ("", *ACCEPTED_MEDIA_TYPES))
    text, is_base64 = body
    assert outcome_of(content_type, "content-type", text, is_base64, 4000) == "unsupported_media_type"


@gen.PURE
@given(prompt=gen.plain_prompts, base64_encoded=st.booleans(), ascii_only=st.booleans())
def test_a_plain_text_prompt_within_the_limit_arrives_as_sent(prompt, base64_encoded, ascii_only):
    raw = json.dumps({"prompt": prompt}, ensure_ascii=ascii_only).encode()
    body = base64.b64encode(raw).decode() if base64_encoded else raw.decode()
    outcome = outcome_of("application/json", "content-type", body, base64_encoded, max(1, len(prompt)))
    assert outcome == accepted(prompt)
