"""Running `python -m local.dev_server` and `python -m local.invoke` as a developer would, in a subprocess."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_SECONDS = 60
SERVING = re.compile(r"^Serving (http://127\.0\.0\.1:\d+)/session-token$")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def developer_env() -> dict[str, str]:
    """The caller's environment without anything that would change the set-up (an Anam key, AWS settings)."""
    prefixes = ("ANAM_", "AWS_", "POWERTOOLS_", "ALLOWED_ORIGINS", "PERSONA_")
    return {name: value for name, value in os.environ.items() if not name.startswith(prefixes)}


def run_module(
    module: str, *args: str, timeout: float = START_TIMEOUT_SECONDS
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=REPO,
        env=developer_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class DevServer:
    """`python -m local.dev_server` in the background, its output collected line by line."""

    def __init__(self, *args: str, env: dict[str, str] | None = None, sigint_ignored: bool = False) -> None:
        """`sigint_ignored`: started as from a background shell or `nohup`, which hand it SIGINT ignored."""
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "local.dev_server", "--port", str(self.port), *args],
            cwd=REPO,
            env={**developer_env(), **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=_ignore_sigint if sigint_ignored else None,
        )
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._changed = threading.Condition()
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        self._readers = [
            threading.Thread(target=self._collect, args=(stream, lines), daemon=True)
            for stream, lines in ((self.process.stdout, self.stdout), (self.process.stderr, self.stderr))
        ]
        for reader in self._readers:
            reader.start()

    def _collect(self, stream: IO[str], lines: list[str]) -> None:
        for line in stream:
            with self._changed:
                lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for_line(
        self, pattern: re.Pattern[str], timeout: float = START_TIMEOUT_SECONDS
    ) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.stdout:
                    match = pattern.search(line)
                    if match:
                        return match
                if self.process.poll() is not None and not any(r.is_alive() for r in self._readers):
                    raise AssertionError(f"dev server exited {self.process.returncode}: {self.stderr[-20:]}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no line matching {pattern.pattern!r} in {self.stdout[-20:]}")
                self._changed.wait(remaining)

    def wait_until_serving(self) -> str:
        """The server's base URL, once it prints its Serving line."""
        return self.wait_for_line(SERVING).group(1)

    def stop(self, signum: int = signal.SIGINT, timeout: float = 20) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise
        for reader in self._readers:
            reader.join(timeout=5)
        return code
