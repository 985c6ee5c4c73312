"""The package's shape, checked: small units, folders that import only what their
docstring allows, one place that names methods, each cost rule written once."""

import ast
import re
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "scope_opt"
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 300, 60
# folder -> the parts of the package it may import (docs/architecture.md)
ALLOWED = {
    "formats": {"errors", "formats"},
    "problem": {"errors", "formats", "problem"},
    "cost": {"errors", "formats", "problem", "cost"},
    "methods": {"errors", "formats", "problem", "cost", "methods"},
    "studies": {"errors", "formats", "problem", "cost", "methods", "studies", "__init__"},
}


def modules():
    return sorted(p for p in PKG.rglob("*.py") if "__pycache__" not in p.parts)


def imported_parts(path: Path) -> set[str]:
    """The top-level parts of scope_opt a module imports (scope_opt.X... -> X)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("scope_opt"):
            rest = node.module.split(".")[1:]
            out.add(rest[0] if rest else "__init__")
        elif isinstance(node, ast.Import):
            out |= {a.name.split(".")[1] for a in node.names if a.name.startswith("scope_opt.")}
    return out


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PKG)))
def test_small_units(path):
    lines = path.read_text().splitlines()
    assert len(lines) <= MAX_MODULE_LINES, f"{path.name} has {len(lines)} lines"
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            n = node.end_lineno - node.lineno + 1
            assert n <= MAX_FUNCTION_LINES, f"{path.name}:{node.lineno} {node.name} has {n} lines"


@pytest.mark.parametrize("folder", sorted(ALLOWED))
def test_folders_import_only_what_they_may(folder):
    for path in (PKG / folder).rglob("*.py"):
        extra = imported_parts(path) - ALLOWED[folder]
        assert not extra, f"{path.relative_to(PKG)} imports scope_opt.{sorted(extra)[0]}"


def test_every_folder_says_what_it_owns_and_may_import():
    for folder in ALLOWED:
        doc = ast.get_docstring(ast.parse((PKG / folder / "__init__.py").read_text()))
        assert doc and "May import" in doc, folder


def test_method_names_are_composed_and_split_only_in_the_registry():
    pattern = re.compile(r"""["'](milp-|dp-|user:|ablation:)|\.partition\("-"\)|method\[\d+:\]""")
    for path in modules():
        if path.name == "registry.py":
            continue
        for i, line in enumerate(path.read_text().splitlines(), 1):
            assert not pattern.search(line), f"{path.relative_to(PKG)}:{i}: {line.strip()}"


def test_segment_formulas_are_written_once():
    """T_s's shape, (B + P - 1) * period, appears only in cost/formulas.py."""
    pattern = re.compile(r"batch \+ \w+ - 1\)|\(B \+ P")
    for path in modules():
        if path.name == "formulas.py":
            continue
        code = "\n".join(l.split("#")[0] for l in path.read_text().splitlines())
        code = re.sub(r'"""[\s\S]*?"""', "", code)
        assert not pattern.search(code), path.relative_to(PKG)


SOLVER_PACKAGES = {"ortools", "pulp", "highspy"}
BACKEND_MODULES = {"methods/exact/cpsat.py", "methods/exact/milp.py", "methods/exact/milp_stopping.py"}


def test_solver_imports_stay_in_their_backend_modules():
    for path in modules():
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
        rel = str(path.relative_to(PKG))
        assert not (names & SOLVER_PACKAGES) or rel in BACKEND_MODULES, f"{rel} imports {sorted(names & SOLVER_PACKAGES)}"
