"""The course's nbgrader configuration, written once and used by the build and by grading.

autograder/nbgrader_config.py calls `apply_course_config(c)`; the build writes the same
call into its temporary course folder, so the student notebooks an instructor releases
are exactly the ones committed in course/.
"""
import re

from nbgrader.preprocessors import (
    CheckCellMetadata,
    ClearHiddenTests,
    ClearMarkScheme,
    ClearOutput,
    ClearSolutions,
    ComputeChecksums,
    IncludeHeaderFooter,
    InstantiateTests,
    LockCells,
    SaveCells,
)

# The stub a student sees in place of a solution; {exercise} and {name} are filled per cell.
STUB_TEMPLATE = 'raise NotImplementedError("Exercise {exercise}: implement {name}")'
TEXT_STUB = "YOUR ANSWER HERE"
CELL_TIMEOUT_S = 30  # nbgrader's default per cell; quick mode keeps every cell well under it

_DEF_RE = re.compile(r"^(\s*)(?:async\s+)?(def|class)\s+([A-Za-z_][A-Za-z0-9_]*)")


def notebook_number(name: str) -> str:
    """'04_elbo' -> '4': the number that prefixes every exercise of a notebook."""
    match = re.match(r"(\d+)", name)
    return str(int(match.group(1))) if match else name


def enclosing_name(lines: list[str], index: int) -> str:
    """The dotted def/class name that encloses line `index` (e.g. 'Encoder.forward')."""
    target_indent = len(lines[index]) - len(lines[index].lstrip())
    names = []
    for line in reversed(lines[:index]):
        match = _DEF_RE.match(line)
        if match and len(match.group(1)) < target_indent:
            names.append(match.group(3))
            target_indent = len(match.group(1))
            if target_indent == 0:
                break
    return ".".join(reversed(names)) if names else "this exercise"


class ExerciseStubs(ClearSolutions):
    """ClearSolutions whose code stub names the exercise: `Exercise 4.2: implement kl_divergence`.

    Exercises are numbered by notebook (04_elbo -> 4) and by the order of the solution
    cells in it; the master's markdown heading for that exercise must use the same
    number (the build checks).
    """

    def preprocess(self, nb, resources):
        name = resources.get("nbgrader", {}).get("notebook") or resources.get("unique_key", "")
        self._prefix = notebook_number(str(name))
        self._counter = 0
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "code" and self.begin_solution_delimeter in cell.source:
            self._counter += 1
        return super().preprocess_cell(cell, resources, cell_index)

    def _replace_solution_region(self, cell, language):
        if cell.cell_type != "code":
            return super()._replace_solution_region(cell, language)
        lines = cell.source.split("\n")
        new_lines, in_solution, replaced = [], False, False
        exercise = f"{self._prefix}.{self._counter}"
        for index, line in enumerate(lines):
            if self.begin_solution_delimeter in line:
                if in_solution:
                    raise RuntimeError("encountered nested begin solution statements")
                in_solution, replaced = True, True
                indent = re.match(r"\s*", line).group(0)
                stub = STUB_TEMPLATE.format(exercise=exercise, name=enclosing_name(lines, index))
                new_lines.append(indent + stub)
            elif self.end_solution_delimeter in line:
                in_solution = False
            elif not in_solution:
                new_lines.append(line)
        if in_solution:
            raise RuntimeError("no end solution statement found")
        cell.source = "\n".join(new_lines)
        return replaced


def apply_course_config(c) -> None:
    """Fill an nbgrader traitlets Config `c` with the course's settings."""
    c.ClearSolutions.code_stub = {"python": STUB_TEMPLATE.format(exercise="?", name="this exercise")}
    c.ClearSolutions.text_stub = TEXT_STUB
    c.ExerciseStubs.text_stub = TEXT_STUB
    c.GenerateAssignment.preprocessors = [
        IncludeHeaderFooter,
        InstantiateTests,
        LockCells,
        ExerciseStubs,
        ClearOutput,
        CheckCellMetadata,
        ComputeChecksums,
        SaveCells,
        ClearHiddenTests,
        ClearMarkScheme,
        ComputeChecksums,
        CheckCellMetadata,
    ]
    # Every cell runs under nbgrader's limit; quick mode keeps the slowest well below it.
    c.Execute.timeout = CELL_TIMEOUT_S
    c.Execute.interrupt_on_timeout = True
    c.ExecutePreprocessor.timeout = CELL_TIMEOUT_S
    # nbclient waits only 4 s (iopub_timeout) for a cell's last output after its reply and nbgrader
    # makes that fatal: on a loaded machine a sound notebook then fails to grade at random.
    c.Execute.iopub_timeout = CELL_TIMEOUT_S
