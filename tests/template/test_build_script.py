"""scripts/sam.sh build ships bytecode however it builds: Lambda's /var/task is read-only, so a package
without .pyc files compiles every module from source at every cold start (docs/benchmarks.md)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FAKE_SAM = """#!/bin/sh
mkdir -p .aws-sam/build/TokenVendorFunction/token_vendor
echo 'x = 1' > .aws-sam/build/TokenVendorFunction/token_vendor/handler.py
"""
FAKE_DOCKER = """#!/bin/sh
echo "$@" > "$(dirname "$0")/docker-args"
"""


def executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


def test_a_container_build_on_a_machine_without_python313_compiles_the_bytecode_in_lambdas_image(tmp_path):
    root, bin_dir = tmp_path / "repo", tmp_path / "bin"
    (root / "scripts").mkdir(parents=True)
    bin_dir.mkdir()
    for script in ("sam.sh", "tool-venv.sh"):
        shutil.copy(REPO / "scripts" / script, root / "scripts" / script)
    version = re.search(r'SAM_CLI_VERSION="([^"]+)"', (REPO / "scripts" / "sam.sh").read_text())
    assert version
    (root / ".venv-sam" / "bin").mkdir(parents=True)
    (root / ".venv-sam" / ".installed-requirement").write_text(f"aws-sam-cli=={version.group(1)}\n")
    executable(root / ".venv-sam" / "bin" / "sam", FAKE_SAM)
    executable(bin_dir / "docker", FAKE_DOCKER)
    # A PATH with the few tools the script uses, and neither python3.13 nor pyenv: only the container has one.
    for tool in ("bash", "cat", "chmod", "dirname", "id", "mkdir", "rm"):
        (bin_dir / tool).symlink_to(shutil.which(tool) or tool)

    result = subprocess.run(
        [shutil.which("bash") or "bash", str(root / "scripts" / "sam.sh"), "build", "--use-container"],
        env={"PATH": str(bin_dir), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    docker = (bin_dir / "docker-args").read_text().split()
    assert docker[:2] == ["run", "--rm"]
    assert f"{root}/.aws-sam/build:/build" in docker
    assert "public.ecr.aws/lambda/python:3.13" in docker
    assert docker[docker.index("-m") :][:2] == ["-m", "compileall"]
    assert "unchecked-hash" in docker
    assert docker[-1] == "/build"
