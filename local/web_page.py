"""The example page (examples/web/dist) as `make dev` serves it, wired to the endpoint and the stand-in.

The built index.html gets one element added, `<script type="application/json" id="page-config">`, which the
page reads at start-up (query parameters still win). So the page at http://127.0.0.1:3000/ needs no query
string: it knows the endpoint, the Anam stand-in's URL (which changes every run), that it runs offline, and
which named personas and variables the emulation seeded.
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from local.world import DEFAULT_PERSONAS_DIR, REPO_ROOT

DIST = REPO_ROOT / "examples" / "web" / "dist"
CONFIG_ELEMENT_ID = "page-config"

NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Example page not built</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 2rem auto">
<h1>The example page is not built</h1>
<p>The endpoint works: <code>POST /session-token</code>. The page needs Node.js 20 or later to build once:</p>
<pre>make web      # npm ci + esbuild into examples/web/dist</pre>
<p>then reload this page (no restart needed).</p>
</body></html>
"""


def page_config(
    endpoint: str,
    anam_api_base_url: str | None,
    personas: list[dict[str, Any]],
    turnstile_site_key: str | None,
) -> dict[str, Any]:
    """What the page needs to know; `anam_api_base_url` only offline (the SDK's default is the real Anam)."""
    config: dict[str, Any] = {"endpoint": endpoint, "offline": anam_api_base_url is not None}
    if anam_api_base_url:
        config["anamApiBaseUrl"] = anam_api_base_url
    if personas:
        config["personas"] = personas
    if turnstile_site_key:
        config["turnstileSiteKey"] = turnstile_site_key
    return config


def index_html(config: Mapping[str, Any], dist: Path = DIST) -> bytes:
    """The built index.html with `config` added, or a page saying how to build it."""
    try:
        html = (dist / "index.html").read_text(encoding="utf-8")
    except FileNotFoundError:
        return NOT_BUILT.encode()
    # "<" escaped so that no value can close the script element.
    payload = json.dumps(config).replace("<", "\\u003c")
    element = f'<script type="application/json" id="{CONFIG_ELEMENT_ID}">{payload}</script>\n'
    return html.replace("</head>", f"{element}</head>", 1).encode()


def static_file(name: str, dist: Path = DIST) -> tuple[str, bytes] | None:
    """A file directly in dist/ (its content type and bytes), or None: no sub-paths, nothing outside dist/."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        return None
    path = dist / name
    try:
        if not path.is_file():
            return None
    except OSError:
        return None  # a name the file system cannot hold (ENAMETOOLONG from 256 characters): no such file
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if content_type == "text/javascript":
        content_type = "text/javascript; charset=utf-8"
    return content_type, path.read_bytes()


def describe_personas(folder: Path = DEFAULT_PERSONAS_DIR) -> list[dict[str, Any]]:
    """The named personas seeded from `folder`, as the page's picker shows them: each name, whether it takes a
    prompt, and the variables a visitor may fill in (not those taken from the sign-in token's claims).

    Read with the function's own persona rules (so src/ must be importable: after `load_handler`)."""
    from token_vendor.domain.persona import parse_template
    from token_vendor.errors import TokenVendorError

    described = []
    for path in sorted(folder.glob("*.json")):
        try:
            template = parse_template(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TokenVendorError):
            continue  # the function reports a broken persona itself, as configuration_error
        rules = template.caller_input.variables or {}
        variables = {name: _form_field(rule) for name, rule in rules.items() if rule.claim is None}
        described.append(
            {
                "name": path.stem,
                "prompt": template.accepts_prompt and template.caller_input.accepts_prompt,
                "variables": variables,
            }
        )
    return described


def _form_field(rule: Any) -> dict[str, Any]:
    """What the page's input for a variable needs of its rule (a VariableRule)."""
    field: dict[str, Any] = {}
    if rule.max_chars is not None:
        field["maxChars"] = rule.max_chars
    if rule.enum is not None:
        field["enum"] = list(rule.enum)
    return field
