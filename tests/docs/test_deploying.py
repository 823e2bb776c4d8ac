"""docs/deploying.md answers every question the guided deploy asks: one per template parameter."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def template_parameters() -> list[str]:
    template = (REPO / "template.yaml").read_text(encoding="utf-8")
    section = re.search(r"^Parameters:\n(.*?)^\S", template, re.MULTILINE | re.DOTALL)
    assert section, "template.yaml has no Parameters section"
    return re.findall(r"^  ([A-Za-z0-9]+):$", section.group(1), re.MULTILINE)


def test_the_guided_deploy_table_says_what_to_answer_for_every_template_parameter() -> None:
    rows = [
        line
        for line in (REPO / "docs" / "deploying.md").read_text().splitlines()
        if line.startswith("| Parameter ")
    ]
    answered = {name for row in rows for name in re.findall(r"[A-Za-z0-9]+", row.split("|")[1])}

    assert template_parameters()
    assert [name for name in template_parameters() if name not in answered] == []
