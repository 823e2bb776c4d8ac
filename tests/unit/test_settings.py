"""docs/contract.md §2: the environment variables, their defaults, and invalid values reported as
configuration errors."""

import pytest

from token_vendor.errors import ErrorCode, TokenVendorError
from token_vendor.settings import Settings

REQUIRED = {"ANAM_API_KEY_SECRET_ID": "anam/api-key", "PERSONA_PARAMETER_NAME": "/anam/persona"}


def test_defaults_follow_the_spec():
    settings = Settings.from_environ(REQUIRED)
    assert settings.problems == ()
    assert settings.anam_api_base_url == "https://api.anam.ai"
    assert settings.allowed_origins == frozenset()
    assert (settings.prompt_max_chars, settings.secret_max_age_seconds, settings.persona_max_age_seconds) == (
        4000,
        300,
        60,
    )
    assert settings.anam_timeout_seconds == 10.0
    assert settings.max_session_length_seconds is None
    assert settings.trace_subsegments is False
    assert settings.trusted_proxy == "off"
    assert not settings.behind_cloudfront


def test_values_are_read_and_normalised():
    settings = Settings.from_environ(
        {
            **REQUIRED,
            "ANAM_API_BASE_URL": "http://127.0.0.1:8080/",
            "ALLOWED_ORIGINS": "https://a.example.com, https://b.example.com/",
            "PROMPT_MAX_CHARS": "100",
            "MAX_SESSION_LENGTH_SECONDS": "600",
            "TRACE_SUBSEGMENTS": "true",
            "TRUSTED_PROXY": "CloudFront",
        }
    )
    assert settings.anam_api_base_url == "http://127.0.0.1:8080"
    assert settings.allowed_origins == {"https://a.example.com", "https://b.example.com"}
    assert (settings.prompt_max_chars, settings.max_session_length_seconds) == (100, 600)
    assert settings.trace_subsegments is True
    assert settings.behind_cloudfront


def test_an_empty_max_session_length_means_unset():
    settings = Settings.from_environ({**REQUIRED, "MAX_SESSION_LENGTH_SECONDS": ""})
    assert settings.max_session_length_seconds is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PROMPT_MAX_CHARS", "abc"),
        ("PROMPT_MAX_CHARS", "0"),
        ("SECRET_MAX_AGE_SECONDS", "-1"),
        ("ANAM_TIMEOUT_SECONDS", "nan"),
        ("MAX_SESSION_LENGTH_SECONDS", "1.5"),
        ("ANAM_API_BASE_URL", "api.anam.ai"),
        ("ALLOWED_ORIGINS", "app.example.com"),
        ("TRACE_SUBSEGMENTS", "maybe"),
        ("TRUSTED_PROXY", "cloudflare"),
    ],
)
def test_an_invalid_value_is_a_configuration_error_naming_the_variable(name, value):
    settings = Settings.from_environ({**REQUIRED, name: value})
    with pytest.raises(TokenVendorError) as caught:
        settings.require_valid()
    assert caught.value.code is ErrorCode.CONFIGURATION_ERROR
    assert name in caught.value.detail


def test_missing_required_variables_are_each_named():
    with pytest.raises(TokenVendorError) as caught:
        Settings.from_environ({}).require_valid()
    assert "ANAM_API_KEY_SECRET_ID" in caught.value.detail
    assert "PERSONA_PARAMETER_NAME" in caught.value.detail


GUARD_WITH_BUDGET = {
    **REQUIRED,
    "QUOTA_TABLE_NAME": "quota",
    "MAX_SESSION_LENGTH_SECONDS": "600",
    "DAILY_SESSION_MINUTES": "100",
}


@pytest.mark.parametrize(
    ("environ", "reconciles"),
    [
        (GUARD_WITH_BUDGET, True),
        ({**GUARD_WITH_BUDGET, "RECONCILE_USAGE": "false"}, False),
        ({**GUARD_WITH_BUDGET, "RECONCILE_USAGE": "true"}, True),
        ({**GUARD_WITH_BUDGET, "DAILY_SESSION_MINUTES": ""}, False),
        ({**GUARD_WITH_BUDGET, "QUOTA_TABLE_NAME": ""}, False),
        ({**REQUIRED, "RECONCILE_USAGE": "true"}, False),
    ],
    ids=["budget", "turned-off", "turned-on", "no-budget", "no-guard", "on-without-guard"],
)
def test_usage_is_reconciled_by_default_whenever_the_guard_counts_minutes(environ, reconciles):
    assert Settings.from_environ(environ).reconciles is reconciles


def test_the_label_prefix_is_the_stacks_name_unless_set():
    assert Settings.from_environ(REQUIRED).client_label_prefix == "anam-token-vendor"
    named = Settings.from_environ({**REQUIRED, "POWERTOOLS_SERVICE_NAME": "shop-prod"})
    assert named.client_label_prefix == "shop-prod"
    chosen = Settings.from_environ(
        {**REQUIRED, "POWERTOOLS_SERVICE_NAME": "x", "CLIENT_LABEL_PREFIX": "shop"}
    )
    assert chosen.client_label_prefix == "shop"


@pytest.mark.parametrize("value", ["shop:prod", "a b", "x" * 65])
def test_a_label_prefix_that_could_not_be_told_apart_is_a_configuration_error(value):
    settings = Settings.from_environ({**REQUIRED, "CLIENT_LABEL_PREFIX": value})
    assert any("CLIENT_LABEL_PREFIX" in problem for problem in settings.problems)


@pytest.mark.parametrize("budget", ["DAILY_SESSION_MINUTES", "MONTHLY_SESSION_MINUTES"])
def test_a_session_cap_that_can_never_fit_a_budget_is_a_configuration_error(budget):
    # 601 s rounds up to 11 minutes: a 10-minute budget could never hold one token.
    settings = Settings.from_environ({**REQUIRED, "MAX_SESSION_LENGTH_SECONDS": "601", budget: "10"})
    with pytest.raises(TokenVendorError) as caught:
        settings.require_valid()
    assert caught.value.code is ErrorCode.CONFIGURATION_ERROR
    assert budget in caught.value.detail
    assert "11 minutes" in caught.value.detail


def test_a_session_cap_that_just_fits_the_budget_is_fine():
    settings = Settings.from_environ(
        {**REQUIRED, "MAX_SESSION_LENGTH_SECONDS": "600", "DAILY_SESSION_MINUTES": "10"}
    )
    assert settings.problems == ()


@pytest.mark.parametrize(("cap", "shortest"), [(None, 120), ("600", 120), ("90", 90)])
def test_the_shortest_remainder_is_two_minutes_or_the_cap_when_that_is_shorter(cap, shortest):
    environ = {**REQUIRED, **({"MAX_SESSION_LENGTH_SECONDS": cap} if cap else {})}
    assert Settings.from_environ(environ).shortest_session_seconds == shortest


@pytest.mark.parametrize("value", ["59", "601"])
def test_a_shortest_session_below_a_minute_or_above_the_cap_is_a_configuration_error(value):
    settings = Settings.from_environ(
        {**REQUIRED, "MAX_SESSION_LENGTH_SECONDS": "600", "MIN_SESSION_SECONDS": value}
    )
    with pytest.raises(TokenVendorError) as caught:
        settings.require_valid()
    assert "MIN_SESSION_SECONDS" in caught.value.detail
