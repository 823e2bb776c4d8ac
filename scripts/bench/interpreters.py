"""The interpreters the figures run under, the package copies they load, and the machine's description."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
BUILD_DIR = ROOT / ".aws-sam" / "build"
FUNCTION_DIR = BUILD_DIR / "TokenVendorFunction"
RUNTIME_PYTHON = ROOT / ".venv-py313-runtime" / "bin" / "python"  # created by tests/package (boto3 only)


@dataclass(frozen=True)
class Interpreter:
    label: str
    python: Path
    sys_path: tuple[Path, ...]  # put first on sys.path, as Lambda puts /var/task
    flags: tuple[str, ...]
    note: str
    version: str = ""
    boto3: str = ""
    warm: bool = True  # figures 3-5 too, not only the cold ones


def interpreters(stack: ExitStack, only: str | None) -> list[Interpreter]:
    chosen = []
    if only in (None, "dev"):
        chosen.append(
            Interpreter(
                "dev",
                Path(sys.executable),
                (SRC,),
                ("-I",),
                "the dev venv's Python, token_vendor from src/, dependencies from .venv (bytecode cached)",
            )
        )
    if only in (None, "lambda"):
        chosen += _lambda_interpreters(stack)
    return [_with_version(i) for i in chosen]


def _lambda_interpreters(stack: ExitStack) -> list[Interpreter]:
    """python3.13 on the package as deployed, and (cold figures only) on it without its bytecode."""
    if not RUNTIME_PYTHON.exists():
        print(f"(no {RUNTIME_PYTHON.relative_to(ROOT)}: `make test` creates it; skipping python3.13)")
        return []
    if not FUNCTION_DIR.is_dir():
        print("(no `sam build` output: run `make build`; skipping python3.13)")
        return []
    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-package-")))
    source_only, compiled = workdir / "task-src", workdir / "task"
    # The function's code is taken from src/, which is what the build holds when it is fresh.
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(
        FUNCTION_DIR, source_only, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "token_vendor")
    )
    shutil.copytree(SRC / "token_vendor", source_only / "token_vendor", ignore=ignore)
    shutil.copytree(source_only, compiled)
    # What scripts/sam.sh build adds after `sam build`: unchecked-hash bytecode, usable whatever the zip's
    # timestamps.
    command = [str(RUNTIME_PYTHON), "-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash"]
    subprocess.run([*command, str(compiled)], check=True, capture_output=True)
    note = "python3.13 with boto3 only, the package as `make build` ships it (with bytecode)"
    if build_is_stale():
        note += "; the build is older than src/, so token_vendor comes from src/"
    return [
        Interpreter("lambda", RUNTIME_PYTHON, (compiled,), ("-I", "-B"), note),
        Interpreter(
            "lambda-src",
            RUNTIME_PYTHON,
            (source_only,),
            ("-I", "-B"),
            "the same without bytecode: each module compiled from source at every cold start",
            warm=False,
        ),
    ]


def build_is_stale() -> bool:
    built = BUILD_DIR / "template.yaml"
    sources = [ROOT / "template.yaml", SRC / "requirements.txt", *SRC.rglob("*.py")]
    return not built.exists() or any(path.stat().st_mtime > built.stat().st_mtime for path in sources)


def _with_version(interpreter: Interpreter) -> Interpreter:
    code = "import sys, boto3; print(sys.version.split()[0], boto3.__version__)"
    answer = subprocess.run([str(interpreter.python), "-I", "-c", code], capture_output=True, text=True)
    python, _, boto3_version = answer.stdout.strip().partition(" ")
    return Interpreter(**{**interpreter.__dict__, "version": python, "boto3": boto3_version})


def machine(interpreters: list[Interpreter]) -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    pythons = "".join(
        f"\n  {i.label}: Python {i.version}, boto3 {i.boto3} ({i.python})" for i in interpreters
    )
    return (
        f"Machine: {cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()} "
        f"{platform.machine()}; load average {load}\nInterpreters:{pythons}"
    )
