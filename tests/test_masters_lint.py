"""Every code cell of every master is linted (ruff's pyflakes rules), and masters stay clean.

A master is linted as the notebook runs: its code cells in order, as one script, so a name
a cell uses may come from an earlier cell. IPython lines (`%magic`, `!shell`) are blanked
and a `%%` cell magic skips its cell. What counts, and what is legitimate in a notebook:

- counted everywhere: syntax errors, undefined names (F821), unused local variables
  (F841), a function or class defined twice (F811), `is` with a literal, and the rest of
  ruff's F rules;
- unused imports (F401) count in solution cells only: the course-helpers and setup cells
  import what the student's later cells are meant to use;
- F811 is not counted when the redefinition is an import: exercise cells import torch
  again so that each stands on its own;
- F541 (an f-string without placeholders) is style, not a bug.

A per-cell allowance, `ALLOWED[(notebook, grade_id or cell index)] = {codes}`, is empty.
"""
import json
import subprocess
import sys

import nbformat
import pytest

from vaecourse.masters import grade_id, is_answer, master_paths, normalise

RULES = "F,E9"
NOT_A_BUG = {"F541"}
ALLOWED: dict[tuple[str, str], set[str]] = {}


def notebook_script(nb) -> tuple[str, list[int | None]]:
    """The code cells as one script; and, per line (1-based), the index of the cell it came from."""
    lines, cell_of_line = [], [None]
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or cell.source.lstrip().startswith("%%"):
            continue
        for line in cell.source.splitlines() + [""]:
            lines.append("" if line.lstrip().startswith(("%", "!")) else line)
            cell_of_line.append(index)
    return "\n".join(lines) + "\n", cell_of_line


def lint(nb, name: str) -> list[str]:
    """Problems found in a master, one line each: `NN_name cell K (grade_id): CODE message`."""
    script, cell_of_line = notebook_script(nb)
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--isolated", "--no-cache", "--select", RULES,
                             "--output-format", "json", "--stdin-filename", f"{name}.py", "-"],
                            input=script, capture_output=True, text=True)
    assert result.returncode in (0, 1), result.stderr
    script_lines = script.splitlines()
    problems = []
    for found in json.loads(result.stdout):
        row, code = found["location"]["row"], found["code"] or "E999"
        cell = nb.cells[cell_of_line[row]]
        label = grade_id(cell) or str(cell_of_line[row])
        if code in NOT_A_BUG or code in ALLOWED.get((name, label), set()):
            continue
        if code == "F401" and not is_answer(cell):
            continue
        if code == "F811" and script_lines[row - 1].lstrip().startswith(("import ", "from ")):
            continue
        problems.append(f"{name} cell {cell_of_line[row]} ({label}): {code} {found['message']}")
    return problems


@pytest.mark.parametrize("path", master_paths(), ids=lambda p: p.stem)
def test_master_code_cells_pass_the_linter(path):
    assert not lint(nbformat.read(path, as_version=4), path.stem)


@pytest.mark.parametrize("planted", ["    unused = 42\n", "    import os\n"], ids=["unused-local", "unused-import"])
def test_the_linter_catches_an_unused_name_planted_in_a_solution(planted):
    """On a modified copy of a master: the linter is not blind."""
    nb = nbformat.read(master_paths()[0], as_version=4)
    cell = next(c for c in nb.cells if is_answer(c) and c.cell_type == "code" and "def " in c.source)
    lines = cell.source.splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith("def ")) + 1
    while lines[at].lstrip().startswith(('"""', "'''")) or not lines[at].strip():
        at += 1  # after the docstring's first line: a one-line docstring is the norm
    cell.source = "".join(lines[:at] + [planted] + lines[at:])
    problems = lint(nb, master_paths()[0].stem)
    code = "F841" if "unused" in planted else "F401"
    assert any(f"({grade_id(cell)}): {code}" in p for p in problems), problems


@pytest.mark.parametrize("path", master_paths(), ids=lambda p: p.stem)
def test_master_is_clean(path):
    """No outputs, no execution counts, no widget state, nbformat's own layout: `git diff` reads line by line.

    `python -m vaecourse.build --clean` rewrites the masters in this form.
    """
    assert path.read_text() == normalise(nbformat.read(path, as_version=4)), \
        f"{path.name} is not clean: run `python -m vaecourse.build --clean`"


def test_a_notebook_with_outputs_is_not_clean(tmp_path):
    nb = nbformat.read(master_paths()[0], as_version=4)
    code = next(c for c in nb.cells if c.cell_type == "code")
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="hello\n")]
    code.execution_count = 3
    assert normalise(nb) != nbformat.writes(nb) + "\n"
