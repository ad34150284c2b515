"""The course package: code that more than one notebook, test or tool needs, written once.

Hand-written modules. Inlined into the notebooks: runtime (device, quick mode, seeds,
paths), data (MNIST), checking (checks that teach), plots. For the tools: masters (the
master-notebook grammar), bundling (a master with its helpers inlined), nbg/ (all nbgrader
glue), links (repository slug), offline_mnist (the offline data set). Commands: build
(course/ from solutions/) and grade (grading/: grading a class).
Generated modules: reference/ holds the solutions exported from the masters (`make build`).
"""
__version__ = "0.1.0"
