"""The course package: code that more than one notebook, test or tool needs, written once.

Hand-written modules: runtime (device, quick mode, seeds, paths), data (MNIST), checking
(checks that teach), plots, links (repository slug), build (course/ from solutions/),
nbgrader_ext (the nbgrader configuration), offline_mnist (the offline data set).
Generated modules: reference/ holds the solutions exported from the masters (`make build`).
"""
__version__ = "0.1.0"
