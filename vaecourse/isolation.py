"""Kernel isolation as an extension point: what every isolation backend is, and the one registry of them.

The grader starts each student's kernel through an `IsolationBackend`. A backend is a frozen,
picklable dataclass that says

* `name`: the key it is registered under (and its record names);
* `available`: whether kernels start through it (False: they run as plain, unisolated kernels);
* `describe()`: the grader's one line about what isolation it got (the grading log, the
  refusal without a sandbox, .grading/run/isolation.txt);
* `wrap(command, writable=..., cwd=..., read_only=..., env=...)`: the one method that turns a
  kernel's command line into the isolated one. The wrapped command sets the kernel's whole
  environment itself (`vaecourse.sandbox.kernel_env(env)`): it is launched with PATH only;
* optional hooks, with defaults that do nothing: `preexec()` (run between fork and exec, e.g.
  rlimits), `open_kernel()` (what one kernel manager holds while its kernel lives, e.g. a pids
  cgroup), `kernel_process(launched)` (the kernel's own process, which an interrupt must reach,
  when the launched process is a wrapper).

How a backend reaches the job processes: the `JobSpec` that the grading command hands every job
holds the backend itself (pickled, so its module is imported where the job runs); inside the job,
`vaecourse.nbg.sandboxedexecute.configure_nbgrader` gives the kernel manager the backend's
`record()` (plain JSON: its name, the module that defines it, its fields) and the manager rebuilds
it with `isolation_from_record`, which imports that module if the name is not registered yet.

Backends here: `NoIsolation(reason)`, the honest "no sandbox" (`--no-sandbox`, or what `probe()`
answers on a machine that cannot give one), and `vaecourse.sandbox.Bubblewrap`, the course's
sandbox. A new one (a container runtime, say) is one class: subclass `IsolationBackend` as a
frozen dataclass, decorate it with `@register_backend`, and grade with it: `python -m vaecourse.grade
autograde --isolation package.module.ClassName` (the import path, as nbgrader names its plugins; a
registered name once its module is imported), or `grade_class(isolation=...)` from Python;
tests/test_isolation_backends.py does both with a toy backend.
"""
from __future__ import annotations

import abc
import dataclasses
import importlib
from collections.abc import Callable
from typing import ClassVar

NO_SANDBOX_WARNING = "student code can read and write everything the grader can"

BACKENDS: dict[str, type[IsolationBackend]] = {}  # name -> backend class (register_backend)


@dataclasses.dataclass
class KernelSession:
    """What one kernel manager holds from its backend while its kernel lives (across restarts)."""

    preexec: Callable[[], None] | None = None  # run in the launched process between fork and exec
    close: Callable[[], str] = lambda: ""  # at the kernel's end: '' or a problem for the grader's log


class IsolationBackend(abc.ABC):
    """One way of isolating a kernel (see the module doc). Subclasses are frozen dataclasses."""

    name: ClassVar[str]

    @property
    @abc.abstractmethod
    def available(self) -> bool:
        """Whether kernels start through this backend (False: they run as plain kernels)."""

    @abc.abstractmethod
    def describe(self) -> str:
        """One line for the grading log saying exactly what student code is kept from."""

    @abc.abstractmethod
    def wrap(self, command: list[str], *, writable: list[str], cwd: str, read_only=(),
             env: dict | None = None) -> list[str]:
        """The command line that runs `command` isolated: `writable` folders writable, `read_only` ones
        shown read-only, started in `cwd`, with the kernel environment `kernel_env(env)` and nothing else."""

    def preexec(self) -> Callable[[], None] | None:
        """What the launched process runs between fork and exec (None: nothing)."""
        return None

    def open_kernel(self) -> KernelSession:
        """What a kernel manager holds while its kernel lives; by default only `preexec()`."""
        return KernelSession(preexec=self.preexec())

    def kernel_process(self, launched):
        """The kernel's own process (psutil) given the process that was launched, or None."""
        return launched

    def record(self) -> dict:
        """Plain JSON that `isolation_from_record` turns back into this backend (in another process)."""
        return {"backend": self.name, "module": type(self).__module__, **dataclasses.asdict(self)}

    @classmethod
    def on_this_machine(cls) -> IsolationBackend:
        """The backend as this machine gives it, for `--isolation NAME`: by default the class with its
        defaults; a backend that probes the machine (Bubblewrap) answers what the probe found, which may be
        unavailable (its `describe()` then says why)."""
        return cls()

    @classmethod
    def from_record(cls, fields: dict) -> IsolationBackend:
        """The backend from its record's fields (what `record()` wrote besides backend and module)."""
        return cls(**fields)


def register_backend(cls: type[IsolationBackend]) -> type[IsolationBackend]:
    """Class decorator: make `cls` the backend of its `name`."""
    BACKENDS[cls.name] = cls
    return cls


def backend_named(name: str) -> type[IsolationBackend]:
    """The backend class `--isolation` names: a registered name, or the import path of a class
    (`package.module.ClassName`, nbgrader's way of naming a plugin), which is imported (and registers)."""
    importlib.import_module("vaecourse.sandbox")  # the course's own backends register on import
    if name not in BACKENDS and "." in name:
        module, _, attribute = name.rpartition(".")
        cls = getattr(importlib.import_module(module), attribute, None)
        if isinstance(cls, type) and issubclass(cls, IsolationBackend):
            return cls
        raise ValueError(f"--isolation {name}: {attribute} in {module} is not an isolation backend "
                         "(a subclass of vaecourse.isolation.IsolationBackend)")
    if name not in BACKENDS:
        raise ValueError(f"--isolation {name}: no such isolation backend (registered: {', '.join(sorted(BACKENDS))}; "
                         "or the import path of a class, package.module.ClassName)")
    return BACKENDS[name]


def isolation_from_record(record: dict) -> IsolationBackend:
    """The backend a `record()` describes; its module is imported (and so registers it) when needed."""
    fields = dict(record)
    name, module = fields.pop("backend"), fields.pop("module", None)
    if name not in BACKENDS and module:
        importlib.import_module(module)
    if name not in BACKENDS:
        raise KeyError(f"no isolation backend named {name!r} (registered: {', '.join(sorted(BACKENDS))})")
    return BACKENDS[name].from_record(fields)


@register_backend
@dataclasses.dataclass(frozen=True)
class NoIsolation(IsolationBackend):
    """No isolation, for `reason` (e.g. "--no-sandbox", "bwrap not installed: ..."): plain kernels."""

    reason: str = ""
    name: ClassVar[str] = "none"

    @property
    def available(self) -> bool:
        return False

    def describe(self) -> str:
        why = self.reason or "sandbox unavailable"
        return f"no sandbox ({why}): {NO_SANDBOX_WARNING}"

    def wrap(self, command, *, writable, cwd, read_only=(), env=None) -> list[str]:
        raise RuntimeError(f"no sandbox: {self.describe()}")

    @classmethod
    def on_this_machine(cls) -> IsolationBackend:
        return cls("--isolation none")
