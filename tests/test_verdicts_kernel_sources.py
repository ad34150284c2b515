"""What the grader sends to the student's kernel holds no answer and no import of the course package.

Student code runs while a probe runs and can keep whatever the probe brought (a function the probe
calls can walk sys._getframe().f_back, read gc objects, patch exec) and print it on its own feedback
page. So no source sent to the kernel - the probe cell with its helpers and inputs, as
core.probe_source makes it - may hold a line of any exercise's answer: a line of a master's solution
cell (tests/harness.py solution_sources) that its student notebook does not show (its inlined course
helpers, earlier notebooks' answers, do not count as shown), compared without
spaces or comments (`torch.nn.` read as `nn.`); imports and lines of fewer than 16 characters
(`return x_hat`) are too short to give anything away. Nor may it import vaecourse: the sandboxed kernel
does not see the package. Probes that need an earlier exercise get vaecourse/verdicts/stand_ins.py. Every notebook's probes are held to it.

CI budget: about 5 s (no kernel; one draw of each verdict's inputs).
"""
import ast
import re

import numpy as np
import pytest
from harness import load_master, load_student, solution_sources

from vaecourse.masters import HELPERS_GRADE_ID, grade_id, master_paths
from vaecourse.verdicts import verdicts_for
from vaecourse.verdicts.core import probe_source

NOTEBOOKS = [path.stem for path in master_paths()]  # every notebook: what each probe sends
MIN_CHARS = 16


def normalised(line: str) -> str:
    """A line without its comment and spaces, `torch.nn.` read as `nn.` (the same code written either way)."""
    code = re.split(r"\s#\s|^\s*#", line, maxsplit=1)[0]
    code = "".join(code.split())
    return code.replace("torch.nn.functional.", "F.").replace("torch.nn.", "nn.")


def significant(line: str) -> bool:
    return len(line) >= MIN_CHARS and not line.startswith(("import", "from"))


def shown_lines(notebook: str) -> set[str]:
    """The lines a student notebook shows (stubs, checks, demos, text), not counting the course helpers it
    inlines (the answers of earlier notebooks)."""
    return {normalised(line) for cell in load_student(notebook).cells if grade_id(cell) != HELPERS_GRADE_ID
            for line in cell.source.splitlines()}


def answer_lines() -> dict[str, str]:
    """normalised line -> the exercise it answers, over every master's solution cells."""
    answers = {}
    for path in master_paths():
        shown = shown_lines(path.stem)
        for gid, source in solution_sources(load_master(path.stem)).items():
            for line in map(normalised, source.splitlines()):
                if significant(line) and line not in shown:
                    answers.setdefault(line, f"{path.stem} {gid}")
    return answers


ANSWERS = answer_lines()


def sent_sources(verdict) -> list[str]:
    """The cell the grader runs in the kernel for `verdict`, and every string in it (the probe and its
    helpers travel as strings inside it)."""
    cell = probe_source(verdict, verdict.inputs(np.random.default_rng(0)))
    strings = [node.value for node in ast.walk(ast.parse(cell)) if isinstance(node, ast.Constant)
               and isinstance(node.value, str) and "\n" in node.value]
    return [cell, *strings]


def leaked_answers(sources: list[str]) -> list[str]:
    return sorted({f"{ANSWERS[line]}: {line}" for source in sources for line in map(normalised, source.splitlines())
                   if line in ANSWERS})


def course_imports(sources: list[str]) -> list[str]:
    """Imports of vaecourse (statements, __import__ and import_module) in whatever of `sources` is Python."""
    found = []
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue  # not code
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif isinstance(node, ast.Call) and ast.unparse(node.func).split(".")[-1] in ("__import__", "import_module"):
                names = [arg.value for arg in node.args[:1] if isinstance(arg, ast.Constant) and isinstance(arg.value, str)]
            else:
                continue
            found += [ast.unparse(node) for name in names if name.split(".")[0] == "vaecourse"]
    return found


CASES = [(notebook, gid) for notebook in NOTEBOOKS for gid in verdicts_for(notebook)]


@pytest.mark.parametrize("notebook, gid", CASES)
def test_no_answer_and_no_course_import_goes_to_the_kernel(notebook, gid):
    sources = sent_sources(verdicts_for(notebook)[gid])
    assert not leaked_answers(sources), f"{gid}'s probe sends lines of exercise answers:\n" + \
        "\n".join(leaked_answers(sources))
    assert not course_imports(sources), f"{gid}'s probe imports the course package: {course_imports(sources)}"


def test_the_rule_finds_an_answer_however_it_is_written():
    """The comparison is not fooled by spaces, comments or torch.nn spelled out, and knows every master."""
    assert len({exercise.split()[0] for exercise in ANSWERS.values()}) == len(master_paths())
    decoder = "self.fc = torch.nn.Linear(latent_dim,   64 * 7 * 7)  # another comment"
    assert leaked_answers([f"class D:\n    {decoder}\n"]) == ["03_decoder decoder: self.fc=nn.Linear(latent_dim,64*7*7)"]
    assert not leaked_answers(["        super().__init__()\n        return x_hat\n"])  # given, or too short
    assert course_imports(["import os\nfrom vaecourse.reference.decoder import ConvVAE\n"]) == \
        ["from vaecourse.reference.decoder import ConvVAE"]
    assert course_imports(["def f():\n    import vaecourse\n", "__import__('vaecourse.data')", "x = 'vaecourse'"]) == \
        ["import vaecourse", "__import__('vaecourse.data')"]
