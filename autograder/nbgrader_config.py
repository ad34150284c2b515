"""nbgrader configuration for instructors: this folder is the nbgrader course directory.

All settings live in vaecourse/nbgrader_ext.py (shared with the build, so that what an
instructor releases is exactly what course/ holds). Run nbgrader from this folder, or use
the grading command described in README.md.
"""
from vaecourse.nbgrader_ext import apply_course_config

c = get_config()  # noqa: F821 (provided by nbgrader)
apply_course_config(c)
# Grading's additions (capped output, stderr not fatal in tests, feedback without hidden
# tests), so that formgrader's buttons behave like `python -m vaecourse.grade`.
from vaecourse.grading.nbgrader_config import apply_grading_config  # noqa: E402

apply_grading_config(c)
c.CourseDirectory.root = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
