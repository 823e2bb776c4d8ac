"""The example page as `make dev` serves it (local/web_page.py): told its set-up, and nothing else served."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from local import web_page

BUILT_HEAD = (
    '<!doctype html><html><head><title>x</title></head><body><script src="./main.js"></script></body>'
)


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    (tmp_path / "index.html").write_text(BUILT_HEAD)
    (tmp_path / "main.js").write_text("console.log('page');")
    return tmp_path


def served_config(html: bytes) -> dict[str, object]:
    match = re.search(rb'<script type="application/json" id="page-config">(.*?)</script>\n</head>', html)
    assert match, html
    config: dict[str, object] = json.loads(match.group(1))
    return config


def test_offline_the_page_is_told_the_endpoint_and_the_stand_in(dist: Path) -> None:
    config = web_page.page_config("http://127.0.0.1:3000/session-token", "http://127.0.0.1:4567", [], None)

    served = served_config(web_page.index_html(config, dist))

    assert served == {
        "endpoint": "http://127.0.0.1:3000/session-token",
        "offline": True,
        "anamApiBaseUrl": "http://127.0.0.1:4567",
    }


def test_with_a_real_anam_key_the_page_is_not_sent_to_a_stand_in(dist: Path) -> None:
    config = web_page.page_config("http://127.0.0.1:3000/session-token", None, [], None)

    assert served_config(web_page.index_html(config, dist)) == {
        "endpoint": "http://127.0.0.1:3000/session-token",
        "offline": False,
    }


def test_no_configured_value_can_close_the_config_element(dist: Path) -> None:
    config = web_page.page_config("http://x/</script><script>alert(1)</script>", None, [], None)

    html = web_page.index_html(config, dist)

    assert html.count(b"</script>") == BUILT_HEAD.count("</script>") + 1
    assert served_config(html)["endpoint"] == "http://x/</script><script>alert(1)</script>"


def test_an_unbuilt_page_says_how_to_build_it(tmp_path: Path) -> None:
    html = web_page.index_html({}, tmp_path)

    assert b"make web" in html


def test_the_built_files_are_served_with_their_type(dist: Path) -> None:
    assert web_page.static_file("main.js", dist) == (
        "text/javascript; charset=utf-8",
        b"console.log('page');",
    )


@pytest.mark.parametrize("name", ["", "../main.js", "sub/main.js", ".hidden", "missing.js", "..\\main.js"])
def test_nothing_outside_the_built_files_is_served(dist: Path, name: str) -> None:
    (dist / ".hidden").write_text("x")

    assert web_page.static_file(name, dist) is None


@pytest.mark.parametrize("length", [256, 1000])
def test_a_name_too_long_for_the_file_system_is_no_file(dist: Path, length: int) -> None:
    # The lookup fails with ENAMETOOLONG, not "no such file": it must still mean "not one of the files".
    assert web_page.static_file("a" * length, dist) is None


def test_the_persona_picker_lists_the_variables_a_visitor_may_fill_in(tmp_path: Path) -> None:
    (tmp_path / "sales.json").write_text(
        json.dumps(
            {
                "personaConfig": {"avatarId": "a", "systemPrompt": "Hi {{firstName}} {{email}} {{page}}"},
                "callerInput": {
                    "prompt": False,
                    "variables": {
                        "firstName": {"maxChars": 40, "pattern": "^[a-z]*$"},
                        "page": {"enum": ["pricing", "docs"]},
                        "email": {"claim": "email"},
                    },
                },
            }
        )
    )
    (tmp_path / "support.json").write_text(json.dumps({"avatarId": "a"}))

    assert web_page.describe_personas(tmp_path) == [
        {
            "name": "sales",
            "prompt": False,
            "variables": {"firstName": {"maxChars": 40}, "page": {"enum": ["pricing", "docs"]}},
        },
        {"name": "support", "prompt": True, "variables": {}},
    ]
