"""The course package: code that more than one notebook, test or tool needs, written once.

Hand-written modules. Inlined into the notebooks: runtime (device, quick mode, seeds,
paths), data (MNIST), checking (checks that teach), plots. For the tools: masters (the
master-notebook grammar), bundling (a master with its helpers inlined), nbg/ (all nbgrader
glue), links (repository slug), offline_mnist (the offline data set), figures (the
reference figures: which, when stale, the cells showing them), notebook_run (a notebook
run with nbclient). Commands: build (course/ from solutions/), grade (grading/: grading a
class) and reference_figures (figures/ from the masters in full mode: `make figures`).
Generated modules: reference/ holds the solutions exported from the masters (`make build`).
"""
import sys

__version__ = "0.1.0"

# jsonschema, which nbformat validates notebooks with, imports rfc3987_syntax where it is installed (the
# jupyter-events extra brings it) to check the "iri" string format, and that module compiles a grammar
# for about 1 s on import: in every grading command, job server and build, on a 2-core machine 1.0 s of
# the 2.7 CPU seconds `python -m vaecourse.grade --help` took. No schema of nbformat or nbgrader uses that
# format, so the course's processes go without it (jsonschema then leaves "iri" unchecked, as it does
# wherever rfc3987_syntax is not installed). Kernels never import this package.
sys.modules.setdefault("rfc3987_syntax", None)
