"""nbgrader's Execute preprocessor with its kernels in the sandbox (vaecourse/sandbox.py).

`configure_nbgrader(config, isolation, ...)` is called by `vaecourse.nbg.config.configure`
when it is given an isolation backend (vaecourse/isolation.py); without one that is available
it changes nothing.
"""
import functools
import os

from vaecourse.isolation import IsolationBackend
from vaecourse.sandbox import SandboxedKernelManager


@functools.cache
def sandboxed_execute_class():
    """nbgrader's Execute preprocessor, starting its kernels with SandboxedKernelManager.

    nbgrader 0.9's Execute passes kernel_manager_class=AsyncKernelManager to its own
    constructor, and a constructor argument beats configuration, so
    `c.Execute.kernel_manager_class` has no effect: the preprocessor itself is replaced.
    Configuration of Execute (timeout, interrupt_on_timeout, ...) still applies to it.
    """
    from vaecourse.nbg.verdictexecute import VerdictExecute

    class SandboxedExecute(VerdictExecute):
        def __init__(self, *args, **kwargs):
            kwargs.setdefault("kernel_manager_class", SandboxedKernelManager)
            super().__init__(*args, **kwargs)

    return SandboxedExecute


def configure_nbgrader(config, isolation: IsolationBackend, *, workdir: str | None = None,
                       data_dir: str | os.PathLike | None = None, read_only=(), env: dict | None = None) -> str:
    """Make nbgrader's autograde run kernels in the sandbox `isolation` describes.

    Call in the job process after the rest of the nbgrader configuration (it edits
    `config.Autograde.autograde_preprocessors`). `workdir`: the one writable folder (None:
    each notebook's own folder); `data_dir`: the MNIST folder, shown read-only and passed as
    VAE_COURSE_DATA; `read_only`: more read-only folders; `env`: more kernel variables.
    Without a sandbox nothing changes. Returns `isolation.describe()` for the log.
    """
    if not isolation.available:
        return isolation.describe()
    from nbgrader.converters.autograde import Autograde
    from nbgrader.preprocessors import Execute

    from vaecourse.nbg.verdictexecute import VerdictExecute

    SandboxedExecute = sandboxed_execute_class()
    current = (config.Autograde.get("autograde_preprocessors")
               or Autograde.class_traits()["autograde_preprocessors"].default())
    config.Autograde.autograde_preprocessors = [SandboxedExecute if p in (Execute, VerdictExecute) else p
                                                for p in current]
    km = config.SandboxedKernelManager
    km.backend = isolation.record()  # the manager rebuilds the backend, its limits and namespaces with it
    if workdir is not None:
        km.workdir = os.path.abspath(workdir)
    extra_env = dict(env or {})
    paths = [os.path.abspath(p) for p in read_only]
    if data_dir is not None:
        paths.append(os.path.abspath(data_dir))
        extra_env.setdefault("VAE_COURSE_DATA", os.path.abspath(data_dir))
    km.read_only = paths
    km.env = extra_env
    return isolation.describe()
