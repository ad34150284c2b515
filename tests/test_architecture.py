"""The package's shape: short functions, and arrows that point one way (issue 12, "One home for each idea";
issue 27, "One owner for every shared name": no import circle, function-level imports included)."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "vaecourse"
MAX_FUNCTION_LINES = 60


def modules():
    return sorted(PACKAGE.rglob("*.py"))  # vaecourse/reference/ (generated) included


def test_no_function_is_longer_than_60_lines():
    long = []
    for path in [*modules(), *sorted((ROOT / "benchmarks").rglob("*.py"))]:
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


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, known: set[str], root: Path = ROOT) -> set[str]:
    """The vaecourse modules that `path` imports anywhere in it (a function's own imports included),
    relative imports resolved; `from package import name` counts as the module package.name when
    that is a module, else as the package."""
    here, found = module_name(path, root), set()

    def nearest(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(nearest(alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = here.split(".") if path.name == "__init__.py" else here.split(".")[:-1]
                base = ".".join(package[:len(package) - node.level + 1] + ([node.module] if node.module else []))
            found.update(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else nearest(base)
                         for alias in node.names)
    return found - {None, here}


def import_graph(paths, root: Path = ROOT) -> dict[str, set[str]]:
    known = {module_name(path, root) for path in paths}
    return {module_name(path, root): imports_of(path, known, root) for path in paths}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles of the graph: its strongly connected components of more than one module
    (Tarjan's algorithm), and any module that imports itself."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while not component or component[-1] != node:
                component.append(stack.pop())
                on_stack.discard(component[-1])
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_circles_through_function_level_and_relative_imports(tmp_path):
    package = tmp_path / "vaecourse"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "a.py").write_text("def f():\n    from vaecourse.sub import b\n")
    (package / "sub" / "b.py").write_text("from . import c\n")
    (package / "sub" / "c.py").write_text("import vaecourse.a as a\n")
    (package / "d.py").write_text("from vaecourse.sub.b import something\n")
    graph = import_graph(sorted(package.rglob("*.py")), tmp_path)
    assert graph["vaecourse.a"] == {"vaecourse.sub.b"} and graph["vaecourse.sub.b"] == {"vaecourse.sub.c"}
    assert cycles(graph) == [["vaecourse.a", "vaecourse.sub.b", "vaecourse.sub.c"]]
    del graph["vaecourse.sub.c"]
    assert cycles(graph) == []


def test_no_import_circle_inside_the_package():
    """A module that imports another, at the top or inside a function, sits above it: no arrow runs back up."""
    found = cycles(import_graph(modules()))
    assert not found, "import circles (break each: the shared name gets one owner below both):\n" + "\n".join(
        " <-> ".join(component) for component in found)


def test_the_verdicts_never_import_the_nbgrader_glue():
    """nbg runs the verdicts (VerdictExecute); the verdicts are judged with torch and numpy alone."""
    graph = import_graph(modules())
    wrong = sorted(f"{module} imports {target}" for module, targets in graph.items()
                   if module.startswith("vaecourse.verdicts") for target in targets if target.startswith("vaecourse.nbg"))
    assert not wrong, wrong


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
