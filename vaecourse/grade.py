"""The instructor's grading command: `python -m vaecourse.grade COMMAND` (README: "For instructors").

    release   [NB ...] [--lang ja]         masters -> autograder/source, release/ and the gradebook
    roster    roster.csv                   students into the gradebook (id, first_name, last_name, email, lms_id)
    collect   --zip lms.zip | --folder DIR copy submissions into autograder/submitted/ (inputs only read;
                                           Canvas and Moodle file names recognised, --lms)
    autograde [--jobs N] ...               check data and sandbox, repair, autograde, feedback, grades CSV,
                                           summary, problems
    feedback                               remake feedback from the gradebook (after manual grading)
    export    [--csv PATH] [--lms-format canvas|moodle] [--late-penalty %/DAY] [--due NB=DATE]
                                           grades CSV, LMS grades file, per-student summaries, similarity
                                           hints, summary and problems from the gradebook
    all       --zip/--folder [--roster]    release if needed (and nbgrader_config.py), roster, collect, autograde

This module parses the arguments and calls the library: vaecourse.grading (classroom, lms, runner,
feedback, export). --lms and --lms-format offer every LMS of
vaecourse.grading.lms_platforms.LMS_PLATFORMS, so one registered before `main` runs is offered too.

The class CSV, <course>/exports/grades.csv, always holds every notebook and every student of the
gradebook: a run limited by --assignment or --student changes only its own rows.

The course folder is autograder/ (`--course`); the masters are read from solutions/ (`--solutions`,
or $VAECOURSE_SOLUTIONS: an installed package run outside the repository needs one); the gradebook is its gradebook.db unless
`--db` names another SQLAlchemy URL nbgrader accepts (e.g. postgresql://user@host/course).
Notebooks run in quick mode (nbgrader sets NBGRADER_EXECUTION) with MNIST from the folder
VAE_COURSE_DATA names (the one holding MNIST/raw/; default data/ beside the package): autograde
and all check it, and the sandbox, before grading anything, and stop with exit code 2 if either fails.
"""
import argparse
import sys
import time
from pathlib import Path

from vaecourse.grading import classroom, lms, similarity
from vaecourse.grading.course_folder import CourseFolder
from vaecourse.grading.export import ExportOptions, export
from vaecourse.grading.feedback import refresh_hand_graded_feedback, regenerate_feedback
from vaecourse.grading.lms_platforms import LMS_PLATFORMS
from vaecourse.nbg.config import CELL_TIMEOUT_S
from vaecourse.nbg.layout import RELEASE, SUBMITTED
from vaecourse.translation.catalogs import LANGUAGES

ANY_COURSE = CourseFolder("<course>")  # its paths as the help texts name them


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m vaecourse.grade", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--course", type=Path, default=classroom.AUTOGRADER_DIR,
                        help="the nbgrader course folder (default: %(default)s)")
    parser.add_argument("--solutions", type=Path,
                        help="the master notebooks' folder, for release (default: $VAECOURSE_SOLUTIONS, else solutions/)")
    parser.add_argument("--db", help="gradebook SQLAlchemy URL (default: sqlite:///<course>/gradebook.db)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("release", help="make source/ from the masters and run generate_assignment")
    p.add_argument("notebooks", nargs="*", metavar="NN_name", help="the notebooks to release (default: every notebook)")
    p.add_argument("--lang", choices=("en", *LANGUAGES), default="en",
                   help="the edition to release: en (course/) or ja (course/ja/, graded and fed back in Japanese) "
                        "(default: %(default)s)")

    p = sub.add_parser("roster", help="import a roster CSV (columns id, first_name, last_name, email, lms_id)")
    p.add_argument("csv", type=Path, help="the roster: a column id (or student_id), optional first_name, "
                   "last_name, email and lms_id (the student's user id in Canvas or Moodle)")
    collect_args(sub.add_parser("collect", help="copy submissions into the course folder"))
    grade_args(sub.add_parser("autograde", help="repair, autograde, feedback and export"))
    p = sub.add_parser("feedback", help="remake feedback pages from the gradebook (after manual grading)")
    p.add_argument("--assignment", nargs="+", metavar="NN_name", help="default: every released notebook")
    p = sub.add_parser("export", help=f"grades CSV (always {ANY_COURSE.grades_csv}, the whole class), "
                       "summary table and problems list")
    p.add_argument("--csv", type=Path, help=f"also write the grades CSV here (default: only {ANY_COURSE.grades_csv})")
    p.add_argument("--assignment", nargs="+", metavar="NN_name", help="only these notebooks in the --csv copy "
                   "(default: every notebook of the gradebook; the class CSV and the summary always hold them all)")
    export_args(p)
    p = sub.add_parser("all", help="release (if needed), roster, collect, autograde; writes <course>/nbgrader_config.py")
    collect_args(p)
    p.add_argument("--roster", type=Path, help="a roster CSV to import first (default: none, the gradebook's roster)")
    grade_args(p)
    return parser


def lms_titles(suffix: str = "") -> str:
    """The registered LMSs as the help texts name them: "Canvas or Moodle" ("Canvas's or Moodle's")."""
    return " or ".join(platform.title + suffix for platform in LMS_PLATFORMS.values())


def collect_args(p, required=True) -> None:
    group = p.add_mutually_exclusive_group(required=required)
    group.add_argument("--zip", type=Path, help="an LMS download: a zip of files named <student>_<NN_name>.ipynb, "
                       f"or as {lms_titles()} name them (--lms)")
    group.add_argument("--folder", type=Path, help="a folder <student>/<NN_name>/<NN_name>.ipynb, or an unzipped "
                       f"{lms_titles()} download (--lms)")
    names = "".join(f"{platform.name} ({platform.file_names}), " for platform in LMS_PLATFORMS.values())
    p.add_argument("--lms", choices=["auto", *LMS_PLATFORMS, "plain"], default="auto",
                   help=f"how the files are named: {names}plain (<student>_<NN_name>.ipynb, --regexp) or auto: "
                   f"{' or '.join(LMS_PLATFORMS)} when a file is named so, else plain (default: %(default)s)")
    p.add_argument("--regexp", default=classroom.DEFAULT_ZIP_REGEXP,
                   help="plain zips only: matched, like zip_collect's FileNameCollectorPlugin.named_regexp, against "
                   "a member's path once extracted, <course>/downloaded/<zip>/<member>; groups student_id and "
                   "file_id (default: %(default)s)")


def export_args(p) -> None:
    layouts = lms_titles(suffix="'s")
    p.add_argument("--lms-format", choices=list(LMS_PLATFORMS), default="canvas",
                   help=f"layout of {ANY_COURSE.lms_grades_csv}: {layouts} gradebook import (default: %(default)s)")
    p.add_argument("--late-penalty", type=float, default=0.0, metavar="PERCENT_PER_DAY",
                   help="percent of a late notebook's score taken per started day late, at most 100, only in the "
                   "exports' adjusted total, never in the gradebook (default: %(default)s, lateness reported only)")
    p.add_argument("--due", nargs="+", metavar="NN_name=ISO-DATE", help="set nbgrader's due date of these "
                   "notebooks in the gradebook, e.g. 01_mnist=2026-10-01T23:59:00+02:00 (default: keep the "
                   "gradebook's due dates, if any)")
    p.add_argument("--similarity", type=float, default=similarity.THRESHOLD, metavar="SCORE",
                   help=f"list pairs of answer cells at least this alike (0 to 1) in {ANY_COURSE.similarity}, "
                   "a hint to review, never a penalty (default: %(default)s)")


def grade_args(p) -> None:
    p.add_argument("--assignment", nargs="+", metavar="NN_name", help="default: every released notebook")
    p.add_argument("--student", nargs="+", metavar="ID", help="default: the roster and everyone who submitted")
    p.add_argument("--jobs", type=int, default=1, help="notebooks graded at once, one process each; results "
                   "equal a serial run (default: %(default)s)")
    p.add_argument("--force", action="store_true", help="grade again what is already graded (default: off: a "
                   "notebook graded earlier from the same submitted bytes is kept, so a stopped run goes on where it stopped)")
    p.add_argument("--no-sandbox", action="store_true", help="run student code without the bubblewrap sandbox "
                   "(default: off; only for trusted code: it can then read the solutions and the verdicts' key and change the gradebook)")
    p.add_argument("--isolation", default="bubblewrap", metavar="BACKEND",
                   help="what the students' kernels run in: a registered isolation backend (bubblewrap, none) or "
                   "the import path of one, package.module.ClassName (vaecourse/isolation.py; default: %(default)s)")
    p.add_argument("--dask", metavar="ADDRESS", help="grade on a Dask cluster instead: a scheduler (tcp://host:8786) "
                   "or local:N (a LocalCluster of N single-threaded workers); results equal a serial run "
                   "(default: none, this machine with --jobs)")
    p.add_argument("--cell-timeout", type=int, default=CELL_TIMEOUT_S,
                   help="seconds per cell, nbgrader's Execute.timeout (default: %(default)s)")
    p.add_argument("--time-limit", type=float, default=600,
                   help="seconds per notebook, enforced from outside (default: %(default)s)")
    p.add_argument("--csv", type=Path, help=f"also write the grades CSV here (default: only {ANY_COURSE.grades_csv}, "
                   "which always holds the whole class)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (default: off, a bar over students)")
    export_args(p)


def _export(args, course: Path, db_url: str, assignments: list[str] | None = None) -> None:
    """vaecourse.grading.export with export_args's options; --assignment limits only the --csv copy."""
    options = ExportOptions(lms_format=args.lms_format, late_penalty=args.late_penalty, due=args.due,
                            similarity=args.similarity)
    export(course, db_url, options, args.csv, assignments)


def quiet_library_warnings() -> None:
    """nbgrader 0.9's gradebook API triggers SQLAlchemy 'not in session' warnings on every new
    submission (harmless, nbgrader's own); keep them off the instructor's terminal."""
    import warnings

    try:
        from sqlalchemy.exc import SAWarning
    except ImportError:
        return
    warnings.filterwarnings("ignore", category=SAWarning)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    quiet_library_warnings()
    course = args.course.resolve()
    try:
        isolation = _preflight(args) if args.command in ("autograde", "all") else None  # before anything is touched
        course.mkdir(parents=True, exist_ok=True)
        db_url = args.db or CourseFolder(course).default_db_url()
        if args.command == "release":
            names = classroom.release(course, db_url, args.notebooks or None, args.solutions, args.lang)
            edition = "course/" if args.lang == "en" else f"course/{args.lang}/"
            release = CourseFolder(course).folder(RELEASE)
            print(f"released {', '.join(names)}: {release} (the same notebooks as {edition})")
            _write_config(course, args.db)
        elif args.command == "roster":
            print(f"{len(classroom.import_roster(args.csv, db_url))} students in the gradebook")
        elif args.command == "collect":
            _collect(args, course, db_url)
        elif args.command in ("autograde", "all"):
            if args.command == "all":
                if not classroom.released(course):
                    classroom.release(course, db_url, solutions=args.solutions)
                _write_config(course, args.db)
                if args.roster:
                    classroom.import_roster(args.roster, db_url)
                _collect(args, course, db_url)
            _autograde(args, course, db_url, isolation)
        elif args.command == "feedback":
            regenerate_feedback(course, db_url, args.assignment or classroom.released(course))
        elif args.command == "export":
            _export(args, course, db_url, args.assignment)
    except classroom.CourseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def _preflight(args):
    """What every grading job needs (vaecourse.grading.runner.preflight): the sandbox's isolation backend
    (vaecourse.isolation), or CourseError."""
    from vaecourse.grading.runner import preflight
    from vaecourse.isolation import NoIsolation, backend_named

    try:
        backend = NoIsolation if args.no_sandbox else backend_named(args.isolation)
    except ValueError as error:
        raise classroom.CourseError(str(error)) from None
    isolation = NoIsolation("--no-sandbox") if args.no_sandbox else backend.on_this_machine()
    return preflight(isolation, data_required=not args.dask, unisolated=backend is NoIsolation)


def _write_config(course: Path, db: str | None) -> None:
    path, how = classroom.write_course_config(course, db)
    print(f"nbgrader configuration: {path} ({how}); formgrader starts in {course} (README: For instructors)")


def _collect(args, course: Path, db_url: str) -> None:
    if not classroom.released(course):
        raise classroom.CourseError("nothing released yet: run `python -m vaecourse.grade release` first")
    found = lms.collect(args.zip or args.folder, course, db_url, args.lms, args.regexp, is_zip=bool(args.zip))
    # collect: what was skipped and why (classroom.Collected), and what was stored (evidence)
    if found.lms != "plain":
        print(f"collected as a {LMS_PLATFORMS[found.lms].title} download (--lms {args.lms}; README: For instructors)")
    for problem in found.problems:
        print(f"warning: {problem}", file=sys.stderr)
    count = sum(len(v) for v in found.values())
    print(f"collected {count} notebooks from {len(found)} students into {CourseFolder(course).folder(SUBMITTED)}")
    hows = [how for how in found.stored.values() if how != "new"]
    if hows:
        print(", ".join(f"{hows.count(how)} {how}" for how in sorted(set(hows)))
              + f" (versions and hashes: {CourseFolder(course).evidence})")
    if not found:
        raise classroom.CourseError("nothing collected" + (f": {len(found.problems)} warnings above"
                                                           if found.problems else ": no submissions found"))


def _autograde(args, course: Path, db_url: str, isolation) -> None:
    from vaecourse.grading import runner

    assignments = args.assignment or classroom.released(course)
    executor, how = None, f"--jobs {args.jobs}"
    if args.dask:
        from vaecourse.grading.dask_executor import DaskExecutor, DaskUnavailable

        executor = DaskExecutor(args.dask)
        how = executor.describe()
    print(f"isolation: {isolation.describe()}")
    start = time.monotonic()
    try:
        outcomes = runner.grade_class(course, db_url, assignments, args.student, jobs=args.jobs,
                                      cell_timeout=args.cell_timeout, time_limit=args.time_limit,
                                      progress=not args.no_progress, executor=executor, isolation=isolation,
                                      force=args.force)
    except Exception as error:
        if args.dask and isinstance(error, DaskUnavailable):
            raise classroom.CourseError(str(error)) from error
        raise
    seconds = time.monotonic() - start
    students = len({o.student for o in outcomes})
    print(f"graded {len(outcomes)} notebooks of {students} students in {seconds:.1f} s with {how}")
    kept = sum(o.kept for o in outcomes)
    if kept:
        print(f"kept {kept} notebooks graded earlier from the same submitted bytes (--force grades them again)")
    if refreshed := refresh_hand_graded_feedback(course, db_url, outcomes):
        print(f"feedback made again from the gradebook for {refreshed} notebooks with hand grades")
    _export(args, course, db_url)


if __name__ == "__main__":
    sys.exit(main())
