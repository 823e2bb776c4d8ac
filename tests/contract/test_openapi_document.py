"""docs/openapi.yaml and the code name the same answers: each error code with the status the code gives it,
the edge's refusal on every method of every real path, and a catch-all that overlaps no real path."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from token_vendor.errors import ERRORS, ErrorCode

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"


def document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(DOCUMENT.read_text(encoding="utf-8"))
    return loaded


def resolve(node: Any, root: dict[str, Any]) -> Any:
    """`node`, or what its local `$ref` points to."""
    while isinstance(node, dict) and "$ref" in node:
        target: Any = root
        for part in str(node["$ref"]).removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def codes_in(schema: Any, root: dict[str, Any]) -> Iterator[str]:
    """Every value the schema allows for the error's `code` property."""
    schema = resolve(schema, root)
    if not isinstance(schema, dict):
        return
    code = schema.get("properties", {}).get("code", {})
    yield from code.get("enum", [])
    if "const" in code:
        yield code["const"]
    for combinator in ("allOf", "oneOf", "anyOf"):
        for part in schema.get(combinator, []):
            yield from codes_in(part, root)


def documented_statuses() -> dict[str, set[int]]:
    root = document()
    statuses: dict[str, set[int]] = {}
    for operations in root["paths"].values():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            for status, response in operation["responses"].items():
                content = resolve(response, root).get("content", {})
                for media in content.values():
                    for code in codes_in(media["schema"], root):
                        statuses.setdefault(code, set()).add(int(status))
    return statuses


@pytest.mark.parametrize("code", list(ErrorCode))
def test_every_error_code_is_documented_with_the_status_it_answers_with(code: ErrorCode) -> None:
    assert documented_statuses().get(str(code)) == {ERRORS[code].status}


def test_the_document_names_no_code_the_function_does_not_have() -> None:
    assert set(documented_statuses()) <= {str(code) for code in ErrorCode}


def real_paths(root: dict[str, Any]) -> list[str]:
    return [path for path in root["paths"] if "{" not in path]


def templated_paths(root: dict[str, Any]) -> list[str]:
    return [path for path in root["paths"] if "{" in path]


def test_no_templated_path_matches_a_real_one() -> None:
    root = document()
    overlapping = [
        (template, path)
        for template in templated_paths(root)
        for path in real_paths(root)
        if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", template), path)
    ]

    assert real_paths(root)
    assert templated_paths(root)
    assert overlapping == []


def test_every_method_of_every_real_path_documents_the_edges_refusal() -> None:
    root = document()
    missing = [
        f"{method.upper()} {path}"
        for path in real_paths(root)
        for method, operation in root["paths"][path].items()
        if method != "parameters" and "direct_access_refused" not in refusals(operation, root)
    ]

    assert missing == []


def refusals(operation: dict[str, Any], root: dict[str, Any]) -> set[str]:
    """The error codes the operation documents under 403."""
    response = resolve(operation["responses"].get("403", {}), root)
    return {
        code for media in response.get("content", {}).values() for code in codes_in(media["schema"], root)
    }
