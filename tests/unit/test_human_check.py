"""docs/contract.md §10, the rules: what a siteverify verdict means, and which hosts a token may come from."""

import pytest

from token_vendor.domain.human_check import Verdict, allowed_hosts, judge, require_token
from token_vendor.errors import ErrorCode, TokenVendorError

HOSTS = frozenset({"app.example.com"})


def code_of(verdict: Verdict, hosts: frozenset[str] = HOSTS) -> ErrorCode | None:
    try:
        judge(verdict, hosts)
    except TokenVendorError as err:
        return err.code
    return None


def test_a_pass_for_an_allowed_host_passes():
    assert code_of(Verdict(True, "app.example.com")) is None


def test_a_pass_for_another_host_is_refused():
    assert code_of(Verdict(True, "evil.example.net")) is ErrorCode.VERIFICATION_FAILED


def test_a_pass_without_a_hostname_is_refused_when_hosts_are_checked():
    assert code_of(Verdict(True, None)) is ErrorCode.VERIFICATION_FAILED


def test_any_host_passes_when_none_is_checked():
    assert code_of(Verdict(True, "anywhere.example.org"), frozenset()) is None


@pytest.mark.parametrize("error", ["invalid-input-response", "timeout-or-duplicate", "bad-request"])
def test_a_refused_token_is_verification_failed(error):
    assert code_of(Verdict(False, None, (error,))) is ErrorCode.VERIFICATION_FAILED


@pytest.mark.parametrize("error", ["invalid-input-secret", "missing-input-secret"])
def test_a_refused_secret_is_the_operators_configuration_error(error):
    assert code_of(Verdict(False, None, (error,))) is ErrorCode.CONFIGURATION_ERROR


def test_the_hosts_are_those_of_the_allowed_origins():
    origins = {"https://app.example.com", "http://localhost:5173", "https://WWW.Example.com"}
    assert allowed_hosts(origins) == {"app.example.com", "localhost", "www.example.com"}


@pytest.mark.parametrize("origins", [{"*"}, {"*", "https://app.example.com"}, set()])
def test_no_host_is_checked_for_any_origin_or_none(origins):
    assert allowed_hosts(origins) == frozenset()


@pytest.mark.parametrize("token", [None, "", "   ", "x" * 2049])
def test_a_missing_or_impossible_token_is_refused_before_asking(token):
    with pytest.raises(TokenVendorError) as caught:
        require_token(token)
    assert caught.value.code is ErrorCode.VERIFICATION_FAILED
