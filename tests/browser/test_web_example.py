"""The example page (examples/web) in headless Chromium against the dev server in offline mode.

The browser side is examples/web/tests/e2e.test.mjs (node's test runner and playwright-core driving Debian's
chromium, with the real @anam-ai/js-sdk bundled into the page). This wrapper builds the bundle when needed,
starts two dev servers (one whose Anam stand-in issues normal tokens, one issuing legacy tokens) and a static
server for the page on its own origin, so CORS is exercised for real, then runs the node test.

Skipped when chromium or node is missing, unless REQUIRE_BROWSER=1 (CI), where that is a failure.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
WEB = REPO / "examples" / "web"
DIST = WEB / "dist"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
BUILD_INPUTS = ("main.js", "index.html", "build.mjs", "package.json", "package-lock.json")
START_TIMEOUT_SECONDS = 60
NODE_TEST_TIMEOUT_SECONDS = 300

SERVING = re.compile(r"Serving (http://127\.0\.0\.1:\d+/session-token)")
STAND_IN = re.compile(r"Offline Anam stand-in at (http://127\.0\.0\.1:\d+)")


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


def _run(command: Sequence[str], what: str) -> None:
    done = subprocess.run(command, cwd=WEB, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        pytest.fail(f"{what} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


def _build(npm: str) -> None:
    """`npm ci` when node_modules is missing or stale, `npm run build` when dist/ is older than its inputs."""
    lock, installed = WEB / "package-lock.json", WEB / "node_modules" / ".package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        _run([npm, "ci", "--no-audit", "--no-fund"], "npm ci in examples/web")
    bundle = DIST / "main.js"
    newest_input = max((WEB / name).stat().st_mtime for name in BUILD_INPUTS)
    if not bundle.exists() or not (DIST / "index.html").exists() or bundle.stat().st_mtime < newest_input:
        _run([npm, "run", "build"], "npm run build in examples/web")


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
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
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
    )
    server = Server(name, process)
    try:
        yield server
    finally:
        server.stop()


def _offline_env() -> dict[str, str]:
    """The environment for the dev servers: offline (no Anam key), unbuffered so readiness shows at once."""
    env = {k: v for k, v in os.environ.items() if k != "ANAM_API_KEY"}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _wait_until_serving(url: str, server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310
            if answer.status == 200:
                return
        if server.process.poll() is not None:
            pytest.fail(f"{server.name} exited with {server.process.returncode}:\n{server.output}")
        time.sleep(0.05)
    pytest.fail(f"{server.name} did not serve {url} within {START_TIMEOUT_SECONDS}s:\n{server.output}")


def test_web_example_in_headless_chromium(tmp_path: Path) -> None:
    node, npm = _tools()
    _build(npm)

    # The dev servers need a port named; their Anam stand-ins take any free one and say which.
    web_port, dev_port, legacy_port = (_free_port() for _ in range(3))
    web_origin = f"http://127.0.0.1:{web_port}"
    python = sys.executable
    env = _offline_env()
    dev_server = [python, "-m", "local.dev_server", "--allowed-origins", web_origin]
    with (
        _started(
            "static server",
            [python, "-m", "http.server", "--bind", "127.0.0.1", "--directory", str(DIST), str(web_port)],
            env,
        ) as static,
        _started(
            "dev server",
            [*dev_server, "--port", str(dev_port)],
            env,
        ) as dev,
        _started(
            "dev server (legacy tokens)",
            [*dev_server, "--port", str(legacy_port), "--stub-token-type", "legacy"],
            env,
        ) as legacy,
    ):
        endpoint, stand_in = dev.wait_for(SERVING, STAND_IN)
        legacy_endpoint, legacy_stand_in = legacy.wait_for(SERVING, STAND_IN)
        _wait_until_serving(f"{web_origin}/index.html", static)

        screenshots = tmp_path / "screenshots"
        node_env = {
            **os.environ,
            "WEB_URL": f"{web_origin}/index.html",
            "ENDPOINT_URL": endpoint,
            "ANAM_API_BASE_URL": stand_in,
            "LEGACY_ENDPOINT_URL": legacy_endpoint,
            "LEGACY_ANAM_API_BASE_URL": legacy_stand_in,
            "PROMPT_MAX_CHARS": os.environ.get("PROMPT_MAX_CHARS", "4000"),
            "CHROMIUM_PATH": CHROMIUM,
            "SCREENSHOT_DIR": str(screenshots),
        }
        try:
            done = subprocess.run(
                [node, "--test", "--test-reporter=spec", "tests/e2e.test.mjs"],
                cwd=WEB,
                env=node_env,
                capture_output=True,
                text=True,
                timeout=NODE_TEST_TIMEOUT_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired as timeout:
            pytest.fail(
                f"the browser test did not finish within {NODE_TEST_TIMEOUT_SECONDS}s:\n{timeout.stdout!r}"
            )

        if done.returncode != 0:
            pytest.fail(
                f"the browser test failed ({done.returncode}); screenshots in {screenshots}\n"
                f"--- node --test ---\n{done.stdout}\n{done.stderr}\n"
                f"--- {dev.name} ---\n{dev.output}\n"
                f"--- {legacy.name} ---\n{legacy.output}\n"
                f"--- {static.name} ---\n{static.output}"
            )
        # All four cases ran and passed: none skipped, none filtered out.
        assert re.search(r"^\S* ?pass 4$", done.stdout, re.MULTILINE), done.stdout
        assert re.search(r"^\S* ?skipped 0$", done.stdout, re.MULTILINE), done.stdout
