"""Kernel isolation for grading: student code runs in a bubblewrap sandbox (issue 13).

Student code runs in the kernel that nbgrader's tests run in, so it must be assumed hostile.
This module is the course's isolation backend, bubblewrap, and the kernel manager that starts
kernels through any backend (the seam, `IsolationBackend` and its registry, is
vaecourse/isolation.py: another isolation is one new class there, registered with
`@register_backend`):

* `probe()` tries, on this machine, each namespace the sandbox uses and each resource limit,
  and returns a `Bubblewrap` that says what is really available (`describe()` is one line
  for the grading log), or `NoIsolation(reason)` saying why there is none; `NoIsolation("--no-sandbox")`
  is the honest `--no-sandbox` answer.
* `Bubblewrap.wrap` (`bwrap_command`) runs the kernel under `bwrap`: own user (no capabilities), PID,
  network, IPC and UTS namespaces; an empty root holding only the interpreter, its site-packages,
  the system libraries, the read-only paths it is given (the MNIST folder), one writable working
  folder (the notebook's) and a private size-capped /tmp. The kernel talks ZMQ over unix sockets
  (transport "ipc") in a private folder bound into the sandbox, so it has no network at all.
  Limits are rlimits set before bwrap starts (inherited by everything in the sandbox):
  RLIMIT_AS (memory), RLIMIT_FSIZE (file size), RLIMIT_NPROC (processes), plus a pids
  cgroup where RLIMIT_NPROC cannot bind (see below).
* `SandboxedKernelManager` is a jupyter_client `AsyncKernelManager` that starts the kernel through
  the backend it is configured with (its record; bubblewrap by default), and
  `vaecourse.nbg.sandboxedexecute.configure_nbgrader(config, isolation, ...)` makes nbgrader's autograde use it.

Why rlimits and not cgroups for memory: a cgroup needs a writable cgroup tree, which CI
containers rarely give; rlimits need nothing. RLIMIT_AS caps each process's address space
(torch maps about 3.7 GB of virtual memory just to import, see DEFAULT_MEMORY), not the
sandbox's total. RLIMIT_NPROC does not bind when the grader runs as root: the sandbox's user
maps to host root, and Linux exempts root's uid from the process count. So `probe()` forks
past a small cap to see whether RLIMIT_NPROC binds; if not, whether a pids cgroup (v1 or v2)
can be made and binds; and `describe()` says which, or "no process cap" rather than claim
one that is not there. The PID namespace guarantees in any case that no process outlives
the kernel.

Wiring: the grading command probes once (`probe()`, about a second) and hands the backend
(a frozen, picklable dataclass) to every job in its JobSpec; the job process passes it to
`vaecourse.nbg.config.configure(c, grading=True, isolation=...)`, which makes nbgrader's
autograde start its kernels with SandboxedKernelManager (vaecourse/nbg/sandboxedexecute.py),
given the backend's record. Each notebook's own autograded folder is then the only writable
one, and the job's gradebook.db beside it is out of view.
"""
from __future__ import annotations

import dataclasses
import os
import resource
import shutil
import signal
import site
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import ClassVar

from jupyter_client.manager import AsyncKernelManager
from traitlets import Bool, CaselessStrEnum, Dict, List, Unicode

from vaecourse.isolation import IsolationBackend, KernelSession, NoIsolation, isolation_from_record, register_backend

GiB = 1 << 30
MiB = 1 << 20
# Importing torch, torchvision and matplotlib in an ipykernel maps about 3.7 GB of virtual
# memory (VmPeak; Python 3.11, torch 2.14 CPU, 2 cores); a complete course notebook in quick
# mode peaks at 4.4-4.6 GB virtual (1.0-1.1 GB resident), measured in this sandbox for
# 01, 05, 09 and 10. 6 GiB leaves 1.5 GB for thread stacks on bigger machines and still
# stops an 8 GiB allocation.
DEFAULT_MEMORY = 6 * GiB
DEFAULT_FILE_SIZE = 100 * 1000 * 1000  # 100 MB: the largest file student code may write
DEFAULT_PROCESSES = 512  # threads count too (torch starts one per core, and more)
DEFAULT_TMP_SIZE = 512 * MiB  # the private /tmp is RAM: cap it
SANDBOX_UID = 1000  # the kernel's uid inside its user namespace (it has no capabilities)
INSTALL_HINT = "apt-get install bubblewrap"
# Variables copied from the grader's environment into the kernel's when set. Everything
# else is dropped (tokens, paths to the course, JPY_PARENT_PID).
DEFAULT_PASS_ENV = (
    "NBGRADER_EXECUTION",
    "NBGRADER_VALIDATING",
    "VAE_COURSE_DATA",
    "VAE_COURSE_QUICK",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "PYTHONHASHSEED",
    "LANG",
    "TZ",
)
# Namespaces the sandbox cannot do without (mount is bwrap itself); "user" is optional:
# without it the kernel runs as root with every capability dropped.
REQUIRED_NAMESPACES = ("mount", "pid", "net", "ipc")
NAMESPACE_FLAGS = {
    "user": "--unshare-user",
    "pid": "--unshare-pid",
    "net": "--unshare-net",
    "ipc": "--unshare-ipc",
    "uts": "--unshare-uts",
}
NAMESPACE_WORDS = {"user": "user", "pid": "PID", "net": "network", "ipc": "IPC", "uts": "UTS"}


@dataclasses.dataclass(frozen=True)
class Limits:
    """Resource limits for the sandboxed kernel, in bytes and processes (0: no limit)."""

    memory: int = DEFAULT_MEMORY  # RLIMIT_AS, per process
    file_size: int = DEFAULT_FILE_SIZE  # RLIMIT_FSIZE
    # RLIMIT_NPROC, or pids.max of a pids cgroup (see PidsCgroup). RLIMIT_NPROC binds only when
    # the grader is not root, and then counts the grader's own tasks outside the sandbox too.
    processes: int = DEFAULT_PROCESSES
    tmp_size: int = DEFAULT_TMP_SIZE  # size of the private /tmp tmpfs

    def apply(self) -> None:
        """Set the rlimits on this process (used as preexec_fn, between fork and exec)."""
        for which, value in ((resource.RLIMIT_AS, self.memory), (resource.RLIMIT_FSIZE, self.file_size),
                             (resource.RLIMIT_NPROC, self.processes)):
            if value:
                resource.setrlimit(which, (value, value))


def _size(n: int) -> str:
    if n % GiB == 0:
        return f"{n // GiB} GiB"
    if n % MiB == 0:
        return f"{n // MiB} MiB"
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000} MB"
    return f"{n} bytes"


@register_backend
@dataclasses.dataclass(frozen=True)
class Bubblewrap(IsolationBackend):
    """The bubblewrap sandbox this machine gives (from `probe()`); see the module doc."""

    bwrap: str | None  # path of the bwrap binary; None: no sandbox
    namespaces: tuple[str, ...] = ()  # those that worked: mount, user, pid, net, ipc, uts
    limits: Limits | None = None  # the limits the sandbox applies
    process_cap: str = ""  # what caps the sandbox's processes (probed): "pids cgroup", "RLIMIT_NPROC" or ""
    reason: str = ""  # why there is no sandbox, or what is missing
    name: ClassVar[str] = "bubblewrap"

    @property
    def available(self) -> bool:
        return self.bwrap is not None and all(ns in self.namespaces for ns in REQUIRED_NAMESPACES)

    @classmethod
    def on_this_machine(cls) -> IsolationBackend:
        return probe()  # the namespaces bwrap can make here, or NoIsolation saying why there is none

    def describe(self) -> str:
        """One line for the grading log saying exactly what student code is kept from."""
        if not self.available:
            return NoIsolation(self.reason).describe()
        own = [NAMESPACE_WORDS[ns] for ns in ("user", "pid", "net", "ipc", "uts") if ns in self.namespaces]
        parts = [f"bubblewrap: own {'/'.join(own)} namespaces"]
        if "user" not in self.namespaces:
            parts.append("root without capabilities (no user namespace)")
        parts += ["read-only system", "no network"]
        lim = self.limits
        if lim is not None:
            parts.append(f"private /tmp ({_size(lim.tmp_size)})" if lim.tmp_size else "private /tmp")
            if lim.memory:
                parts.append(f"memory cap {_size(lim.memory)} per process")
            if lim.file_size:
                parts.append(f"file cap {_size(lim.file_size)}")
            if lim.processes and self.process_cap:
                parts.append(f"process cap {lim.processes} ({self.process_cap})")
            elif lim.processes:
                parts.append("no process cap (RLIMIT_NPROC does not bind a sandbox that maps to root, "
                             "no writable pids cgroup)")
        else:
            parts.append("private /tmp")
        return ", ".join(parts)

    def wrap(self, command, *, writable, cwd, read_only=(), env=None) -> list[str]:
        return bwrap_command(self, command, writable=writable, cwd=cwd, read_only=read_only, env=env)

    def preexec(self):
        """The rlimits, set on bwrap before it starts (everything in the sandbox inherits them)."""
        return (self.limits or Limits()).apply

    def open_kernel(self) -> KernelSession:
        """The rlimits and, when the probe found that only a pids cgroup binds, a cgroup of the kernel's own."""
        limits = self.limits or Limits()
        if self.process_cap != "pids cgroup" or not limits.processes:
            return KernelSession(preexec=limits.apply)
        group = PidsCgroup.create(limits.processes)

        def enter():
            limits.apply()
            group.enter()

        def close() -> str:
            return "" if group.remove() else f"sandbox cgroup {group.path} still has processes; left in place"

        return KernelSession(preexec=enter, close=close)

    def kernel_process(self, launched):
        """bwrap -> bwrap (pid 1 of the PID namespace) -> kernel: the earliest child at the kernel's level."""
        level = launched.children()
        if "pid" in self.namespaces:  # bwrap's init is pid 1; the kernel is its first child
            level = [c for p in level for c in p.children()]
        return min(level, key=lambda p: (p.create_time(), p.pid)) if level else None

    @classmethod
    def from_record(cls, fields: dict) -> "Bubblewrap":
        limits = fields.get("limits")
        return cls(**{**fields, "namespaces": tuple(fields.get("namespaces", ())),
                      "limits": Limits(**limits) if limits is not None else None})


def default_bubblewrap() -> Bubblewrap:
    """bwrap from PATH with every namespace and the default limits: what a kernel manager uses
    when it is given no backend (the probe may find less; `configure_nbgrader` passes what it found)."""
    return Bubblewrap(bwrap=shutil.which("bwrap"), namespaces=("mount", "user", "pid", "net", "ipc", "uts"),
                      limits=Limits())


# ---------------------------------------------------------------- what the sandbox sees

def python_paths() -> list[str]:
    """The interpreter's prefixes and site-packages, symlinks resolved, outermost only."""
    candidates = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
                  str(Path(os.path.realpath(sys.executable)).parent.parent), *site.getsitepackages()}
    return _outermost(os.path.realpath(p) for p in candidates if p and os.path.exists(p))


def _outermost(paths) -> list[str]:
    out: list[str] = []
    for p in sorted(set(paths), key=len):
        if not any(p == q or p.startswith(q.rstrip("/") + "/") for q in out):
            out.append(p)
    return out


def kernel_python() -> str:
    """The interpreter to run in the sandbox: the venv's python under its resolved prefix.

    `sys.executable` may sit behind a symlinked venv (.venv -> /elsewhere/.venv) that the
    sandbox does not show; the resolved prefix is bound, and a venv is recognised from the
    path of the python that is started, so start it under the resolved prefix.
    """
    candidate = Path(os.path.realpath(sys.prefix)) / "bin" / Path(sys.executable).name
    return str(candidate) if candidate.exists() else os.path.realpath(sys.executable)


SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
SYSTEM_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
                "/etc/alternatives", "/etc/fonts")


def _system_view() -> list[str]:
    args: list[str] = []
    for d in SYSTEM_DIRS:
        if os.path.islink(d):
            args += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            args += ["--ro-bind", d, d]
    for f in SYSTEM_FILES:
        args += ["--ro-bind-try", f, f]
    return args


def _ro_binds(paths) -> list[str]:
    """ro-bind each path at its resolved place and, when it is a symlink, at its own name too."""
    args: list[str] = []
    for p in paths:
        p = os.path.abspath(str(p))
        real = os.path.realpath(p)
        args += ["--ro-bind", real, real]
        if real != p:
            args += ["--ro-bind", real, p]
    return args


COURSE_PACKAGE = "vaecourse"


def course_package_paths(roots) -> list[str]:
    """Where the course package lies inside `roots` (the interpreter's folders the sandbox shows).

    The package holds what student code must never read: the reference answers (vaecourse.reference)
    and the grader's judges (vaecourse.verdicts). An editable install leaves only its finder and
    metadata in site-packages (the checkout itself is not shown); a wheel or a copy leaves the
    package itself. Both are hidden: the package folder, its metadata and the editable finder.
    """
    import vaecourse

    found = {os.path.realpath(Path(vaecourse.__file__).parent)}
    for root in roots:
        site_dirs = [root, *(str(p) for p in Path(root).glob("lib*/python*/site-packages"))]
        bins = [os.path.join(d, "bin") for d in site_dirs]  # <venv>/bin, or <target>/bin of pip install --target
        for folder in [*site_dirs, *(os.path.join(d, "__pycache__") for d in site_dirs), *bins]:
            if not os.path.isdir(folder):
                continue
            for entry in os.listdir(folder):
                if _of_the_course_package(entry.lower(), in_bin=folder.endswith("bin")):
                    found.add(os.path.realpath(os.path.join(folder, entry)))
    inside = [p for p in sorted(found)
              if any(p == r or p.startswith(r.rstrip("/") + "/") for r in map(os.path.realpath, roots))]
    return inside


def _of_the_course_package(name: str, in_bin: bool) -> bool:
    """The package, its metadata, the editable finder (and its .pyc) or a console script of it."""
    if in_bin:
        return name.startswith(COURSE_PACKAGE + "-")  # vaecourse-build and the like
    return (name == COURSE_PACKAGE
            or (name.startswith(COURSE_PACKAGE + "-") and name.endswith((".dist-info", ".egg-info", ".egg-link")))
            or (name.startswith("__editable__") and COURSE_PACKAGE in name))


def _hide_course_package(roots) -> list[str]:
    """bwrap arguments that put an empty read-only folder over each course-package folder in `roots`
    (import vaecourse.reference then fails) and /dev/null over each of its files (the editable finder)."""
    args: list[str] = []
    for path in course_package_paths(roots):
        if os.path.isdir(path):
            args += ["--tmpfs", path, "--remount-ro", path]
        else:
            args += ["--ro-bind", "/dev/null", path]
    return args


def kernel_env(extra: dict | None = None) -> dict:
    """The whole environment of the sandboxed kernel: a minimal base plus `extra`."""
    bindir = str(Path(kernel_python()).parent)
    env = {
        "PATH": f"{bindir}:/usr/local/bin:/usr/bin:/bin",
        "HOME": "/tmp",
        "TMPDIR": "/tmp",
        "USER": "student",
        "LOGNAME": "student",
        "LANG": "C.UTF-8",
        "MPLCONFIGDIR": "/tmp/.matplotlib",
        "IPYTHONDIR": "/tmp/.ipython",
        "JUPYTER_RUNTIME_DIR": "/tmp/.jupyter-runtime",
        "XDG_CACHE_HOME": "/tmp/.cache",
        "PYTHONDONTWRITEBYTECODE": "1",
        # glibc reserves 64 MiB of address space per thread arena (up to 8 per core): under
        # RLIMIT_AS that is memory the kernel cannot use. Two arenas cost nothing measurable.
        "MALLOC_ARENA_MAX": "2",
        # Checkpoints (notebook 05 writes one, 06-10 load it or train a small model) stay in
        # the kernel's private /tmp: no job reads a model another job wrote.
        "VAE_COURSE_CHECKPOINTS": "/tmp/checkpoints",
    }
    env.update({k: str(v) for k, v in (extra or {}).items()})
    return env


def bwrap_command(isolation: Bubblewrap, command: list[str], *, writable: list[str], cwd: str,
                  read_only: list[str] = (), env: dict | None = None) -> list[str]:
    """The bwrap command line that runs `command` in the sandbox `isolation` describes.

    `writable` folders are bound read-write at their own paths, `read_only` ones read-only;
    the interpreter and system libraries are added here. The kernel starts in `cwd`.
    """
    if not isolation.available:
        raise RuntimeError(f"no sandbox: {isolation.describe()}")
    limits = isolation.limits or Limits()
    args = [isolation.bwrap, "--die-with-parent", "--new-session"]
    for ns in ("pid", "net", "ipc", "uts"):
        if ns in isolation.namespaces:
            args.append(NAMESPACE_FLAGS[ns])
    if "user" in isolation.namespaces:
        args += ["--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--disable-userns"]
    args += ["--cap-drop", "ALL"]
    if "uts" in isolation.namespaces:
        args += ["--hostname", "sandbox"]
    args += ["--clearenv", "--unsetenv", "JPY_PARENT_PID"]
    for key, value in kernel_env(env).items():
        args += ["--setenv", key, value]
    args += _system_view()
    args += ["--proc", "/proc", "--dev", "/dev"]
    if limits.tmp_size:
        args += ["--size", str(limits.tmp_size)]
    args += ["--tmpfs", "/tmp"]
    args += _ro_binds(python_paths())
    args += _hide_course_package(python_paths())
    args += _ro_binds(read_only)
    for w in writable:
        real = os.path.realpath(w)
        args += ["--bind", real, real]
        if real != os.path.abspath(w):
            args += ["--bind", real, os.path.abspath(w)]
    # bwrap's root is a tmpfs, writable and uncapped unless remounted: without this, student
    # code could fill memory through any folder bwrap made for a mount point (/work, /root).
    args += ["--remount-ro", "/"]
    args += ["--chdir", cwd, "--", *command]
    return args


# ---------------------------------------------------------------- probing this machine

_PROBE_SCRIPT = r"""
import os, resource, sys
fsize, nproc = int(sys.argv[1]), int(sys.argv[2])
out = []
try:
    bytearray(1 << 30)
    out.append("memory:unbounded")
except MemoryError:
    out.append("memory:capped")
try:
    with open("/tmp/probe", "wb") as f:
        f.write(b"x" * (fsize + 4096))
    out.append("fsize:unbounded")
except OSError:
    out.append("fsize:capped")
children = []
try:
    for _ in range(nproc + 4):
        pid = os.fork()
        if pid == 0:
            import time
            time.sleep(5)
            os._exit(0)
        children.append(pid)
    out.append("nproc:unbounded")
except OSError:
    out.append("nproc:capped")
for pid in children:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
print(" ".join(out))
"""


def _run(args: list[str], preexec=None, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, preexec_fn=preexec,
                          stdin=subprocess.DEVNULL)


def probe(limits: Limits | None = None, bwrap: str | None = None) -> IsolationBackend:
    """Find bwrap and try, here and now, each namespace and limit the sandbox relies on.

    Each namespace is tried in its own `bwrap ... true`; then one sandbox as the kernel gets
    it (all namespaces, the rlimits) runs a script that allocates 1 GiB under a 512 MiB cap,
    writes past a 1 MiB file cap and forks past an 8-process cap, so the answer says which
    limits bind. About a second.
    """
    limits = limits or Limits()
    bwrap = bwrap or shutil.which("bwrap")
    if not bwrap:
        return NoIsolation(f"bwrap not installed: {INSTALL_HINT}")
    found = _probe_namespaces(bwrap, limits)
    if not found.available:
        return found
    # The limits, tried with small values in a real sandbox like the kernel's.
    test_limits = Limits(memory=512 * MiB, file_size=MiB, processes=8, tmp_size=8 * MiB)
    try:
        run = _run_probe_script(dataclasses.replace(found, limits=test_limits), test_limits.apply)
    except (OSError, subprocess.SubprocessError) as exc:
        return NoIsolation(f"a python in the sandbox does not run: {exc}")
    words = set(run.stdout.split())
    if run.returncode != 0 or not words:
        return NoIsolation(f"a python in the sandbox does not run: {run.stderr.strip()[-300:]}")
    problems = [w.split(":")[0] for w in sorted(words) if w.endswith("unbounded") and not w.startswith("nproc")]
    if problems:
        return NoIsolation(f"rlimits do not bind in the sandbox ({', '.join(problems)})")
    if "nproc:capped" in words:
        return dataclasses.replace(found, process_cap="RLIMIT_NPROC")
    return _probe_pids_cgroup(found, test_limits)


def _probe_namespaces(bwrap: str, limits: Limits) -> IsolationBackend:
    """The Bubblewrap of the namespaces bwrap can create here (NoIsolation, with the reason, if one it needs fails)."""
    base = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "true"]
    try:
        plain = _run([bwrap, *base])
    except (OSError, subprocess.SubprocessError) as exc:
        return NoIsolation(f"bwrap does not run: {exc}")
    if plain.returncode != 0:
        return NoIsolation(f"bwrap cannot create a mount namespace here: {plain.stderr.strip()[:200]}")
    namespaces = ["mount"]
    failures = []
    for ns, flag in NAMESPACE_FLAGS.items():
        run = _run([bwrap, flag, *base])
        if run.returncode == 0:
            namespaces.append(ns)
        else:
            failures.append(f"{ns}: {run.stderr.strip()[:120]}")
    found = Bubblewrap(bwrap=bwrap, namespaces=tuple(namespaces), limits=limits, reason="; ".join(failures))
    if not found.available:
        missing = [ns for ns in REQUIRED_NAMESPACES if ns not in namespaces]
        return NoIsolation(f"bwrap cannot create {', '.join(missing)} namespaces ({found.reason})")
    return found


def _run_probe_script(tried: Bubblewrap, preexec) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="vaecourse-probe-") as work:
        cmd = bwrap_command(tried, [kernel_python(), "-I", "-c", _PROBE_SCRIPT, str(MiB), "8"],
                            writable=[work], cwd=work)
        return _run(cmd, preexec=preexec, timeout=60)


def _probe_pids_cgroup(found: Bubblewrap, test_limits: Limits) -> Bubblewrap:
    """RLIMIT_NPROC does not bind (root): try a pids cgroup, with the same fork test."""
    try:
        group = PidsCgroup.create(8)
    except OSError:
        return found

    def enter():
        test_limits.apply()
        group.enter()

    try:
        run = _run_probe_script(dataclasses.replace(found, limits=test_limits), enter)
    except (OSError, subprocess.SubprocessError):
        return found
    finally:
        group.remove()
    if run.returncode == 0 and "nproc:capped" in run.stdout.split():
        return dataclasses.replace(found, process_cap="pids cgroup")
    return found


# ---------------------------------------------------------------- the process cap

class PidsCgroup:
    """A child of this process's pids cgroup (v1 or v2) whose pids.max caps the sandbox.

    RLIMIT_NPROC does not bind processes whose uid is host root (the sandbox's user maps
    to the grader's, root on the grading machine), so where the cgroup tree is writable (root
    on most machines, not in most containers) the sandbox's tasks, threads included, are
    counted in a cgroup of their own. bwrap is moved into it between fork and exec, so
    everything in the sandbox is born inside; nothing in the sandbox can leave it (no
    cgroupfs is mounted there and it has no capabilities).
    """

    def __init__(self, path: str):
        self.path = path

    @staticmethod
    def parent() -> str | None:
        """Where this process's pids cgroup is, as a folder, or None."""
        own: dict[str, str] = {}
        with open("/proc/self/cgroup") as f:
            for line in f:
                _, controllers, path = line.rstrip("\n").split(":", 2)
                for c in controllers.split(","):
                    own[c] = path
        v2 = None
        with open("/proc/self/mountinfo") as f:
            for line in f:
                fields = line.split()
                sep = fields.index("-")
                root, mount, fstype, opts = fields[3], fields[4], fields[sep + 1], fields[sep + 3]
                path = own.get("pids" if fstype == "cgroup" else "", "/")
                if root != "/" and path.startswith(root):
                    path = path[len(root):]
                folder = os.path.join(mount, path.lstrip("/"))
                if fstype == "cgroup" and "pids" in opts.split(","):
                    return folder
                if fstype == "cgroup2" and "" in own:
                    v2 = folder
        if v2 and os.path.exists(os.path.join(v2, "cgroup.subtree_control")):
            with open(os.path.join(v2, "cgroup.subtree_control")) as f:
                if "pids" in f.read().split():
                    return v2
        return None

    @classmethod
    def create(cls, limit: int) -> "PidsCgroup":
        """A new cgroup with pids.max = limit; OSError when there is no writable pids cgroup."""
        parent = cls.parent()
        if parent is None:
            raise FileNotFoundError("no pids cgroup controller")
        path = os.path.join(parent, f"vaecourse-sandbox-{uuid.uuid4().hex[:12]}")
        os.mkdir(path)
        try:
            with open(os.path.join(path, "pids.max"), "w") as f:
                f.write(str(limit))
        except OSError:
            os.rmdir(path)
            raise
        return cls(path)

    def enter(self) -> None:
        """Move this process into the cgroup (as a preexec_fn: bwrap, before it runs)."""
        with open(os.path.join(self.path, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))

    def remove(self, wait: float = 2.0) -> bool:
        """Remove the cgroup once its processes are gone (a PID namespace dies quickly)."""
        import time

        deadline = time.monotonic() + wait
        while True:
            try:
                os.rmdir(self.path)
                return True
            except FileNotFoundError:
                return True
            except OSError:
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.05)


# ---------------------------------------------------------------- the kernel manager

class SandboxedKernelManager(AsyncKernelManager):
    """An AsyncKernelManager whose kernel starts through an isolation backend (vaecourse.isolation):
    bubblewrap unless it is given another (see the module doc).

    Configure it with traitlets (configure_nbgrader does): `backend` (the backend's record, with its
    limits and the probed namespaces), `workdir` (the writable folder; empty: the folder the kernel
    starts in, the notebook's), `read_only` (extra folders to show, e.g. the MNIST data), `env`
    (variables to set in the kernel), `pass_env` (names to copy from the grader's environment). The
    connection file and ZMQ sockets live in a private folder bound into the sandbox.
    """

    transport = CaselessStrEnum(["ipc"], default_value="ipc", config=True,
                                help="ZMQ transport: only ipc (unix sockets), the sandbox has no network")
    backend = Dict(config=True, help="the isolation backend's record (IsolationBackend.record()); "
                                     "empty: bubblewrap from PATH, every namespace, the default limits")
    workdir = Unicode("", config=True, help="the one writable folder (default: the kernel's cwd)")
    read_only = List(Unicode(), config=True, help="folders shown read-only (the MNIST data folder)")
    env = Dict(config=True, help="variables set in the kernel's environment")
    pass_env = List(Unicode(), default_value=list(DEFAULT_PASS_ENV), config=True,
                    help="variables copied from the grader's environment when set")
    ipc_in_workdir = Bool(True, config=True,
                          help="put the sockets in a hidden folder of the working folder when the "
                               "path is short enough for a unix socket (else a private temp folder)")

    _ipc_dir: str | None = None
    _kernel_proc = None  # psutil.Process of the kernel inside the sandbox, once found
    _session: KernelSession | None = None  # what the backend holds while the kernel lives (a pids cgroup)

    @property
    def isolation(self) -> IsolationBackend:
        return isolation_from_record(self.backend) if self.backend else default_bubblewrap()

    def _make_ipc_dir(self, workdir: str) -> str:
        # A unix socket path has at most 107 bytes; the longest here is <dir>/kernel-<8>-ipc-5.
        if self.ipc_in_workdir and len(os.path.join(workdir, ".kernel-xxxxxxxx", "kernel-xxxxxxxx-ipc-99")) < 100:
            path = tempfile.mkdtemp(prefix=".kernel-", dir=workdir)
        else:  # in /tmp itself: $TMPDIR may be as long as the working folder (a Dask worker's often is)
            path = tempfile.mkdtemp(prefix="vaek-", dir="/tmp" if os.path.isdir("/tmp") else None)
        os.chmod(path, 0o700)
        return path

    async def _async_pre_start_kernel(self, **kw):
        isolation = self.isolation
        if not isolation.available:
            raise RuntimeError(f"cannot start a sandboxed kernel: {isolation.describe()}")
        cwd = os.path.abspath(kw.get("cwd") or os.getcwd())
        workdir = os.path.abspath(self.workdir or cwd)
        if not (cwd == workdir or cwd.startswith(workdir.rstrip("/") + "/")):
            raise ValueError(f"the kernel's folder {cwd} is outside the sandbox's working folder {workdir}")
        if self._ipc_dir is None or not os.path.isdir(self._ipc_dir):
            self._ipc_dir = self._make_ipc_dir(workdir)
            name = f"kernel-{uuid.uuid4().hex[:8]}"
            self.connection_file = os.path.join(self._ipc_dir, name + ".json")
            self.ip = os.path.join(self._ipc_dir, name + "-ipc")
        kernel_cmd, kw = await super()._async_pre_start_kernel(**kw)
        if kernel_cmd and os.path.realpath(kernel_cmd[0]) == os.path.realpath(sys.executable):
            kernel_cmd = [kernel_python(), *kernel_cmd[1:]]
        launch_env = kw.get("env") or os.environ
        env = {k: launch_env[k] for k in self.pass_env if k in launch_env}
        env.update(self.env)
        writable = [workdir] + ([] if self._ipc_dir.startswith(workdir + "/") else [self._ipc_dir])
        cmd = isolation.wrap(kernel_cmd, writable=writable, cwd=cwd, read_only=list(self.read_only), env=env)
        kw["env"] = {"PATH": os.environ.get("PATH", os.defpath)}  # the wrapper's own; it sets the kernel's
        if self._session is None:
            self._session = isolation.open_kernel()
        kw["preexec_fn"] = self._session.preexec
        # Without JPY_PARENT_PID, ipykernel prints an 8-line "--existing" banner on its stdout
        # (the grader's log). Student output reaches the notebook over ZMQ, not this stream.
        kw.setdefault("stdout", subprocess.DEVNULL)
        self._kernel_proc = None
        self.log.debug("sandboxed kernel: %s", " ".join(cmd))
        return cmd, kw

    def kernel_process(self):
        """The kernel's process (psutil), inside the sandbox (the backend's `kernel_process`)."""
        import psutil

        if self._kernel_proc is not None and self._kernel_proc.is_running():
            return self._kernel_proc
        pid = getattr(self.provisioner, "pid", None)
        if pid is None:
            return None
        try:
            self._kernel_proc = self.isolation.kernel_process(psutil.Process(pid))
        except psutil.Error:
            return None
        return self._kernel_proc

    async def _async_signal_kernel(self, signum: int) -> None:
        """Signal the kernel itself (and its process group), not bwrap.

        jupyter_client signals the process group of the process it started, which is bwrap's;
        bwrap's --new-session puts the kernel in a session and group of its own, and bwrap
        does not forward signals. So an interrupt (SIGINT) goes to the kernel's group, found
        through the process tree. Other signals also go to bwrap, so SIGTERM or SIGKILL still
        take the whole sandbox down (its PID namespace dies with its pid 1).
        """
        proc = self.kernel_process()
        if proc is not None:
            try:
                os.killpg(os.getpgid(proc.pid), signum)
            except ProcessLookupError:
                pass
            except OSError:
                os.kill(proc.pid, signum)
        if signum != signal.SIGINT or proc is None:
            await super()._async_signal_kernel(signum)

    signal_kernel = _async_signal_kernel

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart and self._ipc_dir:
            shutil.rmtree(self._ipc_dir, ignore_errors=True)
            self._ipc_dir = None
        if not restart and self._session is not None:
            if problem := self._session.close():
                self.log.warning("%s", problem)
            self._session = None

    cleanup_resources = _async_cleanup_resources
