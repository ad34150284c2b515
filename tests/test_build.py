"""One source of truth: course/ is generated from solutions/ and a stale copy fails."""
import re
import shutil
import subprocess
import sys

import nbformat
import pytest

from vaecourse import build, bundling, links, masters
from vaecourse.masters import enclosing_name, notebook_number
from vaecourse.nbg.run import tool_env

ROOT = masters.ROOT
STUDENTS = sorted((ROOT / "course").glob("[0-9][0-9]_*.ipynb"))
STUB_RE = re.compile(r'raise NotImplementedError\("Exercise (\d+)\.(\d+): implement ([A-Za-z_][\w.]*)"\)')


@pytest.mark.slow
def test_committed_course_matches_a_fresh_build():
    stale = build.stale_files(build.build_outputs())
    assert not stale, f"run `make build` and commit: stale {stale}"


@pytest.mark.slow
def test_editing_a_master_without_rebuilding_fails_the_check(tmp_path):
    for name in ("solutions", "course", "vaecourse", "figures", "locales", "README.md", "README.ja.md"):
        source = ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, tmp_path / name)
    master = tmp_path / "solutions" / "01_mnist.ipynb"
    nb = nbformat.read(master, as_version=4)
    markdown = next(cell for cell in nb.cells if cell.cell_type == "markdown" and "bar chart" in cell.source)
    markdown.source += "\n\nAn instructor's edit."
    nbformat.write(nb, master)
    env = tool_env({"PYTHONPATH": str(tmp_path)})
    result = subprocess.run([sys.executable, "-m", "vaecourse.build", "--check", "--only", "01_mnist"],
                            cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "course/01_mnist.ipynb" in result.stderr and "make build" in result.stderr
    # the Japanese edition is stale too: its catalog (a changed message) and its notebook
    assert "locales/ja/LC_MESSAGES/01_mnist.po" in result.stderr and "course/ja/01_mnist.ipynb" in result.stderr
    # And the build repairs it.
    subprocess.run([sys.executable, "-m", "vaecourse.build", "--only", "01_mnist"], cwd=tmp_path, env=env,
                   check=True, capture_output=True)
    assert "An instructor's edit." in (tmp_path / "course" / "01_mnist.ipynb").read_text()
    # The changed cell's translation is kept for the translator but marked fuzzy, and not used: the
    # Japanese notebook shows the English cell until someone translates it, and the test says so.
    from vaecourse.translation.checks import catalog_problems

    problems = catalog_problems(tmp_path / "locales" / "ja" / "LC_MESSAGES" / "01_mnist.po", "ja")
    assert len(problems) == 1 and "fuzzy" in problems[0], problems
    assert "An instructor's edit." in (tmp_path / "course" / "ja" / "01_mnist.ipynb").read_text()


@pytest.mark.parametrize("student", STUDENTS, ids=[p.stem for p in STUDENTS])
def test_student_notebook_has_no_solutions_no_hidden_tests_and_named_stubs(student):
    text = student.read_text()
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text and "Rubric" not in text
    nb = nbformat.read(student, as_version=4)
    master = nbformat.read(ROOT / "solutions" / student.name, as_version=4)
    solution_cells = [c for c in master.cells if c.cell_type == "code" and "### BEGIN SOLUTION" in c.source]
    stubs = [m for c in nb.cells if c.cell_type == "code" for m in STUB_RE.finditer(c.source)]
    assert stubs, "no exercise stub found"
    number = int(student.name[:2])
    assert {int(m.group(1)) for m in stubs} == {number}
    assert sorted({int(m.group(2)) for m in stubs}) == list(range(1, len(solution_cells) + 1))
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert "NotImplementedError()" not in cell.source, "an unnamed stub slipped through"


@pytest.mark.parametrize("student", STUDENTS, ids=[p.stem for p in STUDENTS])
def test_student_notebook_stands_alone_with_links_on_top(student):
    nb = nbformat.read(student, as_version=4)
    first = nb.cells[0]
    path = f"course/{student.name}"
    assert first.cell_type == "markdown"
    assert links.colab_url(path) in first.source and links.binder_url(path) in first.source
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert not re.search(r"^\s*(from vaecourse[\w.]* import|import vaecourse)", code, re.MULTILINE), \
        "a student notebook must not need this repository installed"
    helpers = [c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "course_helpers"]
    assert len(helpers) == 1 and helpers[0].metadata["nbgrader"]["locked"]
    assert helpers[0].metadata["jupyter"]["source_hidden"] and "make build" in helpers[0].source


def test_readme_table_lists_every_notebook_with_its_links():
    readme = (ROOT / "README.md").read_text()
    table = readme.split(build.TABLE_BEGIN, 1)[1].split(build.TABLE_END, 1)[0]
    for student in STUDENTS:
        path = f"course/{student.name}"
        assert f"]({path})" in table and links.colab_url(path) in table and links.binder_url(path) in table


def test_exercise_numbering_is_checked_against_the_headings():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("### Exercise 3.2 — f"),
                nbformat.v4.new_code_cell("def f():\n    ### BEGIN SOLUTION\n    pass\n    ### END SOLUTION")]
    with pytest.raises(masters.MasterError, match="solution cell 1 is Exercise 3.1"):
        masters.check_exercise_numbers(nb, "03_decoder")
    nb.cells[0].source = "### Exercise 3.1 — f"
    masters.check_exercise_numbers(nb, "03_decoder")


def test_helpers_cell_accepts_only_package_imports():
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("from vaecourse.runtime import QUICK\nimport os")
    cell.metadata["tags"] = [masters.HELPERS_TAG]
    nb.cells = [cell]
    with pytest.raises(masters.MasterError, match="may hold only lines"):
        bundling.helper_imports(nb, "01_mnist")


def test_bundle_puts_dependencies_first_and_strips_package_imports():
    sources = {
        "vaecourse.fake_a": '"""A."""\nfrom vaecourse.fake_b import two\n\nONE = 1 + two()\n',
        "vaecourse.fake_b": '"""B."""\nimport math\n\n\ndef two():\n    return 2\n',
    }
    text = bundling.bundle(["vaecourse.fake_a"], sources)
    assert text.index("def two") < text.index("ONE = 1 + two()")
    assert "from vaecourse" not in text
    namespace = {}
    exec(text, namespace)
    assert namespace["ONE"] == 3


def _master_with_cells(*sources: str):
    helpers = nbformat.v4.new_code_cell("from vaecourse.data import TensorBatches")
    helpers.metadata["tags"] = [masters.HELPERS_TAG]
    nb = nbformat.v4.new_notebook()
    nb.cells = [helpers, *(nbformat.v4.new_code_cell(source) for source in sources)]
    return nb


@pytest.mark.parametrize("cell, name", [
    ("batches = range(3)  # the progress bar of 05 once did this", "batches"),
    ("for batches in range(3):\n    pass", "batches"),
    ("if True:\n    def read_idx(path):\n        return path", "read_idx"),
    ("device = 'cpu'", "device"),
    ("from tqdm import tqdm as torch", "torch"),
    ("with open(__file__) as socket:\n    pass", "socket"),
])
def test_a_cell_that_rebinds_an_inlined_helper_name_fails_the_build(cell, name):
    nb = _master_with_cells("import torch", cell)
    with pytest.raises(masters.MasterError, match=f"code cell 2 rebinds '{name}'"):
        bundling.bundle_master(nb, "05_training", {})


def test_same_imports_locals_and_magics_do_not_count_as_shadowing():
    nb = _master_with_cells(
        "import torch\nimport numpy as np\nfrom pathlib import Path",
        "def f():\n    batches = 1  # local to f\n    return batches",
        "%matplotlib inline\nloader = TensorBatches(torch.zeros(2, 1), torch.zeros(2))",
        "[device for device in range(2)]  # a comprehension's own scope",
    )
    bundled = bundling.bundle_master(nb, "05_training", {})
    assert "def batches" in bundled.cells[1].source  # the helpers were inlined


def test_bundle_refuses_circular_imports():
    sources = {"vaecourse.fake_a": "from vaecourse.fake_b import x\n", "vaecourse.fake_b": "from vaecourse.fake_a import y\n"}
    with pytest.raises(masters.MasterError, match="circular"):
        bundling.bundle(["vaecourse.fake_a"], sources)


def test_stub_names_the_enclosing_function_or_method():
    lines = ["class Encoder(nn.Module):", "    def forward(self, x):", "        ### BEGIN SOLUTION"]
    assert enclosing_name(lines, 2) == "Encoder.forward"
    assert enclosing_name(["def kl(mu):", "    ### BEGIN SOLUTION"], 1) == "kl"
    assert notebook_number("04_elbo") == "4"


def test_reference_modules_import_on_their_own():
    for path in sorted((ROOT / "vaecourse" / "reference").glob("*.py")):
        result = subprocess.run([sys.executable, "-c", f"import vaecourse.reference.{path.stem}"],
                                capture_output=True, text=True, cwd=ROOT)
        assert result.returncode == 0, result.stderr
        assert "Generated by `make build`" in path.read_text() or path.stem == "__init__"
