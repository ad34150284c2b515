"""All of the course's nbgrader glue, and nothing else.

- `config`: `configure(c, grading=..., cell_timeout=...)`, the one function that fills an
  nbgrader Config (the build, the grading jobs, the grading command and
  autograder/nbgrader_config.py all call it), and `config_text`, the nbgrader_config.py
  written into a temporary course folder.
- One preprocessor per module: `exercisestubs` (stubs that name the exercise),
  `capoutput` (output cut to a size), `stderrnotcounted` (stderr in a test cell is not
  fatal), `shorterrors` (feedback errors as one line, no traceback), `droplinks` (no link a kernel left
  is followed when nbgrader writes the autograded notebook), `foldhelpers` (feedback shows
  the course helpers as one line), `feedbacklabels` (feedback names each graded cell by its
  exercise; an answer not yet graded by hand is "to be graded", not 0), `showrubrics` (the
  model answer and rubric under each written answer of the autograded notebook, for
  formgrader), `hiderubrics` (feedback without them).
- `feedbackpage`: the feedback HTML exporter, nbgrader's template with the course's index
  and headings (it shows what `feedbacklabels` sets).
- `run`: nbgrader as a subprocess of this interpreter, with this interpreter's bin first
  on PATH (`tool_env`).
- `gradebook`: `open_gradebook(db_url)`, with no lasting change to this process's environment.
- `__main__`: `python -m vaecourse.nbg ARGS` is nbgrader's command line, started a second faster.
"""
