"""nbgrader configuration for instructors: this folder is the nbgrader course directory.

All settings live in vaecourse/nbg/config.py (shared with the build, so that what an
instructor releases is exactly what course/ holds, and with the grading command, so that
formgrader's buttons behave like `python -m vaecourse.grade`). Run nbgrader from this
folder, or use the grading command described in README.md.
"""
from vaecourse.nbg.config import configure

c = get_config()  # noqa: F821 (provided by nbgrader)
configure(c, grading=True, root=__file__.rsplit("/", 1)[0] if "/" in __file__ else ".")
