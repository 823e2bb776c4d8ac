"""The leak scan itself: a test whose output holds a secret fails the run, and the report hides the secret."""

import pytest

pytest_plugins = ["pytester"]

LEAKY_TESTS = """
import logging
from tests.support.leak_scan import scan


def test_prints_a_token():
    token = "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.c2lnbmF0dXJl"
    scan.register(token)
    print("issued", token)


def test_logs_an_api_key():
    scan.always_secret.add("sk-live-0123456789")
    logging.getLogger("x").warning("key is sk-live-0123456789")


def test_says_nothing_secret():
    scan.register("The visitor asked about pricing.")
    print("handled one request")
"""

PLUGIN = """
from tests.support.leak_scan import scan


def pytest_configure(config):
    config.pluginmanager.register(scan, "leak-scan")
"""


@pytest.fixture
def run(
    pytester: pytest.Pytester, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> pytest.RunResult:
    pytester.makeconftest(PLUGIN)
    pytester.makepyfile(test_leaky=LEAKY_TESTS)
    monkeypatch.setenv("PYTHONPATH", str(request.config.rootpath))
    return pytester.runpytest_subprocess("-p", "no:cacheprovider")


def test_a_secret_in_captured_output_or_logs_fails_the_run(run: pytest.RunResult):
    run.assert_outcomes(passed=3)
    assert run.ret == pytest.ExitCode.TESTS_FAILED
    run.stdout.fnmatch_lines(
        [
            "*test_prints_a_token: a session token in 'Captured stdout call'*",
            "*test_logs_an_api_key: an API key or prompt in 'Captured log call'*",
        ]
    )


def test_the_report_never_repeats_the_secret(run: pytest.RunResult):
    report = run.stdout.str()
    summary = report[report.index("leak scan") :]
    assert "sk-live-0123456789" not in summary
    assert "eyJhbGciOiJIUzI1NiJ9" not in summary
    assert "test_says_nothing_secret" not in summary
