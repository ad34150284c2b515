"""How a cell that ran out of time ends: the names of the errors nbclient and IPython give it.

Below both the verdicts (a probe that timed out, `core.read_outputs`) and nbgrader's glue (a test cell
that timed out is not run again on the grader's inputs, `vaecourse/nbg/verdictexecute.py`), and without
torch, so that the preprocessor reads it before any verdict is loaded.
"""
TIMEOUT_ERRORS = frozenset({"KeyboardInterrupt", "CellTimeoutError", "TimeoutError"})
