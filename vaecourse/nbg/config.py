"""The course's nbgrader configuration: one function, `configure(c, ...)`, fills a Config.

The course settings (every nbgrader run): exercise stubs that name the exercise
(`ExerciseStubs`), the text stub, the per-cell timeout with interruption, and an iopub wait
as long as the cell timeout (nbclient waits only 4 s for a cell's last output after its
reply and nbgrader makes that fatal: on a loaded machine a sound notebook then fails to
grade at random).

What grading adds (`grading=True`), each a documented decision:

1. Output is capped right after execution (`CapOutput`): a student who prints 50 MB
   gets a notebook, a gradebook and a feedback page of normal size. nbgrader's own
   LimitOutput counts lines, and one 50 MB line passes it.
2. stderr in a test cell does not cost the test its points (`StderrNotCounted`): plain
   nbgrader scores a test cell 0 when anything is written to stderr, so a correct
   exercise that emits a warning would lose the points of a test it passes. The stderr
   text is kept, moved to stdout under a label, so the student still sees the warning.
3. Feedback shows each error as its one line, the check's message without a traceback
   (`ShortErrors`), never the bare number a grader-side verdict scored a cell with
   (`HideVerdictScore`; its report stays), and shows the bundled course
   helpers as one line (`FoldHelpers`): the page is about the student's work. Its index
   and headings name the exercises, and a written answer nobody has graded yet shows
   "to be graded", not 0 (`FeedbackLabels`, shown by the `FeedbackPage` exporter).
4. The grader reads each written answer's model answer and rubric under it in formgrader
   (`ShowRubrics` adds them to the autograded notebook after the scores are saved, from the
   released source); the student never sees them (`HideRubrics` takes them out of feedback).
"""
from pathlib import Path

from vaecourse.masters import STUB_TEMPLATE

TEXT_STUB = "YOUR ANSWER HERE"
CELL_TIMEOUT_S = 30  # nbgrader's default per cell; quick mode keeps every cell well under it


# Once the notebook's last cell has run, nothing the kernel could still do is graded: it is killed at once
# (its sandbox with it: bwrap's PID namespace dies with its pid 1) instead of asked to exit, which took
# 1.4 to 2.5 s per notebook (benchmarks/grading_profile.py: a fifth to a third of grading a quick-mode
# notebook) and let student code run on after the last cell (an atexit hook, a thread).
KERNEL_SHUTDOWN = "immediate"


def configure(c, grading: bool = False, cell_timeout: int | None = None, *, root: str | Path | None = None,
              db_url: str | None = None, max_output_chars: int | None = None, isolation=None,
              data_dir: str | Path | None = None, verdict_seed: int | None = None) -> None:
    """Fill the nbgrader traitlets Config `c` with the course's settings (and grading's, if `grading`).

    cell_timeout: seconds per cell (default CELL_TIMEOUT_S); root and db_url: the course
    folder and gradebook, when the caller does not run nbgrader from the course folder;
    max_output_chars: what grading's `CapOutput` keeps of each cell (None: its own `max_chars`);
    isolation: an isolation backend (vaecourse.isolation) to run the kernels in (with the MNIST folder
    data_dir shown read-only), or None. verdict_seed: the seed the grader-side verdicts draw their
    inputs from (None: a new secret one per run).
    """
    _course(c)
    _verdicts(c)
    # The grader reads the kernel's messages with a reader that no message can crash (kernelmessages.py).
    c.Session.unpacker = "vaecourse.nbg.kernelmessages.unpack"
    if verdict_seed is not None:
        c.VerdictExecute.verdict_seed = int(verdict_seed)
    timeout = CELL_TIMEOUT_S if cell_timeout is None else int(cell_timeout)
    c.Execute.timeout = timeout
    c.ExecutePreprocessor.timeout = timeout
    c.Execute.interrupt_on_timeout = True
    c.Execute.iopub_timeout = max(timeout, CELL_TIMEOUT_S)
    c.Execute.shutdown_kernel = KERNEL_SHUTDOWN
    if grading:
        _grading(c, max_output_chars)
    if isolation is not None:
        from vaecourse.nbg.sandboxedexecute import configure_nbgrader

        configure_nbgrader(c, isolation, data_dir=data_dir)
    if root is not None:
        c.CourseDirectory.root = str(root)
    if db_url is not None:
        c.CourseDirectory.db_url = db_url


def _course(c) -> None:
    from nbgrader.preprocessors import (CheckCellMetadata, ClearHiddenTests, ClearMarkScheme, ClearOutput,
                                        ComputeChecksums, IncludeHeaderFooter, InstantiateTests, LockCells,
                                        SaveCells)

    from vaecourse.nbg.exercisestubs import ExerciseStubs

    c.ClearSolutions.code_stub = {"python": STUB_TEMPLATE.format(exercise="?", name="this exercise")}
    c.ClearSolutions.text_stub = TEXT_STUB
    c.ExerciseStubs.text_stub = TEXT_STUB
    c.GenerateAssignment.preprocessors = [
        IncludeHeaderFooter, InstantiateTests, LockCells, ExerciseStubs, ClearOutput, CheckCellMetadata,
        ComputeChecksums, SaveCells, ClearHiddenTests, ClearMarkScheme, ComputeChecksums, CheckCellMetadata,
    ]


def _verdicts(c) -> None:
    """Autograde scores each graded test cell with its grader-side verdict (`VerdictExecute`)."""
    from nbgrader.converters.autograde import Autograde
    from nbgrader.preprocessors import Execute

    from vaecourse.nbg.verdictexecute import VerdictExecute

    current = (c.Autograde.get("autograde_preprocessors")
               or Autograde.class_traits()["autograde_preprocessors"].default())
    c.Autograde.autograde_preprocessors = [VerdictExecute if p is Execute else p for p in current]


def _grading(c, max_output_chars: int | None) -> None:
    from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, GetGrades, IgnorePattern,
                                        LimitOutput, SaveAutoGrades)

    from vaecourse.nbg.capoutput import CapOutput
    from vaecourse.nbg.droplinks import DropLinks
    from vaecourse.nbg.feedbacklabels import FeedbackLabels
    from vaecourse.nbg.feedbackpage import FeedbackPage
    from vaecourse.nbg.foldhelpers import FoldHelpers
    from vaecourse.nbg.shorterrors import ShortErrors
    from vaecourse.nbg.hiderubrics import HideRubrics
    from vaecourse.nbg.hideverdictscore import HideVerdictScore
    from vaecourse.nbg.sanitizeoutputs import SanitizeOutputs
    from vaecourse.nbg.showrubrics import ShowRubrics
    from vaecourse.nbg.stderrnotcounted import StderrNotCounted
    from vaecourse.nbg.verdictexecute import VerdictExecute

    c.Autograde.autograde_preprocessors = [
        VerdictExecute, DropLinks, CapOutput, SanitizeOutputs, StderrNotCounted, IgnorePattern, ClearMetadataPreprocessor,
        LimitOutput, SaveAutoGrades, AssignLatePenalties, CheckCellMetadata, ShowRubrics,
    ]
    if max_output_chars is not None:
        c.CapOutput.max_chars = max_output_chars
    c.LimitOutput.max_lines = 200
    c.LimitOutput.max_traceback = 40
    c.GenerateFeedback.preprocessors = [GetGrades, HideVerdictScore, HideRubrics, FeedbackLabels, FoldHelpers, ShortErrors,
                                         SanitizeOutputs, CSSHTMLHeaderPreprocessor]
    c.GenerateFeedback.exporter_class = FeedbackPage
    # nbgrader's commands default to course_id "", a course the gradebook does not hold: sqlite
    # lets such assignments pass (it does not check foreign keys), PostgreSQL rejects them. Use
    # the course nbgrader.api.Gradebook (and so open_gradebook) creates.
    if not c.CourseDirectory.get("course_id"):
        c.CourseDirectory.course_id = "default_course"


def config_text(grading: bool = False, cell_timeout: int | None = None, root: str | Path | None = None,
                db_url: str | None = None, sandbox: bool = False) -> str:
    """An nbgrader_config.py that calls `configure` with these arguments (for a temporary course folder).

    sandbox: run the kernels in the sandbox this machine gives (vaecourse.sandbox.probe), with
    $VAE_COURSE_DATA shown read-only, as the grading command's jobs do.
    """
    arguments = [f"grading={grading!r}", f"cell_timeout={cell_timeout!r}"]
    if root is not None:
        arguments.append(f"root={str(Path(root).resolve())!r}")
    if db_url is not None:
        arguments.append(f"db_url={db_url!r}")
    lines = ["from vaecourse.nbg.config import configure", "c = get_config()  # noqa: F821 (provided by nbgrader)"]
    if sandbox:
        lines = ["import os", "from vaecourse.sandbox import probe", *lines]
        arguments += ["isolation=probe()", "data_dir=os.environ.get('VAE_COURSE_DATA')"]
    return "\n".join([*lines, f"configure(c, {', '.join(arguments)})"]) + "\n"
