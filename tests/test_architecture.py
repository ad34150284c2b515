"""The package's shape: short functions, and arrows that point one way (issue 12, "One home for each idea")."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "vaecourse"
MAX_FUNCTION_LINES = 60


def modules():
    return sorted(PACKAGE.rglob("*.py"))  # vaecourse/reference/ (generated) included


def test_no_function_is_longer_than_60_lines():
    long = []
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({length} lines)")
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines (split them into stages):\n" + "\n".join(long)


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_only_the_build_command_imports_the_build():
    importers = [str(path.relative_to(ROOT)) for path in modules()
                 if path.name != "build.py" and "vaecourse.build" in imported_modules(path)]
    assert not importers, f"the build is a command, not a library: {importers} import it"


def test_nbgrader_glue_lives_in_vaecourse_nbg():
    """Configuration, preprocessors and nbgrader subprocesses are written once, in vaecourse/nbg/."""
    outside = []
    for path in modules():
        if path.parent.name == "nbg":
            continue
        names = imported_modules(path)
        if any(name.startswith(("nbgrader.preprocessors", "nbgrader.api.Gradebook")) for name in names):
            outside.append(str(path.relative_to(ROOT)))
    assert not outside, f"nbgrader glue outside vaecourse/nbg/: {outside}"
