"""Grading a class with nbgrader: repair submissions, autograde in parallel, feedback, export.

The command line is `python -m vaecourse.grade` (see README.md, "For instructors").
Modules: `repair` (restore what other editors and students break), `nbgrader_config`
(the preprocessors and settings grading adds to the course's nbgrader config),
`feedback` (hide hidden tests in feedback), `runner` (one isolated nbgrader job per
student and notebook, in parallel, with a time limit), `course` (release, roster,
collect), `report` (grades CSV, summary table, problems list).
"""
