"""The README's first steps in headless Chromium: `make dev`, then the page at the URL it prints.

docs/local-development.md tells a person to run `make dev` and open the "Example page" URL it prints; this
test does exactly that (`make dev` builds the page and its own venv when needed), then runs the browser side,
examples/web/tests/*.test.mjs (node's test runner and playwright-core driving Debian's chromium, with the
real @anam-ai/js-sdk bundled into the page): the offline success state, each error state a person can meet,
the limits a visitor waits out (the waiting room of sessions_busy), a session's countdown and its end beacon.
A second dev server, whose Anam stand-in issues legacy tokens, serves the SDK's migration error.
Screenshots of the cases that fail are kept in test-artifacts/browser/.

Skipped when chromium or node is missing, unless REQUIRE_BROWSER=1 (CI), where that is a failure.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.local.processes import developer_env

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
WEB = REPO / "examples" / "web"
DIST = WEB / "dist"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
SCREENSHOTS = REPO / "test-artifacts" / "browser"
# The first run of `make dev` installs .venv-dev and the page's npm packages.
START_TIMEOUT_SECONDS = 300
NODE_TEST_TIMEOUT_SECONDS = 300
CASES = 20
# One file at a time: each runs a Chromium of its own, and two at once on a small machine would crowd it.
NODE_TESTS = ["--test-concurrency=1", "tests/e2e.test.mjs", "tests/waits-and-sessions.test.mjs"]

SERVING = re.compile(r"Serving (http://127\.0\.0\.1:\d+/session-token)")
PAGE = re.compile(r"Example page: (http://127\.0\.0\.1:\d+/)")
STAND_IN = re.compile(r"Offline Anam stand-in at (http://127\.0\.0\.1:\d+)")
REFUSED_ORIGIN = re.compile(r"^(CORS: refused origin http://127\.0\.0\.1:\d+: not in ALLOWED_ORIGINS)")


def _unavailable(reason: str) -> None:
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason}, and REQUIRE_BROWSER=1 makes that a failure")
    pytest.skip(reason)


def _tools() -> tuple[str, str]:
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        _unavailable(f"no Chromium at {CHROMIUM} (scripts/install-browser-deps.sh installs Debian's)")
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        _unavailable("node and npm are not on PATH (the browser test needs node 20 or later)")
    assert node is not None
    assert npm is not None
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    if int(version.lstrip("v").split(".")[0]) < 20:
        _unavailable(f"node {version} is too old: the browser test needs node 20 or later")
    return node, npm


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Server:
    """A server started as a subprocess, its output collected as it runs."""

    name: str
    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        threading.Thread(target=self._collect, name=f"{self.name}-output", daemon=True).start()

    def _collect(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, *patterns: re.Pattern[str]) -> list[str]:
        """The first group of each pattern, once the server has printed a line matching each."""
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            found = [
                next((m.group(1) for line in self.lines if (m := p.search(line))), None) for p in patterns
            ]
            if all(found):
                return [value for value in found if value is not None]
            if self.process.poll() is not None:
                time.sleep(0.2)  # let the reader thread catch the last lines
                pytest.fail(f"{self.name} exited with {self.process.returncode}:\n{self.output}")
            time.sleep(0.05)
        pytest.fail(f"{self.name} did not report ready within {START_TIMEOUT_SECONDS}s:\n{self.output}")

    def stop(self) -> None:
        """Ctrl-C, as a person ends `make dev`: to the process group this test started."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


@contextlib.contextmanager
def _started(name: str, command: Sequence[str], env: dict[str, str]) -> Iterator[Server]:
    process = subprocess.Popen(
        command,
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # so that stop() reaches make's child, the dev server, too
    )
    server = Server(name, process)
    try:
        yield server
    finally:
        server.stop()


def test_the_page_make_dev_prints_works_in_headless_chromium() -> None:
    node, _ = _tools()
    dev_port, legacy_port = _free_port(), _free_port()
    env = {**developer_env(), "PYTHONUNBUFFERED": "1"}
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    with _started("make dev", ["make", "--no-print-directory", "dev", f"ARGS=--port {dev_port}"], env) as dev:
        page_url, endpoint, stand_in = dev.wait_for(PAGE, SERVING, STAND_IN)
        page_origin = page_url.rstrip("/")
        legacy_server = [sys.executable, "-m", "local.dev_server", "--port", str(legacy_port)]
        legacy_options = ["--stub-token-type", "legacy", "--allowed-origins", page_origin]
        with _started("dev server (legacy tokens)", [*legacy_server, *legacy_options], env) as legacy:
            legacy_endpoint, legacy_stand_in = legacy.wait_for(SERVING, STAND_IN)
            node_env = {
                **os.environ,
                "PAGE_URL": page_url,
                "ENDPOINT_URL": endpoint,
                "ANAM_API_BASE_URL": stand_in,
                "LEGACY_ENDPOINT_URL": legacy_endpoint,
                "LEGACY_ANAM_API_BASE_URL": legacy_stand_in,
                "DOWN_ENDPOINT_URL": f"http://127.0.0.1:{_free_port()}/session-token",
                "PAGE_FILE": str(DIST / "index.html"),
                "PROMPT_MAX_CHARS": os.environ.get("PROMPT_MAX_CHARS", "4000"),
                "CALLER_SESSIONS_PER_HOUR": os.environ.get("CALLER_SESSIONS_PER_HOUR", "10"),
                # 1 once the backend sends maxSessionLengthSeconds and endHandle: their absence then fails.
                "EXPECT_SESSION_FIELDS": os.environ.get("EXPECT_SESSION_FIELDS", "0"),
                "CHROMIUM_PATH": CHROMIUM,
                "SCREENSHOT_DIR": str(SCREENSHOTS),
            }
            try:
                done = subprocess.run(
                    [node, "--test", "--test-reporter=spec", *NODE_TESTS],
                    cwd=WEB,
                    env=node_env,
                    capture_output=True,
                    text=True,
                    timeout=NODE_TEST_TIMEOUT_SECONDS,
                    check=False,
                )
            except subprocess.TimeoutExpired as timeout:
                pytest.fail(f"the browser test took over {NODE_TEST_TIMEOUT_SECONDS}s:\n{timeout.stdout!r}")
            if done.returncode != 0:
                pytest.fail(
                    f"the browser test failed ({done.returncode}); screenshots in {SCREENSHOTS}\n"
                    f"--- node --test ---\n{done.stdout}\n{done.stderr}\n"
                    f"--- {dev.name} ---\n{dev.output}\n"
                    f"--- {legacy.name} ---\n{legacy.output}"
                )
        # The page on a refused origin is in the dev server's log too, with what to change.
        dev.wait_for(REFUSED_ORIGIN)
    # Every case ran and passed: none skipped, none filtered out.
    assert re.search(rf"^\S* ?pass {CASES}$", done.stdout, re.MULTILINE), done.stdout
    assert re.search(r"^\S* ?skipped 0$", done.stdout, re.MULTILINE), done.stdout
