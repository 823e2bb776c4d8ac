"""The fresh processes: child.py started under an interpreter, and measures taking turns."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scripts.bench.interpreters import Interpreter
from scripts.bench.stand import Stand

# Started as a script, not as a module of this package: nothing but what it imports itself is loaded.
CHILD = Path(__file__).with_name("child.py")


class Child:
    """child.py running in `mode`: its results arrive one JSON line at a time on a control pipe."""

    def __init__(self, stand: Stand, interpreter: Interpreter, mode: str, event: Any = None) -> None:
        read_fd, write_fd = os.pipe()
        command = [str(interpreter.python), *interpreter.flags, str(CHILD), mode]
        command += [os.pathsep.join(map(str, interpreter.sys_path)), str(write_fd)]
        if event is not None:
            command.append(json.dumps(event))
        # The handler's log lines, read back on failure only; closed in close().
        self._log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115
        self.process = subprocess.Popen(
            command,
            env=stand.environ,
            cwd=tempfile.gettempdir(),
            stdin=subprocess.PIPE,
            stdout=self._log,
            stderr=self._log,
            pass_fds=(write_fd,),
            text=True,
        )
        os.close(write_fd)
        self._control = os.fdopen(read_fd, "r")

    def read(self) -> dict[str, Any]:
        line = self._control.readline()
        if not line:
            self.process.wait(timeout=60)
            self._log.seek(0)
            output = self._log.read()[-3000:]
            raise SystemExit(f"bench: the child process failed (exit {self.process.returncode}):\n{output}")
        result: dict[str, Any] = json.loads(line)
        return result

    def send(self, message: object) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()

    def close(self) -> None:
        self.process.wait(timeout=60)
        self._control.close()
        self._log.close()


def one(stand: Stand, interpreter: Interpreter, mode: str, event: Any = None) -> dict[str, Any]:
    """Run the child in `mode` and return its one result."""
    child = Child(stand, interpreter, mode, event)
    try:
        return child.read()
    finally:
        child.close()


def alternating(runs: int, *measures: Callable[[], float]) -> list[list[float]]:
    """Each measure `runs` times, taking turns, so that a noisy moment does not land on one side only."""
    for measure in measures:
        measure()  # once unrecorded: the OS file cache and the dev venv's bytecode cache get filled
    samples: list[list[float]] = [[] for _ in measures]
    for run in range(runs):
        order = list(enumerate(measures))
        if run % 2:
            order.reverse()
        for index, measure in order:
            samples[index].append(measure())
    return samples
