"""The package stays small in its parts and reads as the architecture (issue 35): no module over
MAX_MODULE_LINES lines, no function over MAX_FUNCTION_LINES, the generators share their networks
through matlib.nn instead of importing each other, and course tooling stays apart."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "matlib"
MAX_MODULE_LINES = 250
MAX_FUNCTION_LINES = 60

# Justified exceptions, each with its reason: {path relative to matlib/: reason}. Keep it short.
MODULE_EXCEPTIONS: dict[str, str] = {}
FUNCTION_EXCEPTIONS: dict[str, str] = {}


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def name(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def long_functions(path: Path) -> list[tuple[str, int]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                out.append((f"{name(path)}:{node.name}", length))
    return out


def test_no_module_is_long():
    long = {name(p): n for p in modules() if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert set(long) <= set(MODULE_EXCEPTIONS), f"modules over {MAX_MODULE_LINES} lines: {long}"


def test_no_function_is_long():
    long = dict(f for p in modules() for f in long_functions(p))
    assert set(long) <= set(FUNCTION_EXCEPTIONS), f"functions over {MAX_FUNCTION_LINES} lines: {long}"


def test_exceptions_are_still_needed():
    """An exception that no longer applies is removed from the list."""
    sizes = {name(p): len(p.read_text().splitlines()) for p in modules()}
    assert all(sizes.get(m, 0) > MAX_MODULE_LINES for m in MODULE_EXCEPTIONS)
    functions = dict(f for p in modules() for f in long_functions(p))
    assert set(FUNCTION_EXCEPTIONS) <= set(functions)


def imported_modules(path: Path) -> set[str]:
    """Absolute names of the matlib modules a file imports (relative imports resolved)."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = parts[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            out.add(module)
            out.update(f"{module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return {m for m in out if m.startswith("matlib")}


@pytest.mark.parametrize("package, forbidden", [
    ("cdvae", "matlib.diffusion"),       # shared blocks live in matlib.nn
    ("diffusion", "matlib.cdvae"),
    ("nn", "matlib.cdvae"),
    ("nn", "matlib.diffusion"),
])
def test_generators_share_networks_through_nn(package, forbidden):
    offenders = sorted(name(p) for p in (PACKAGE / package).rglob("*.py")
                       if any(m == forbidden or m.startswith(forbidden + ".") for m in imported_modules(p)))
    assert not offenders, f"{offenders} import {forbidden}"


def test_only_course_tooling_imports_the_course():
    offenders = sorted(name(p) for p in modules() if not name(p).startswith("course/")
                       and any(m == "matlib.course" or m.startswith("matlib.course.") for m in imported_modules(p)))
    assert not offenders, f"teaching modules import course tooling: {offenders}"
