"""`python -m vaecourse.nbg ARGS`: nbgrader's own command line (`python -m nbgrader ARGS`), started
through the course package so that it starts without what vaecourse/__init__.py keeps out of the course's
processes (1 s of jsonschema's rfc3987_syntax in each of the build's and the tests' nbgrader runs)."""
from nbgrader.apps.nbgraderapp import main

main()
