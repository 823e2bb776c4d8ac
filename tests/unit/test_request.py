"""docs/contract.md §3, the request: what a caller may send, and the order in which checks answer."""

import base64
import json

import pytest

from token_vendor.domain.request import MAX_BODY_BYTES, TokenRequest, parse_token_request
from token_vendor.errors import ErrorCode, TokenVendorError

JSON_TYPE = {"content-type": "application/json"}


def parse(body: str | None, headers: dict[str, str] | None = None, *, b64: bool = False, limit: int = 4000):
    return parse_token_request(JSON_TYPE if headers is None else headers, body, b64, limit)


def refusal(body: str | None, headers: dict[str, str] | None = None, **kwargs) -> TokenVendorError:
    with pytest.raises(TokenVendorError) as caught:
        parse(body, headers, **kwargs)
    return caught.value


def test_a_prompt_is_read_from_a_json_body():
    assert parse('{"prompt": "Talk about pricing."}') == TokenRequest(prompt="Talk about pricing.")


@pytest.mark.parametrize("body", [None, "", "  \n", "{}", '{"prompt": null}'])
def test_no_body_an_empty_object_and_a_null_prompt_all_mean_no_prompt(body):
    assert parse(body) == TokenRequest(prompt=None)


@pytest.mark.parametrize(
    "content_type", ["", "application/json", "application/json; charset=utf-8", "text/plain;charset=UTF-8"]
)
def test_json_text_and_no_content_type_are_accepted(content_type):
    headers = {"content-type": content_type} if content_type else {}
    assert parse('{"prompt": "hi"}', headers).prompt == "hi"


@pytest.mark.parametrize(
    "content_type", ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/html"]
)
def test_other_content_types_are_refused_with_415(content_type):
    error = refusal("prompt=hi", {"content-type": content_type})
    assert (error.status, error.code) == (415, ErrorCode.UNSUPPORTED_MEDIA_TYPE)


def test_a_body_over_16_kib_is_refused_with_413():
    error = refusal(json.dumps({"prompt": "x" * MAX_BODY_BYTES}))
    assert (error.status, error.code) == (413, ErrorCode.BODY_TOO_LARGE)


def test_a_body_of_exactly_16_kib_is_not_too_large():
    body = '{"prompt": "' + "x" * (MAX_BODY_BYTES - 14) + '"}'
    assert len(body.encode()) == MAX_BODY_BYTES
    assert refusal(body, limit=4000).code is ErrorCode.PROMPT_TOO_LONG


def test_base64_bodies_are_decoded_first():
    body = base64.b64encode(b'{"prompt": "hello"}').decode()
    assert parse(body, b64=True).prompt == "hello"


def test_a_large_base64_body_is_refused_with_413_without_decoding():
    body = base64.b64encode(b" " * (MAX_BODY_BYTES + 1)).decode()
    assert refusal(body, b64=True).code is ErrorCode.BODY_TOO_LARGE


@pytest.mark.parametrize(
    ("body", "b64"),
    [("{not json", False), ('{"prompt": "a",}', False), ("!!not base64!!", True), ("/w==", True)],
)
def test_malformed_json_bad_utf8_or_bad_base64_is_invalid_json(body, b64):
    error = refusal(body, b64=b64)
    assert (error.status, error.code) == (400, ErrorCode.INVALID_JSON)


@pytest.mark.parametrize(
    "body",
    [
        '{"prompt": "first", "prompt": "second"}',
        '{"prompt": "a", "pr\\u006fmpt": "b"}',  # the same key, one of them spelled with an escape
        '{"persona": "sales", "variables": {"page": "pricing", "page": "admin"}}',
        '{"prompt": null, "prompt": null}',
        '{"other": {"a": [{"b": 1, "b": 2}]}}',  # deep, and in a field that would be refused anyway
    ],
    ids=["top-level", "escaped", "in-variables", "same-value", "deep-in-an-unknown-field"],
)
def test_an_object_with_the_same_key_twice_is_invalid_json(body):
    error = refusal(body)
    assert (error.status, error.code) == (400, ErrorCode.INVALID_JSON)
    assert "twice" in error.message


def test_a_key_twice_in_a_base64_body_is_invalid_json_too():
    body = base64.b64encode(b'{"prompt": "first", "prompt": "second"}').decode()
    assert refusal(body, b64=True).code is ErrorCode.INVALID_JSON


def test_the_same_name_in_different_objects_is_not_a_key_twice():
    request = parse('{"prompt": "hi", "variables": {"prompt": "x", "page": "pricing"}}')
    assert dict(request.variables) == {"prompt": "x", "page": "pricing"}


@pytest.mark.parametrize("body", ['"a string"', "[1, 2]", "42", "null", "true"])
def test_json_that_is_not_an_object_is_an_invalid_request(body):
    assert refusal(body).code is ErrorCode.INVALID_REQUEST


@pytest.mark.parametrize("prompt", [42, True, ["a"], {"text": "a"}])
def test_a_prompt_that_is_not_a_string_is_an_invalid_request(prompt):
    error = refusal(json.dumps({"prompt": prompt}))
    assert error.code is ErrorCode.INVALID_REQUEST
    assert '"prompt" must be a string' in error.message


def test_an_unknown_field_is_refused_by_name_with_the_fields_that_are_taken():
    error = refusal('{"promt": "hi"}')
    assert error.code is ErrorCode.INVALID_REQUEST
    assert '"promt"' in error.message
    assert all(f'"{name}"' in error.message for name in ("prompt", "persona", "variables", "turnstileToken"))


def test_an_unknown_field_name_is_quoted_and_cut_short_in_the_message():
    error = refusal(json.dumps({'x" + "' * 50: 1}))
    assert error.code is ErrorCode.INVALID_REQUEST
    assert len(error.message) < 200
    assert 'x\\" + ' in error.message


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"persona": 1}', "persona"),
        ('{"turnstileToken": []}', "turnstileToken"),
        ('{"variables": "a"}', "variables"),
    ],
)
def test_a_new_field_of_the_wrong_type_is_refused_naming_it(body, field):
    error = refusal(body)
    assert error.code is ErrorCode.INVALID_REQUEST
    assert f'"{field}"' in error.message


def test_variables_must_map_names_to_strings():
    error = refusal('{"variables": {"firstName": 3}}')
    assert error.code is ErrorCode.INVALID_REQUEST
    assert '"variables"' in error.message


def test_persona_variables_and_turnstile_token_are_read():
    request = parse_token_request(
        {"content-type": "application/json"},
        '{"persona": "sales", "variables": {"page": "docs"}, "turnstileToken": "t"}',
        False,
        100,
    )
    assert (request.persona, dict(request.variables), request.turnstile_token) == (
        "sales",
        {"page": "docs"},
        "t",
    )


@pytest.mark.parametrize(
    "field", ["personaConfig", "personaId", "avatarId", "voiceId", "llmId", "brainType", "systemPrompt"]
)
def test_a_field_that_would_set_the_persona_is_refused_as_persona_config_not_allowed(field):
    error = refusal(json.dumps({field: "x"}))
    assert (error.status, error.code) == (400, ErrorCode.PERSONA_CONFIG_NOT_ALLOWED)
    assert "defined on the server" in error.message
    assert field in error.message


def test_a_prompt_over_the_limit_is_prompt_too_long_and_says_the_limit():
    error = refusal(json.dumps({"prompt": "é" * 11}), limit=10)
    assert (error.status, error.code) == (400, ErrorCode.PROMPT_TOO_LONG)
    assert "10 characters" in error.message


def test_the_limit_counts_code_points_not_bytes():
    assert parse(json.dumps({"prompt": "😀" * 10}, ensure_ascii=False), limit=10).prompt == "😀" * 10


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\x7f", "\x85", "\ud800"])
def test_control_characters_and_lone_surrogates_in_the_prompt_are_refused(char):
    assert refusal(json.dumps({"prompt": f"a{char}b"})).code is ErrorCode.INVALID_REQUEST


def test_tab_cr_and_lf_are_allowed_in_the_prompt():
    assert parse(json.dumps({"prompt": "a\tb\r\nc"})).prompt == "a\tb\r\nc"


def test_content_type_is_checked_before_size():
    error = refusal("x" * (MAX_BODY_BYTES + 1), {"content-type": "application/xml"})
    assert error.code is ErrorCode.UNSUPPORTED_MEDIA_TYPE


def test_size_is_checked_before_json():
    assert refusal("{" * (MAX_BODY_BYTES + 1)).code is ErrorCode.BODY_TOO_LARGE


def test_json_is_checked_before_fields():
    assert refusal('{"personaId": "x"').code is ErrorCode.INVALID_JSON


@pytest.mark.parametrize("body", ["\x0c", "\x0b", " \x0c\n"])
def test_a_body_of_form_feeds_or_vertical_tabs_is_not_json_whitespace(body):
    assert refusal(body).code is ErrorCode.INVALID_JSON


@pytest.mark.parametrize("body", ["NaN", "-Infinity", '{"prompt": NaN}', '{"prompt": Infinity}'])
def test_nan_and_infinity_are_not_json(body):
    assert refusal(body).code is ErrorCode.INVALID_JSON
