"""`make dev` serves named personas (docs/contract.md §4): each local/personas/<name>.json, stored under
/anam/personas as an operator would store it, with the function told where to find them."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from local.moto_server import aws_client
from local.world import DEFAULT_PERSONAS_DIR, Emulation, EmulationError, EmulationOptions, start
from token_vendor.domain.persona import parse_template

EXAMPLES = sorted(DEFAULT_PERSONAS_DIR.glob("*.json"))


def start_with(
    running: list[Emulation], environ: dict[str, str], personas_dir: Path = DEFAULT_PERSONAS_DIR
) -> Emulation:
    emulation = start(EmulationOptions(spend_guard=False, personas_dir=personas_dir), environ, io.StringIO())
    running.append(emulation)
    return emulation


def test_the_example_personas_are_valid_and_show_each_kind_of_caller_input() -> None:
    templates = {path.stem: parse_template(json.loads(path.read_text(encoding="utf-8"))) for path in EXAMPLES}

    assert set(templates) == {"sales", "support", "tutor-fr"}
    rules = [rule for t in templates.values() for rule in (t.caller_input.variables or {}).values()]
    assert any(rule.claim for rule in rules), "a variable from the signed-in caller's claims"
    assert any(rule.enum for rule in rules)
    assert any(rule.pattern for rule in rules)
    assert not templates["support"].caller_input.accepts_prompt


def test_each_example_persona_is_stored_under_the_personas_path(running: list[Emulation]) -> None:
    environ: dict[str, str] = {}
    emulation = start_with(running, environ)
    assert emulation.moto is not None

    ssm = aws_client("ssm", emulation.moto.url)
    stored = ssm.get_parameters_by_path(Path="/anam/personas", WithDecryption=True)["Parameters"]

    assert environ["PERSONAS_PARAMETER_PATH"] == "/anam/personas"
    assert {p["Name"]: p["Value"] for p in stored} == {
        f"/anam/personas/{path.stem}": path.read_text(encoding="utf-8") for path in EXAMPLES
    }
    assert {p["Type"] for p in stored} == {"SecureString"}


def test_an_empty_folder_leaves_named_personas_off(running: list[Emulation], tmp_path: Path) -> None:
    environ: dict[str, str] = {}
    start_with(running, environ, personas_dir=tmp_path)
    assert "PERSONAS_PARAMETER_PATH" not in environ


def test_a_persona_file_that_is_not_json_stops_the_start_and_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")

    with pytest.raises(EmulationError, match=r"broken\.json"):
        start(EmulationOptions(spend_guard=False, personas_dir=tmp_path), {}, io.StringIO())
