"""Which room may import which (docs/architecture.md), checked on every module's imports."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "marketing_ui"


def _imports(path: Path) -> set[str]:
    """Every module a file imports (absolute names; relative imports are not used here)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _violations(folder: Path, forbidden: tuple[str, ...], base: Path = ROOT) -> list[str]:
    found = []
    for path in sorted(folder.rglob("*.py")):
        for name in sorted(_imports(path)):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                found.append(f"{path.relative_to(base)} imports {name}")
    return found


def test_the_core_imports_neither_reflex_nor_rq_nor_workers_nor_any_outer_room() -> None:
    outer = ("reflex", "rq", "workers", "marketing_ui.state", "marketing_ui.pages")
    outer += ("marketing_ui.api", "marketing_ui.components", "marketing_ui.infra")
    assert _violations(APP / "core", outer) == []


def test_pages_state_and_endpoints_reach_jobs_only_through_the_core() -> None:
    for room in ("state", "pages", "api", "components"):
        assert _violations(APP / room, ("workers", "rq", "marketing_ui.infra")) == [], room


def test_pages_and_components_never_touch_the_database() -> None:
    forbidden = ("sqlalchemy", "sqlmodel", "marketing_ui.core.db")
    assert _violations(APP / "pages", forbidden) == []
    assert _violations(APP / "components", forbidden) == []
    assert _violations(APP / "state", ("sqlalchemy",)) == []  # queries live in the core


def test_workers_holds_process_entry_points_only() -> None:
    files = {p.name for p in (ROOT / "workers").glob("*.py")}
    assert files == {"__init__.py", "run.py", "tasks.py", "scheduler.py", "health.py"}
    assert not [p for p in (ROOT / "workers").iterdir() if p.is_dir() and p.name != "__pycache__"]


def test_a_forbidden_import_is_caught(tmp_path: Path) -> None:
    """The check itself can fail: a core module importing RQ is reported."""
    (tmp_path / "bad.py").write_text("from rq import Queue\nimport reflex as rx\nimport rqx\n")
    assert _violations(tmp_path, ("rq", "reflex"), base=tmp_path) == [
        "bad.py imports reflex",
        "bad.py imports rq",
        "bad.py imports rq.Queue",
    ]


def test_the_map_in_the_docs_matches_the_tree() -> None:
    """Every package and module in docs/architecture.md's map exists, and every module of the
    core and of the send context is on it."""
    doc = (ROOT / "docs" / "architecture.md").read_text()
    block = re.search(r"<!-- map -->\n```text\n(.*?)```", doc, re.S)
    assert block, "docs/architecture.md has no map block"
    stack: list[str] = []
    paths = set()
    for line in block.group(1).splitlines():
        name = line.strip().split(" ")[0] if line.strip() else ""
        if not name or not (name.endswith("/") or name.endswith(".py")):
            continue
        depth = (len(line) - len(line.lstrip(" "))) // 4
        stack = [*stack[:depth], name]
        paths.add("".join(stack))
    missing = sorted(p for p in paths if not (ROOT / p).exists())
    assert missing == [], f"on the map but not in the tree: {missing}"
    for package in ("marketing_ui/core/", "marketing_ui/core/sending/"):
        modules = {
            package + p.name for p in (ROOT / package).glob("*.py") if p.name != "__init__.py"
        }
        assert modules - paths == set(), f"in the tree but not on the map: {modules - paths}"
