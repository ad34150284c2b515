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


def test_every_test_file_states_its_budget_and_every_budget_names_a_file():
    """tests/budgets.toml: the seconds each test file may take in CI (conftest.py prints the files over it)."""
    from conftest import file_budgets

    budgets = file_budgets()
    files = {path.name for path in (ROOT / "tests").glob("test_*.py")}
    assert not files - set(budgets), f"state the budget of {sorted(files - set(budgets))} in tests/budgets.toml"
    assert not set(budgets) - files, f"tests/budgets.toml names files that do not exist: {sorted(set(budgets) - files)}"
    assert all(0 < seconds <= 600 for seconds in budgets.values()), budgets


def test_the_files_over_budget_are_listed_with_their_overrun():
    from conftest import over_budget

    lines = over_budget({"tests/test_a.py": 12.0, "tests/test_b.py": 3.0, "tests/test_c.py": 1.0},
                        {"test_a.py": 10, "test_b.py": 5})
    assert lines == ["    12.0  tests/test_a.py: over its budget of 10 s by 2 s",
                     "     1.0  tests/test_c.py: no budget in tests/budgets.toml"]
