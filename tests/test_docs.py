"""The documentation stays true to the project: the README's picture is the current snapshot of the chat UI, the
README stays short, and every relative link in the README and the docs leads to a file (and heading) that exists."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README_LIMIT = 12_000  # bytes: the README is for users; the rest lives in docs/, CONTRIBUTING.md and benchmarks/
DOCUMENTS = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]


def picture_script():
    spec = importlib.util.spec_from_file_location("picture", ROOT / "docs" / "picture.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_picture_is_the_current_snapshot_of_the_chat_ui():
    picture = picture_script()
    assert picture.PICTURE.read_bytes() == picture.SNAPSHOT.read_bytes(), (
        f"{picture.PICTURE.relative_to(ROOT)} differs from the snapshot {picture.SNAPSHOT.relative_to(ROOT)}: "
        "run `make picture` (python3 docs/picture.py) and commit docs/chat.svg")


def test_the_readme_picture_is_embedded_in_the_readme():
    assert "](docs/chat.svg)" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_readme_stays_under_12_kb():
    size = (ROOT / "README.md").stat().st_size
    assert size <= README_LIMIT, (f"README.md is {size} bytes, over {README_LIMIT}: move the detail to docs/, "
                                  "CONTRIBUTING.md or benchmarks/README.md and link it")


def anchors(path: Path) -> set[str]:
    """The heading anchors GitHub gives a Markdown file (lower case, punctuation dropped, spaces as hyphens)."""
    seen: dict[str, int] = {}
    found = set()
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)
    for heading in re.findall(r"^#{1,6} +(.+?) *#*$", text, flags=re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def relative_links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)
    targets = re.findall(r"\]\(([^)\s]+)\)", text)
    return [target for target in targets if not re.match(r"[a-z][a-z0-9+.-]*:", target)]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_relative_link_leads_to_a_file_and_heading_that_exist(document):
    broken = []
    for target in relative_links(document):
        file_part, _, anchor = target.partition("#")
        linked = (document.parent / file_part).resolve() if file_part else document
        if not linked.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target} (no such heading)")
    assert broken == [], f"{document.relative_to(ROOT)} links to what is not there: {', '.join(broken)}"
