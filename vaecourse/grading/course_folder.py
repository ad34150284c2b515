"""Every path of the class's course folder (autograder/), in one object: `CourseFolder(root)`.

nbgrader keeps its layout in one `CourseDirectory` with one `format_path`; grading does the same
here, and no other module builds a course path by hand. The folder holds:

    nbgrader_config.py   exchange/   gradebook.db (the default gradebook)      nbgrader's
    source/ release/ submitted/ autograded/ feedback/   (nbgrader's steps: `folder`, `notebook`)
    .grading/            grading's own:
        run/             the last grading run: template.db, isolation.txt, timings.json and
                         jobs/<student>/<assignment>/, each job's own folder (`JobFolder`)
        status/<student>/<assignment>.json                what happened to a notebook (outcome)
        evidence/<student>/<assignment>.json and <assignment>/   collect's records and kept
                         versions (evidence), .staging/ where a stored copy is written first
        lms/<student>/<assignment>.json                   the LMS file collected (lms)
        verdict_secret   the key the verdicts' inputs are drawn with (runner)
    exports/             grades.csv, lms_grades.csv, summary/<student>.txt, similarity.txt

Why a module of its own in grading and not vaecourse/nbg/layout.py: nbg/layout.py is nbgrader's
layout, shared by every nbgrader folder the course makes (the build's, each job's), and nbg sits
below grading, so it may not know grading's .grading/ and exports/; the steps' folders come from it
(`step_folder`, `notebook_path`), everything else is named here. It imports nothing else of
vaecourse.grading, so every stage can use it (classroom and evidence no longer import each other).

A path is the root joined with its parts, nothing resolved: a folder given relative stays relative.
"""
from pathlib import Path

from vaecourse.nbg.layout import AUTOGRADED, CONFIG_FILE, FEEDBACK, step_folder
from vaecourse.nbg.layout import notebook_path as _notebook_path

WORK = ".grading"  # grading's own folder inside the course folder (jobs, status, evidence, logs)
EXCHANGE = "exchange"  # nbgrader's exchange folder, inside the course folder
GRADEBOOK = "gradebook.db"  # nbgrader's default sqlite gradebook (a course folder's and every job's)


class CourseFolder:
    """The paths of one course folder (see the module doc)."""

    def __init__(self, root: Path | str):
        self.root = Path(root)

    # ------------------------------------------------------------ nbgrader's
    def folder(self, step: str, assignment: str | None = None, student: str | None = None) -> Path:
        """<root>/<step>[/<student>][/<assignment>]; step: vaecourse.nbg.layout's SOURCE ... FEEDBACK."""
        return step_folder(self.root, step, assignment, student)

    def notebook(self, step: str, assignment: str, student: str | None = None) -> Path:
        """The notebook (a feedback page: .html) of `assignment` in `step`, `student`'s unless source or release."""
        return _notebook_path(self.root, step, assignment, student)

    @property
    def config(self) -> Path:
        return self.root / CONFIG_FILE

    @property
    def exchange(self) -> Path:
        return self.root / EXCHANGE

    @property
    def gradebook(self) -> Path:
        return self.root / GRADEBOOK

    def default_db_url(self) -> str:
        """The gradebook's SQLAlchemy URL when --db names none (an absolute path: nbgrader runs elsewhere)."""
        return f"sqlite:///{self.root.resolve() / GRADEBOOK}"

    def downloaded(self, archive: str) -> Path:
        """Where zip_collect would have extracted the archive named `archive`: collect's --regexp is matched
        against its members' paths there (nothing is written to it)."""
        return self.root / "downloaded" / archive

    # ------------------------------------------------------------ grading's own: .grading/
    @property
    def work(self) -> Path:
        return self.root / WORK

    @property
    def run(self) -> Path:
        """The last grading run's folder, made afresh by each run."""
        return self.work / "run"

    @property
    def jobs(self) -> Path:
        return self.run / "jobs"

    def job(self, student: str, assignment: str) -> Path:
        """A job's folder (`JobFolder` names what is in it)."""
        return self.jobs / student / assignment

    @property
    def template_db(self) -> Path:
        """The gradebook every job of the run starts from: the assignments' definitions only."""
        return self.run / "template.db"

    @property
    def isolation_note(self) -> Path:
        return self.run / "isolation.txt"

    @property
    def timings(self) -> Path:
        return self.run / "timings.json"

    @property
    def statuses(self) -> Path:
        return self.work / "status"

    def status(self, student: str, assignment: str) -> Path:
        return self.statuses / student / f"{assignment}.json"

    @property
    def evidence(self) -> Path:
        return self.work / "evidence"

    def manifest(self, student: str, assignment: str) -> Path:
        """collect's record of a stored submission."""
        return self.evidence / student / f"{assignment}.json"

    def versions(self, student: str, assignment: str) -> Path:
        """Where the earlier and altered copies of a stored submission are kept."""
        return self.evidence / student / assignment

    @property
    def evidence_staging(self) -> Path:
        return self.evidence / ".staging"

    @property
    def lms_records(self) -> Path:
        return self.work / "lms"

    def lms_record(self, student: str, assignment: str) -> Path:
        """The LMS file collected for a submission, late or not."""
        return self.lms_records / student / f"{assignment}.json"

    @property
    def verdict_secret(self) -> Path:
        return self.work / "verdict_secret"

    # ------------------------------------------------------------ exports/
    @property
    def exports(self) -> Path:
        return self.root / "exports"

    @property
    def grades_csv(self) -> Path:
        """The class CSV: every notebook and every student of the gradebook."""
        return self.exports / "grades.csv"

    @property
    def lms_grades_csv(self) -> Path:
        return self.exports / "lms_grades.csv"

    @property
    def summaries(self) -> Path:
        return self.exports / "summary"

    def summary(self, student: str) -> Path:
        return self.summaries / f"{student}.txt"

    @property
    def similarity(self) -> Path:
        return self.exports / "similarity.txt"


class JobFolder(CourseFolder):
    """One grading job's folder: an nbgrader course folder of its own (source, submitted, its gradebook.db),
    to which the job adds autograded/, feedback/ and its records (vaecourse.grading.jobs states the protocol)."""

    RESULT, OUTPUT, LOG = "result.json", "output.txt", "log.txt"
    MACHINE_CHECK = "machine_check"
    OUTPUTS = (AUTOGRADED, FEEDBACK, GRADEBOOK, RESULT, OUTPUT, LOG)  # what an executor brings back from a worker

    @property
    def result(self) -> Path:
        """nbgrader's answers."""
        return self.root / self.RESULT

    @property
    def output(self) -> Path:
        """nbgrader's and the kernel's chatter."""
        return self.root / self.OUTPUT

    @property
    def log(self) -> Path:
        return self.root / self.LOG

    @property
    def machine_check(self) -> Path:
        """Where the course's cells run alone after a timeout (vaecourse.grading.faults)."""
        return self.root / self.MACHINE_CHECK
