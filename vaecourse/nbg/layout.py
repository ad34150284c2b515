"""nbgrader's layout of a course folder: its five steps' folders and where each kind of notebook lives
(assignment name == notebook name), as nbgrader's `CourseDirectory.format_path` puts them.

Every nbgrader folder the course makes has this layout: the build's temporary one, a grading job's,
the class's. The class's course folder, with the grading command's own files beside nbgrader's, is
`vaecourse.grading.course_folder.CourseFolder`, which builds on this module.
"""
from pathlib import Path

import nbformat

from vaecourse.nbg.config import config_text

SOURCE, RELEASE, SUBMITTED, AUTOGRADED, FEEDBACK = "source", "release", "submitted", "autograded", "feedback"
CONFIG_FILE = "nbgrader_config.py"  # nbgrader reads it from the folder it runs in
TIMESTAMP_FILE = "timestamp.txt"  # beside a submitted notebook: when it was submitted (nbgrader reads it)


def step_folder(root: Path, step: str, assignment: str | None = None, student: str | None = None) -> Path:
    """root/<step>[/<student>][/<assignment>] (nbgrader's format_path); step: SOURCE, RELEASE, SUBMITTED,
    AUTOGRADED or FEEDBACK (the last three per student)."""
    folder = Path(root) / step
    if student:
        folder = folder / student
    return folder / assignment if assignment else folder


def notebook_path(root: Path, kind: str, name: str, student: str | None = None) -> Path:
    """root/<kind>/[<student>/]<name>/<name>.ipynb (a feedback page: .html); kind: one of the steps."""
    return step_folder(root, kind, name, student) / f"{name}.{'html' if kind == FEEDBACK else 'ipynb'}"


def write_course_source(root: Path, notebooks: dict, config: str | None = None) -> None:
    """An nbgrader course folder: nbgrader_config.py (default: the course's) and source/<name>/<name>.ipynb."""
    (Path(root) / CONFIG_FILE).write_text(config if config is not None else config_text())
    for name, nb in notebooks.items():
        path = notebook_path(root, SOURCE, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, path)
