"""Review flags (vaecourse/grading/review.py): a static scan of students' code for grading internals."""
import nbformat
import pytest

from harness import load_master, load_student, solution_sources
from hostile_attacks import ATTACKS, attack_source
from vaecourse.grading.classroom import notebook_names
from vaecourse.grading.review import scan_source, scan_submission


def whats(source: str) -> set[str]:
    return {what for what, _ in scan_source(source)}


def test_each_kind_of_grading_internal_is_named_with_its_line():
    assert scan_source("x = 1\nexec(open('s.py').read())") == [("exec", 2)]
    assert whats("get_ipython().events.register('pre_run_cell', f)") >= {"get_ipython", "events.register"}
    assert whats("ip = get_ipython()\nip.input_transformers_post.append(f)") >= {"input_transformers_post"}
    assert whats("get_ipython().ast_transformers.append(t)") >= {"ast_transformers"}
    assert whats("get_ipython().set_custom_exc((Exception,), h)") >= {"set_custom_exc"}
    assert whats("import os\nif os.environ.get('NBGRADER_EXECUTION'): pass") == {"NBGRADER_EXECUTION"}
    assert whats("import subprocess, sqlite3, ctypes\nfrom signal import SIGKILL") == {
        "import subprocess", "import sqlite3", "import ctypes", "import signal"}
    assert whats("import os\nos.kill(os.getppid(), 9)") == {"os.kill"}
    assert whats("torch.allclose = lambda *a, **k: True") == {"assigns torch.allclose"}
    assert whats("import math\nmath.isclose = f\nbuiltins.print = g") == {"assigns math.isclose", "assigns builtins.print"}
    assert whats("setattr(torch, 'equal', f)") == {"setattr on torch"}
    assert whats("eval('1')\ncompile('1', 'f', 'exec')\n__import__('os')") == {"eval", "compile", "__import__"}
    assert whats("import sys\nsys.modules['torch'] = fake") == {"sys.modules"}
    assert whats("open('/tmp/../x', 'w')") == {"writes a file to '/tmp/../x'"}
    assert whats("open('../../gradebook.db', 'a')") == {"writes a file to '../../gradebook.db'"}
    assert whats("open(path, 'w')") == {"writes a file to a computed path"}
    # the model answers are importable in the sandbox, as the notebooks import the course's helpers
    assert whats("from vaecourse.reference.elbo import kl_divergence") == {"import vaecourse.reference.elbo"}
    assert whats("import vaecourse.reference.elbo as ref") == {"import vaecourse.reference.elbo"}
    assert whats("from vaecourse import reference") == {"import vaecourse.reference"}
    assert whats("from vaecourse.grading import outcome") == {"import vaecourse.grading"}


def test_ordinary_student_code_is_not_flagged():
    assert whats("open('notes.txt', 'w').write('x')\nwith open('/data/x') as f: pass") == set()
    assert whats("%matplotlib inline\nimport torch\nx = torch.zeros(3)\nmodel.weight = w") == set()
    assert whats("from vaecourse.checking import expect_close\nfrom vaecourse.plots import show_images") == set()
    assert scan_source("def broken(:\n") == []  # a syntax error is grading's business


@pytest.mark.parametrize("name", notebook_names())  # every notebook: a flag on a model answer would flag every student
def test_the_model_answers_raise_no_flag(name):
    for gid, source in solution_sources(load_master(name)).items():
        assert scan_source(source) == [], gid


def test_the_hostile_attacks_are_flagged_in_a_submission(tmp_path):
    release = load_student("01_mnist")
    for student, attack in ATTACKS.items():
        nb = load_student("01_mnist")
        nb.cells.append(nbformat.v4.new_code_cell(attack_source(attack.code, "/c", "/t", "/s")))
        path = tmp_path / f"{student}.ipynb"
        nbformat.write(nb, path)
        flags = " ".join(scan_submission(path, release))
        for word in attack.flagged:
            assert word in flags, (student, word, flags)
    nbformat.write(release, tmp_path / "blank.ipynb")
    assert scan_submission(tmp_path / "blank.ipynb", release) == []  # the course's own cells are not scanned
