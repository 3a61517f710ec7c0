"""docs/architecture.md stays true to the code, in the manner of datasette's docs tests.

Four checks, each failing with what to write where:
- the diagram's layers (the `cluster_*` subgraphs of docs/diagrams/architecture.dot, top
  to bottom) are import-linter's layers contract in pyproject.toml, the one CI enforces;
- the committed SVG carries every label of the .dot source (it was regenerated);
- every module of the four packages is named in the module tables (a new module without
  a line saying what it is for fails here);
- every `path.py` the document names exists (a renamed or deleted module fails here).
"""

from __future__ import annotations

import html
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "architecture.md"
DOT = ROOT / "docs" / "diagrams" / "architecture.dot"
SVG = DOT.with_suffix(".svg")
PACKAGES = ("tracker", "storage", "handlers", "bot")


def doc_text() -> str:
    return DOC.read_text(encoding="utf-8")


def contract_layers() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    return next(c["layers"] for c in contracts if c["type"] == "layers")


def diagram_layers() -> list[str]:
    return re.findall(r"subgraph cluster_(\w+)", DOT.read_text(encoding="utf-8"))


def dot_labels() -> set[str]:
    """Every line of every label in the .dot, as Graphviz writes it into the SVG."""
    found = set()
    for label in re.findall(r'label="([^"]*)"', DOT.read_text(encoding="utf-8")):
        found.update(line.strip() for line in label.split("\\n") if line.strip())
    return found


def named_paths(text: str) -> set[str]:
    """`a/b.py` in backticks, plus the `x.py` siblings written after it in the same cell."""
    named: set[str] = set()
    for cell in re.findall(r"\|([^|\n]*)\|", text):
        folder = None
        for token in re.findall(r"`([\w/]+(?:\.py)?/?)`", cell):
            if re.match(r"(?:tracker|storage|handlers|bot)/", token):
                folder = token.rsplit("/", 1)[0] if token.endswith(".py") else token.rstrip("/")
                named.add(token.rstrip("/"))
            elif token.endswith(".py") and "/" not in token and folder:
                named.add(f"{folder}/{token}")
    for token in re.findall(r"`((?:tracker|storage|handlers|bot)/[\w/]+\.py)`", text):
        named.add(token)
    return named


def test_the_diagram_shows_the_layers_ci_enforces():
    assert diagram_layers() == contract_layers()
    assert "(diagrams/architecture.svg)" in doc_text()


def test_the_svg_was_regenerated_from_its_source():
    svg = html.unescape(SVG.read_text(encoding="utf-8"))
    stale = sorted(label for label in dot_labels() if label not in svg)
    assert not stale, (
        f"docs/diagrams/architecture.svg lacks {stale}: run "
        "dot -Tsvg docs/diagrams/architecture.dot -o docs/diagrams/architecture.svg"
    )


def test_every_module_is_in_the_module_tables():
    named = named_paths(doc_text())
    missing = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if path.name == "__init__.py" or relative in named:
                continue
            if any(relative.startswith(folder + "/") for folder in named if "." not in folder):
                continue  # a folder row (e.g. `bot/web/`) covers its modules
            missing.append(relative)
    assert not missing, f"add a row to docs/architecture.md's module tables for: {missing}"


def test_every_module_the_document_names_exists():
    gone = sorted(p for p in named_paths(doc_text()) if not (ROOT / p).exists())
    assert not gone, f"docs/architecture.md names modules that do not exist: {gone}"
