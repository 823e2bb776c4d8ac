"""The leak scan: the run fails if an API key, a session token or a caller's prompt reached a log line, an
error answer or any captured output of any test.

Fixtures `register` what is secret as it passes through them (keys Anam was sent, tokens the function
returned, prompts callers sent) and hand in what was said as report sections; each test's sections are
checked against the secrets known when it ends. The report names the test and the place, never the secret.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

# Shorter or more repetitive strings would match by chance ("hi", "        ").
MIN_SECRET_CHARS = 8
MIN_DISTINCT_CHARS = 5


@dataclass(eq=False)  # registered as a pytest plugin: must stay hashable
class LeakScan:
    always_secret: set[str] = field(default_factory=set)
    _secrets: set[str] = field(default_factory=set)
    _sections: list[tuple[str, str]] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)

    def register(self, *values: object) -> None:
        for value in values:
            if isinstance(value, str) and _distinctive(value):
                self._secrets.add(value)

    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        self._secrets, self._sections = set(), []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self._sections.extend(report.sections)
        if report.when != "teardown":
            return
        secrets = self._secrets | self.always_secret
        for place, text in self._sections:
            kinds = sorted({_kind(secret) for secret in secrets if secret in text})
            if kinds:
                self.leaks.append(f"{report.nodeid}: {', '.join(kinds)} in {place!r}")

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.leaks:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.leaks:
            terminalreporter.section("leak scan: secrets found where they must never be", red=True)
            for leak in self.leaks:
                terminalreporter.line(leak, red=True)
        else:
            terminalreporter.line("leak scan: no key, token or prompt in any log, error answer or output")


def _distinctive(value: str) -> bool:
    return len(value.strip()) >= MIN_SECRET_CHARS and len(set(value)) >= MIN_DISTINCT_CHARS


def _kind(secret: str) -> str:
    if secret.count(".") == 2 and secret.startswith("ey"):
        return "a session token"
    return "an API key or prompt"


scan = LeakScan()
