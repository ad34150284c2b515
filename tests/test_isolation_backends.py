"""Another isolation is one new class (vaecourse/isolation.py): a toy backend, registered here, grades a submission.

`ToyIsolation` isolates nothing: it runs the kernel under `env -i` with the kernel's environment
(vaecourse.sandbox.kernel_env) plus TOY_ISOLATION=1, and appends every command it wraps to a file.
The grading command is told to use it as an instructor would name a backend of their own,
`autograde --isolation test_isolation_backends.ToyIsolation` (its import path), and its jobs run in
processes of their own (vaecourse/grading/jobs.py): the JobSpec carries the backend there (unpickling
it imports this module, which registers it: tests/ is on the job server's sys.path), and the kernel
manager rebuilds it from its record. The perfect 01_mnist submission must get its full score from a
kernel started through the toy backend, and the grader's words about its isolation must name it. Budget (tests/budgets.toml): 95 s (62 s measured), nearly all of it the one grading.
"""
import dataclasses
import json
import os
import subprocess
import sys
from typing import ClassVar

import nbformat
import pytest
from harness import grading_env
from simulated_class import filled, points_of_tests

from vaecourse.isolation import (BACKENDS, IsolationBackend, NoIsolation, backend_named, isolation_from_record,
                                 register_backend)
from vaecourse.sandbox import kernel_env

NB = "01_mnist"
TOY_WORDS = "toy isolation (none at all: the kernel runs as the grader)"


@register_backend
@dataclasses.dataclass(frozen=True)
class ToyIsolation(IsolationBackend):
    """Runs the command unisolated with TOY_ISOLATION=1 in its environment; logs each command to `log`."""

    log: str
    name: ClassVar[str] = "toy"

    @classmethod
    def on_this_machine(cls) -> "ToyIsolation":
        return cls(os.environ["TOY_ISOLATION_LOG"])  # what `--isolation` builds: the test says where to log

    @property
    def available(self) -> bool:
        return True

    def describe(self) -> str:
        return TOY_WORDS

    def wrap(self, command, *, writable, cwd, read_only=(), env=None) -> list[str]:
        with open(self.log, "a") as log:
            log.write(json.dumps(command) + "\n")
        variables = {**kernel_env(env), "TOY_ISOLATION": "1"}
        return ["env", "-i", *(f"{key}={value}" for key, value in variables.items()), *command]


def test_a_record_names_its_backend_and_brings_it_back(tmp_path):
    toy = ToyIsolation(str(tmp_path / "log"))
    assert BACKENDS["toy"] is ToyIsolation and BACKENDS["none"] is NoIsolation
    assert json.loads(json.dumps(toy.record())) == {"backend": "toy", "module": __name__, "log": toy.log}
    assert isolation_from_record(toy.record()) == toy
    assert isolation_from_record(NoIsolation("--no-sandbox").record()) == NoIsolation("--no-sandbox")
    with pytest.raises(KeyError, match="no isolation backend named 'nowhere'"):
        isolation_from_record({"backend": "nowhere"})


def test_the_grading_command_names_a_backend_by_name_or_import_path():
    assert backend_named("bubblewrap").__name__ == "Bubblewrap" and backend_named("none") is NoIsolation
    assert backend_named(f"{__name__}.ToyIsolation") is ToyIsolation
    with pytest.raises(ValueError, match=r"--isolation docker: no such isolation backend \(registered: .*bubblewrap"):
        backend_named("docker")
    with pytest.raises(ValueError, match="kernel_env in vaecourse.sandbox is not an isolation backend"):
        backend_named("vaecourse.sandbox.kernel_env")
    assert NoIsolation.on_this_machine().describe().startswith("no sandbox (--isolation none)")


def test_the_factory_imports_the_module_a_record_names():
    """A job process that has not imported a backend's module yet gets it from the record."""
    code = ("import sys\nfrom vaecourse.isolation import isolation_from_record\n"
            "assert 'vaecourse.sandbox' not in sys.modules\n"
            "print(type(isolation_from_record({'backend': 'bubblewrap', 'module': 'vaecourse.sandbox', "
            "'bwrap': None, 'namespaces': [], 'limits': None, 'process_cap': '', 'reason': 'test'})).__name__)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "Bubblewrap"


@pytest.mark.slow
def test_a_submission_is_graded_through_a_registered_toy_backend(tmp_path, offline_data, monkeypatch, capsys):
    from vaecourse import grade
    from vaecourse.grading.course_folder import CourseFolder
    from vaecourse.nbg.gradebook import open_gradebook
    from vaecourse.nbg.layout import notebook_path

    for key, value in grading_env(offline_data).items():
        monkeypatch.setenv(key, value)
    course, submissions = tmp_path / "course", tmp_path / "class"
    nb = filled(NB)
    nb.cells.append(nbformat.v4.new_code_cell("import os\nprint('TOY_ISOLATION =', os.environ.get('TOY_ISOLATION'))"))
    (submissions / "perfect" / NB).mkdir(parents=True)
    nbformat.write(nb, submissions / "perfect" / NB / f"{NB}.ipynb")
    assert grade.main(["--course", str(course), "release", NB]) == 0
    assert grade.main(["--course", str(course), "collect", "--folder", str(submissions)]) == 0
    monkeypatch.setenv("TOY_ISOLATION_LOG", str(tmp_path / "wrapped.jsonl"))
    capsys.readouterr()

    assert grade.main(["--course", str(course), "autograde", "--isolation", f"{__name__}.ToyIsolation",
                       "--time-limit", "300", "--no-progress"]) == 0
    assert f"isolation: {TOY_WORDS}\n" in capsys.readouterr().out
    with open_gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        assert gb.find_submission_notebook(NB, NB, "perfect").score == sum(points_of_tests(NB).values())
    autograded = nbformat.read(notebook_path(course, "autograded", NB, "perfect"), as_version=4)
    assert autograded.cells[-1].outputs[0].text == "TOY_ISOLATION = 1\n"  # the kernel ran through the toy
    wrapped = [json.loads(line) for line in (tmp_path / "wrapped.jsonl").read_text().splitlines()]
    assert [c for c in wrapped if "ipykernel_launcher" in " ".join(c)], wrapped  # wrapped in the job process
    assert CourseFolder(course).isolation_note.read_text() == TOY_WORDS + "\n"
