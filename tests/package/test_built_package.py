"""The `sam build` output runs on what the python3.13 Lambda runtime provides, and nothing else.

The function's Handler, code directory and timeout are read from the built template
(.aws-sam/build/template.yaml), its environment from SAM's transform of template.yaml with the parameters at
their defaults (so the spend guard is on, against a table in moto). The built package runs in a separate
python3.13 process that has only boto3 besides the package (a venv cached in .venv-py313-runtime/), against
moto and the Anam stand-in on 127.0.0.1.
So a wrong handler path, a dependency missing from src/requirements.txt, code that needs another Python than
3.13, or an environment variable the template sets in a form the function refuses fails here, not in AWS.

The package is built for arm64 and this machine may not be: its compiled modules (charset_normalizer's) cannot
load here and their pure-Python fallbacks run instead. `test_compiled_modules_are_built_for_arm64` checks that
they are the ones Lambda's arm64 hosts load.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from local.http_api_event import http_api_event, http_response
from local.moto_server import MotoServer, create_quota_table
from local.standins.anam import AnamStub
from tests.conftest import PARAMETER_NAME, SECRET_ID, reset_aws
from tests.template.deployed import Deployed

pytestmark = pytest.mark.build

ROOT = Path(__file__).resolve().parents[2]
BUILD_DIR = ROOT / ".aws-sam" / "build"
BUILT_TEMPLATE = BUILD_DIR / "template.yaml"
FUNCTION_ID = "TokenVendorFunction"
QUOTA_TABLE = "anam-token-vendor-quota"
ORIGIN = "https://app.example.com"

RUNTIME_VENV = ROOT / ".venv-py313-runtime"
# Close to what the python3.13 runtime ships (Lambda updates it every few months, a little behind PyPI; a
# function that prints boto3.__version__ shows the current one). Older than requirements-dev.txt's pin on
# purpose: code that needs a newer boto3 than Lambda's fails here.
RUNTIME_BOTO3 = "1.43.80"  # botocore is pinned to the same version, as the runtime pairs them

EM_AARCH64 = 183  # ELF e_machine of 64-bit ARM

# Runs in the python3.13 runtime venv: the built package first on sys.path, as Lambda puts /var/task.
INVOKE = r"""
import importlib, json, sys, time, uuid

package_dir, handler_path, timeout, events_file, out_file = sys.argv[1:6]
sys.path.insert(0, package_dir)
module_name, _, function_name = handler_path.rpartition(".")
handler = getattr(importlib.import_module(module_name), function_name)


class Context:
    function_name = "anam-token-vendor"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:anam-token-vendor"
    log_group_name = "/aws/lambda/anam-token-vendor"
    log_stream_name = "build-test"

    def __init__(self):
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + float(timeout)

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))


with open(events_file) as f:
    events = json.load(f)
results = [handler(event, Context()) for event in events]
origins = {name: getattr(sys.modules.get(name), "__file__", None) for name in
           ("token_vendor", "aws_lambda_powertools", "requests", "boto3", "botocore")}
with open(out_file, "w") as f:
    json.dump({"results": results, "origins": origins, "python": list(sys.version_info[:2])}, f)
"""


@dataclass(frozen=True)
class BuiltFunction:
    package_dir: Path
    handler: str
    timeout: int
    environment: dict[str, str]


@dataclass(frozen=True)
class Run:
    results: list[Any]
    origins: dict[str, str | None]
    python: list[int]
    anam_paths: list[str]
    log: str


@pytest.fixture(scope="module")
def built() -> BuiltFunction:
    if not BUILT_TEMPLATE.is_file():
        pytest.fail(f"No `sam build` output at {BUILD_DIR.relative_to(ROOT)}: run `make build` first.")
    # What the Makefile's build target depends on.
    sources = [ROOT / "template.yaml", ROOT / "src" / "requirements.txt", *(ROOT / "src").rglob("*.py")]
    stale = [p for p in sources if p.stat().st_mtime > BUILT_TEMPLATE.stat().st_mtime]
    if stale:
        pytest.fail(f"The build is older than {stale[0].relative_to(ROOT)}: run `make build` again.")
    template = yaml.safe_load(BUILT_TEMPLATE.read_text())
    function = template["Resources"].get(FUNCTION_ID)
    if function is None:
        pytest.fail(f"The built template has no {FUNCTION_ID}")
    properties = function["Properties"]
    # The environment as a deployment with the parameters at their defaults sets it (the guard on).
    deployed = Deployed().properties(FUNCTION_ID)["Environment"]["Variables"]
    return BuiltFunction(
        package_dir=BUILD_DIR / properties["CodeUri"],
        handler=properties["Handler"],
        timeout=int(properties["Timeout"]),
        environment={name: str(value) for name, value in deployed.items()},
    )


@pytest.fixture(scope="module")
def runtime_python() -> Path:
    """python3.13 with boto3 and nothing else, like the Lambda runtime; created once, then reused."""
    python = RUNTIME_VENV / "bin" / "python"
    marker = RUNTIME_VENV / ".boto3-version"
    if not (python.exists() and marker.is_file() and marker.read_text().strip() == RUNTIME_BOTO3):
        shutil.rmtree(RUNTIME_VENV, ignore_errors=True)
        _run([_python313(), "-m", "venv", str(RUNTIME_VENV)], check=True)
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        _run([*pip, f"boto3=={RUNTIME_BOTO3}", f"botocore=={RUNTIME_BOTO3}"], check=True)
        marker.write_text(RUNTIME_BOTO3 + "\n")
    return python


def _python313() -> str:
    candidate = shutil.which("python3.13")
    if candidate and _is_python313(candidate):
        return candidate
    pyenv = shutil.which("pyenv")
    if pyenv:
        listed = _run([pyenv, "versions", "--bare"]).stdout.split()
        versions = [v for v in listed if re.fullmatch(r"3\.13(\.\d+)?", v)]
        for version in sorted(versions, key=lambda v: [int(part) for part in v.split(".")], reverse=True):
            found = _run([pyenv, "which", "python3.13"], env={**os.environ, "PYENV_VERSION": version}).stdout
            if found.strip() and _is_python313(found.strip()):
                return found.strip()
    pytest.fail("No python3.13 found (the function's runtime): `pyenv install 3.13`, or install python3.13.")


def _is_python313(python: str) -> bool:
    return _run([python, "-c", "import sys; sys.exit(sys.version_info[:2] != (3, 13))"]).returncode == 0


def _run(command: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    # Only our own interpreters and pyenv, with arguments written here.
    return subprocess.run(command, capture_output=True, text=True, **kwargs)


Invoke = Callable[..., Run]


@pytest.fixture(scope="module")
def invoke(
    built: BuiltFunction,
    runtime_python: Path,
    moto_server: MotoServer,
    anam_stub: AnamStub,
    tmp_path_factory: pytest.TempPathFactory,
) -> Invoke:
    """`invoke(events, **env)`: a fresh execution environment of the built package handles `events` in turn,
    with the template's environment (parameters at their defaults) pointed at the stand-ins, plus `env`."""

    def invoke(events: list[Any], **extra_env: str) -> Run:
        reset_aws(moto_server)
        quota_table = create_quota_table(moto_server.url, QUOTA_TABLE)
        anam_stub.reset()
        workdir = tmp_path_factory.mktemp("invoke")
        events_file, out_file = workdir / "events.json", workdir / "results.json"
        events_file.write_text(json.dumps(events))
        env = {
            **built.environment,
            "ANAM_API_KEY_SECRET_ID": SECRET_ID,
            "PERSONA_PARAMETER_NAME": PARAMETER_NAME,
            "ANAM_API_BASE_URL": anam_stub.url,
            "ALLOWED_ORIGINS": ORIGIN,
            "QUOTA_TABLE_NAME": quota_table,
            **extra_env,
            # What Lambda sets, and AWS pointed at moto with dummy credentials; no AWS config of this machine.
            "LAMBDA_TASK_ROOT": str(built.package_dir),
            "AWS_LAMBDA_FUNCTION_NAME": "anam-token-vendor",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": moto_server.url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "LANG": "C.UTF-8",
            "TZ": "UTC",
        }
        command = [str(runtime_python), "-I", "-c", INVOKE, str(built.package_dir), built.handler]
        command += [str(built.timeout), str(events_file), str(out_file)]
        process = _run(command, env=env, cwd=workdir, timeout=120)
        if process.returncode != 0:
            pytest.fail(f"The built function failed under python3.13:\n{process.stderr}\n{process.stdout}")
        result = json.loads(out_file.read_text())
        paths = [request.path for request in anam_stub.requests]
        return Run(result["results"], result["origins"], result["python"], paths, process.stdout)

    return invoke


def _post_event() -> dict[str, Any]:
    return http_api_event(
        "POST",
        headers={"origin": ORIGIN, "content-type": "application/json"},
        body=json.dumps({"prompt": "The visitor is on the pricing page."}),
    )


@pytest.fixture(scope="module")
def run(invoke: Invoke) -> Run:
    """A warm-up, then a POST, in one execution environment, as the schedule and a browser would."""
    return invoke([{"warmup": True}, _post_event()])


def test_the_package_runs_under_python_3_13(run: Run):
    assert run.python == [3, 13]


def test_a_warm_up_loads_the_configuration_without_minting_a_token(run: Run):
    assert run.results[0] == {"warmed": True}
    assert run.anam_paths.count("/v1/auth/session-token") == 1  # the POST's, not the warm-up's


def test_a_post_returns_a_session_token(run: Run):
    response = http_response(run.results[1])
    assert response.status == 200
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    token = json.loads(response.body)["sessionToken"]
    assert AnamStub.claims_of(token)["type"] == "ephemeral"


def test_everything_but_boto3_comes_from_the_package(run: Run, built: BuiltFunction):
    for module in ("token_vendor", "aws_lambda_powertools", "requests"):
        assert (run.origins[module] or "").startswith(str(built.package_dir)), module
    for module in ("boto3", "botocore"):
        assert (run.origins[module] or "").startswith(str(RUNTIME_VENV)), module


def test_the_package_does_not_bundle_what_the_runtime_provides(built: BuiltFunction):
    bundled = {path.name.split("-")[0].lower() for path in built.package_dir.iterdir()}
    assert not bundled & {"boto3", "botocore", "s3transfer"}


def test_compiled_modules_are_built_for_arm64(built: BuiltFunction):
    for library in built.package_dir.rglob("*.so"):
        with library.open("rb") as f:
            header = f.read(20)
        machine = int.from_bytes(header[18:20], "little" if header[5] == 1 else "big")  # EI_DATA
        assert machine == EM_AARCH64, f"{library.relative_to(built.package_dir)} is not an arm64 library"


def test_trace_subsegments_without_the_x_ray_layer_still_serve_tokens(invoke: Invoke):
    # The package does not bundle the X-Ray SDK (template.yaml attaches Powertools' layer for it): without it,
    # the function says so in its log and carries on.
    run = invoke([_post_event()], TRACE_SUBSEGMENTS="true")
    assert http_response(run.results[0]).status == 200
    assert "X-Ray SDK is missing" in run.log
