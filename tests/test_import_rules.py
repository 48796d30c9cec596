"""Import rules between the layers of ``unlock_atlas`` (docs/development.md, "Layers and import rules").

Layers
------
* **Core**: the package ``unlock_atlas.contract`` (table schemas, parts reader/writer,
  vocabularies) and the top-level modules of ``unlock_atlas`` (``domain``, ``errors``, ``atomic``,
  ``paths``, ``tables``, ``_lazy``, ``ctdna_fraction``). The composition roots
  ``unlock_atlas/__init__.py`` and ``unlock_atlas/cli.py`` are neither Core nor a stage: they may
  import anything.
* **Stages**: every other sub-package of ``unlock_atlas`` (``calling``, ``classify``, ``atlas``,
  ``reference``, ``knowledge``, ...).

Rules
-----
(a) Core imports no stage (not even inside a function).
(b) A stage imports from another stage only that stage's *public* names, i.e. the names its
    ``__init__.py`` lists in ``_EXPORTS`` (the lazy-export table of :mod:`unlock_atlas._lazy`, whose
    keys are also ``__all__``). Allowed forms::

        from unlock_atlas.<stage> import <name>            # <name> in _EXPORTS
        from unlock_atlas.<stage>.<module> import <name>   # _EXPORTS[<name>] == ".<module>"

    Everything else is a stage's *internals* and forbidden across stages: a module whose name
    starts with ``_`` (``_cli``, ...), a name starting with ``_``, a name that is not in
    ``_EXPORTS`` (or is exported from another module than the one named), and importing a
    stage's module as a whole (``import unlock_atlas.<stage>.<module>`` or
    ``from unlock_atlas.<stage> import <module>``).

(c) The stages' import graph has no cycle (``classify`` imported ``atlas.build`` while ``atlas``
    imported ``classify.summary`` before issue 19).

Relative imports are resolved first; imports inside functions count. The checker is a function
of a package directory, so the tests below run it on the real package AND on a synthetic
package with forbidden imports, to show that it fails when it should.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "unlock_atlas"
#: Top-level modules that may import anything (they wire the stages together).
COMPOSITION_ROOTS = {"__init__", "cli"}
#: Sub-packages that are Core rather than stages.
CORE_PACKAGES = {"contract"}


def _module_name(path: Path, root: Path) -> list[str]:
    parts = [root.name, *path.relative_to(root).with_suffix("").parts]
    return parts[:-1] if parts[-1] == "__init__" else parts


def _exports(init: Path) -> dict[str, str]:
    """The ``_EXPORTS`` table (name -> ".module") of a stage's ``__init__.py``; {} when absent."""
    if not init.is_file():
        return {}
    for node in ast.parse(init.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "_EXPORTS" for t in node.targets):
            return ast.literal_eval(node.value)
    return {}


def _imports(path: Path, module: list[str]) -> list[tuple[int, list[str], str | None]]:
    """(line, absolute module path, imported name or None for ``import x``) of every import in ``path``."""
    package = module if path.name == "__init__.py" else module[:-1]
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = base + (node.module.split(".") if node.module else [])
            else:
                target = node.module.split(".") if node.module else []
            out.extend((node.lineno, target, a.name) for a in node.names)
        elif isinstance(node, ast.Import):
            out.extend((node.lineno, a.name.split("."), None) for a in node.names)
    return out


def check_imports(root: Path) -> list[str]:
    """Violations of rules (a) and (b) (module docstring) in the package directory ``root``."""
    pkg = root.name
    stages = {d.name for d in root.iterdir() if d.is_dir() and (d / "__init__.py").is_file()} - CORE_PACKAGES
    exports = {s: _exports(root / s / "__init__.py") for s in stages}
    problems = []
    for path in sorted(root.rglob("*.py")):
        module = _module_name(path, root)
        where = ".".join(module)
        if len(module) == 2 and module[1] in COMPOSITION_ROOTS or len(module) == 1:
            continue
        own = module[1] if len(module) > 2 or (path.name == "__init__.py") else None
        is_core = own is None or own in CORE_PACKAGES
        for line, target, name in _imports(path, module):
            if len(target) < 1 or target[0] != pkg:
                continue
            # `from pkg import X`: X may be a sub-package (a stage) or a top-level name
            stage = target[1] if len(target) > 1 else (name if name in stages else None)
            if stage is None or stage not in stages or stage == own:
                continue
            shown = ".".join(target) + (f" import {name}" if name else "")
            if is_core:
                problems.append(f"{where}:{line}: Core imports stage '{stage}' ({shown})")
                continue
            public = exports[stage]
            if len(target) == 1:                       # from pkg import <stage>
                problems.append(f"{where}:{line}: imports stage '{stage}' as a module ({shown}); import its names")
            elif any(p.startswith("_") for p in target[2:]) or (name or "").startswith("_"):
                problems.append(f"{where}:{line}: imports a private part of stage '{stage}' ({shown})")
            elif name is None:
                problems.append(f"{where}:{line}: imports a module of stage '{stage}' whole ({shown})")
            elif len(target) == 2 and name not in public:
                problems.append(f"{where}:{line}: '{name}' is not exported by stage '{stage}' ({shown})")
            elif len(target) > 2 and public.get(name) != "." + ".".join(target[2:]):
                problems.append(f"{where}:{line}: '{name}' is not exported by stage '{stage}' from "
                                f"{'.'.join(target)} ({shown}); add it to {stage}/__init__.py _EXPORTS or use Core")
    return problems


def stage_graph(root: Path) -> dict[str, set[str]]:
    """Stage -> the other stages it imports (Core and composition roots left out)."""
    pkg = root.name
    stages = {d.name for d in root.iterdir() if d.is_dir() and (d / "__init__.py").is_file()} - CORE_PACKAGES
    graph: dict[str, set[str]] = {s: set() for s in stages}
    for path in root.rglob("*.py"):
        module = _module_name(path, root)
        if len(module) < 2 or module[1] not in stages:
            continue
        for _, target, name in _imports(path, module):
            if target[:1] == [pkg]:
                other = target[1] if len(target) > 1 else name
                if other in stages and other != module[1]:
                    graph[module[1]].add(other)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle of ``graph`` as a path (first node repeated at the end), or [] when acyclic."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return []


def test_the_package_follows_the_import_rules() -> None:
    problems = check_imports(SRC)
    assert not problems, "\n".join(problems)


def test_no_import_cycle_between_stages() -> None:
    cycle = find_cycle(stage_graph(SRC))
    assert not cycle, " -> ".join(cycle)


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"atlas": {"classify"}, "classify": {"atlas", "knowledge"}, "knowledge": set()}) == [
        "atlas", "classify", "atlas"]
    assert find_cycle({"atlas": {"classify"}, "classify": {"knowledge"}, "knowledge": set()}) == []


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_the_checker_fails_on_forbidden_imports(tmp_path: Path) -> None:
    """A synthetic package with one allowed and five forbidden imports: exactly the five are reported."""
    root = tmp_path / "pkg"
    _write(root, {
        "__init__.py": "",
        "cli.py": "from .calling._cli import main\n",                  # composition root: allowed
        "domain.py": "def f():\n    from .calling.model import hidden\n",   # (a) Core -> stage, in a function
        "contract/__init__.py": "",
        "contract/schema.py": "from ..calling import call\n",        # (a) Core -> stage
        "calling/__init__.py": '_EXPORTS = {"call": ".model"}\n',
        "calling/model.py": "def call(): ...\ndef hidden(): ...\n",
        "calling/_cli.py": "def main(): ...\n",
        "report/__init__.py": "",
        "report/page.py": (
            "from ..contract.schema import call as ok_core\n"            # stage -> Core: allowed
            "from ..calling.model import call\n"                         # exported from .model: allowed
            "from ..calling import call as again\n"                      # exported: allowed
            "from ..calling.model import hidden\n"                       # (b) not exported
            "from ..calling._cli import main\n"                          # (b) private module
            "import pkg.calling.model\n"                                 # (b) module imported whole
        ),
    })
    problems = check_imports(root)
    assert [p.split(": ", 1)[0] for p in problems] == [
        "pkg.contract.schema:1", "pkg.domain:2", "pkg.report.page:4", "pkg.report.page:5", "pkg.report.page:6"]
    assert "Core imports stage 'calling'" in problems[0] and "Core imports stage 'calling'" in problems[1]
    assert "'hidden' is not exported" in problems[2]
    assert "private part" in problems[3]
    assert "whole" in problems[4]


def test_the_real_checker_catches_a_forbidden_import_added_to_the_package(tmp_path: Path) -> None:
    """Copy the real package, add one forbidden import (Core -> stage), and the check fails."""
    import shutil

    copy = tmp_path / "unlock_atlas"
    shutil.copytree(SRC, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert check_imports(copy) == []
    schema = copy / "contract" / "schema.py"
    schema.write_text(schema.read_text() + "\nfrom ..classify.stage import classify  # forbidden\n")
    problems = check_imports(copy)
    assert len(problems) == 1 and problems[0].startswith("unlock_atlas.contract.schema:")
