"""Grading a class with nbgrader: repair submissions, autograde in parallel, feedback, export.

The command line is `python -m vaecourse.grade` (see README.md, "For instructors").
Every path of the course folder comes from `course_folder.CourseFolder` (nbgrader's folders, grading's
own .grading/, exports/); no other module builds one by hand.
One module per stage: `classroom` (the nbgrader course folder: release, roster, collect),
`evidence` (collected submissions stored read-only, hashed, versioned; checked before grading),
`repair` (restore what other editors and students break), `jobs` (one isolated nbgrader
job per student and notebook, with a time limit, and the executors that run them),
`faults` (what a status may put down to the machine: only what the grader established itself),
`merge` (a job's gradebook into the course's), `outcome` (each notebook's status record
and its page when it could not be graded), `runner` (the stages in order, for a class),
`report` (grades CSV, summary table, problems list). The nbgrader configuration and
preprocessors are in `vaecourse.nbg`.
"""
