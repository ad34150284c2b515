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
__version__ = "0.1.0"
