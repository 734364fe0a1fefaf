"""The documentation: the MkDocs site builds with --strict (every page in the nav, every link and anchor found)
offline and loads nothing from another host; the README stays a short front door whose links all resolve, which
still carries the two commands exactly as the quickstart does, and whose Python example runs against a real
server; and no page names a machine path of where it was written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

from tests.support.fake_openai import default_tokens
from tests.support.server import ROOT, ServerProcess

README = ROOT / "README.md"
DOCS = ROOT / "docs"
README_LIMIT = 10 * 1024
RUN_COMMAND = "```sh\nscripts/run.sh\n```"
TEST_COMMAND = "```sh\nscripts/test.sh\n```"
EXAMPLE_URL = "http://127.0.0.1:8000/graphql"

FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
# [text](target) and ![alt](target), with an optional "title"; autolinks (<https://...>) are absolute anyway.
LINK = re.compile(r"!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
# What a page served from this site may pull in: any src, a <link href>, or a CSS url()/@import.
RESOURCE = re.compile(
    r"""<(?:script|img|iframe|source|audio|video)\b[^>]*\bsrc=["']([^"']+)["']"""
    r"""|<link\b[^>]*\bhref=["']([^"']+)["']"""
    r"""|url\(\s*["']?([^"')]+)["']?\s*\)"""
    r"""|@import\s+["']([^"']+)["']""",
    re.IGNORECASE,
)


def prose(markdown: str) -> str:
    """The text of a Markdown page without its code, where brackets and hashes are not links or headings."""
    return INLINE_CODE.sub("", FENCE.sub("", markdown))


def slug(heading: str) -> str:
    """The anchor GitHub (and Python-Markdown's toc) gives a heading: lower case, punctuation dropped, spaces to -."""
    text = re.sub(r"`([^`]*)`", r"\1", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    return {slug(h) for h in HEADING.findall(FENCE.sub("", page.read_text(encoding="utf-8")))}


def is_external(target: str) -> bool:
    parts = urlsplit(target)
    return bool(parts.scheme or parts.netloc)


def test_the_site_builds_strict_and_offline_and_loads_nothing_from_elsewhere(tmp_path: Path) -> None:
    site = tmp_path / "site"
    # Any network use would go to a closed port and fail the build.
    dead = "http://127.0.0.1:9"
    env = {**os.environ, "HTTP_PROXY": dead, "HTTPS_PROXY": dead, "http_proxy": dead, "https_proxy": dead}
    env.update({"NO_PROXY": "", "no_proxy": "", "NO_MKDOCS_2_WARNING": "1"})
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(ROOT / "mkdocs.yml")]
    built = subprocess.run(
        [*command, "--site-dir", str(site)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-6000:]
    assert (site / "index.html").is_file()
    assert (site / "search" / "search_index.json").is_file()
    # The files others link to from the repository travel with the site.
    for kept in ("deploy/nginx.conf", "deploy/Caddyfile", "chat-streaming.png"):
        assert (site / kept).is_file(), kept

    foreign: list[str] = []
    for path in site.rglob("*"):
        if path.suffix not in {".html", ".css", ".js"}:
            continue
        for match in RESOURCE.finditer(path.read_text(encoding="utf-8", errors="replace")):
            target = next(g for g in match.groups() if g is not None)
            if is_external(target) and not target.startswith("data:"):  # "//host/..." has a netloc: external
                foreign.append(f"{path.relative_to(site)}: {target}")
    assert foreign == [], "\n".join(foreign[:20])


def test_the_readme_is_a_short_front_door() -> None:
    size = len(README.read_bytes())
    assert size < README_LIMIT, f"README.md is {size} bytes; move the detail into docs/"


def test_the_readme_keeps_the_two_commands_as_the_quickstart_has_them() -> None:
    readme = README.read_text(encoding="utf-8")
    assert RUN_COMMAND in readme
    assert TEST_COMMAND in readme
    # The whole section, with what the commands need and where their arguments go, says the same in both places.
    section = re.search(r"^## Two commands\n.*?(?=^## )", readme, re.MULTILINE | re.DOTALL)
    assert section is not None
    assert RUN_COMMAND in section.group(0) and TEST_COMMAND in section.group(0)
    quickstart = (DOCS / "quickstart.md").read_text(encoding="utf-8")
    for block in section.group(0).strip().split("\n\n"):
        if "](docs/" not in block:  # a pointer into the site is the README's own
            assert block in quickstart, block


def test_every_relative_link_in_the_readme_resolves() -> None:
    readme = README.read_text(encoding="utf-8")
    targets = LINK.findall(prose(readme))
    assert any(t.startswith("docs/") and t.endswith(".md") for t in targets), "the README links into the docs"
    broken: list[str] = []
    for target in targets:
        if is_external(target) or target.startswith("mailto:"):
            continue
        parts = urlsplit(target)
        page = README if not parts.path else (ROOT / unquote(parts.path)).resolve()
        if not page.is_relative_to(ROOT) or not page.exists():
            broken.append(f"{target}: no such file")
        elif parts.fragment and (page.suffix != ".md" or parts.fragment not in anchors(page)):
            broken.append(f"{target}: no heading #{parts.fragment}")
    assert broken == [], broken
    for page in DOCS.glob("*.md"):
        assert page.name == "index.md" or f"docs/{page.name}" in targets, f"the README does not link {page.name}"


def test_the_readme_python_example_runs_against_a_server(server: ServerProcess, tmp_path: Path) -> None:
    blocks = re.findall(r"^```python\n(.*?)^```", README.read_text(encoding="utf-8"), re.MULTILINE | re.DOTALL)
    assert len(blocks) == 1
    code = blocks[0]
    assert len(code.strip().splitlines()) <= 12
    assert code.count(EXAMPLE_URL) == 1
    prompt = re.search(r'send_message\("([^"]+)"\)', code)
    assert prompt is not None
    script = tmp_path / "example.py"
    script.write_text(code.replace(EXAMPLE_URL, server.graphql_http), encoding="utf-8")
    ran = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert ran.stdout == "".join(default_tokens(prompt.group(1))) + "\nDONE\n"


def test_no_page_names_a_machine_path() -> None:
    pages = [README, ROOT / "mkdocs.yml", *sorted(DOCS.rglob("*.md"))]
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for banned in ("/work/", "../shared", "/tmp/"):
            assert banned not in text, f"{page.relative_to(ROOT)} names {banned}"
