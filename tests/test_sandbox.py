"""The grading sandbox (vaecourse/sandbox.py): real kernels in bwrap, real attacks, no mocks.

Each attack a hostile student made (issue 13) is tried from inside a kernel started by
SandboxedKernelManager, and must fail without harming the grader. Without bwrap these tests
skip, unless VAE_COURSE_REQUIRE_SANDBOX is set (CI sets it and installs bubblewrap): then a
missing sandbox fails them.
"""
import asyncio
import dataclasses
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import nbformat
import psutil
import pytest
from nbclient import NotebookClient
from traitlets.config import Config

from vaecourse import sandbox
from vaecourse.nbg.sandboxedexecute import configure_nbgrader, sandboxed_execute_class
from vaecourse.isolation import IsolationBackend, NoIsolation
from vaecourse.sandbox import Bubblewrap, Limits, SandboxedKernelManager, probe

ROOT = Path(__file__).resolve().parents[1]
KERNEL_START_S = 120


@pytest.fixture()
def layout(tmp_path):
    """A job folder (the kernel's, writable), a course folder beside it with secrets, a data folder."""
    job = tmp_path / "job" / "student" / "01_mnist"
    course = tmp_path / "course"
    data = tmp_path / "data"
    for d in (job, course / "solutions", data):
        d.mkdir(parents=True)
    (course / "gradebook.db").write_text("SECRET-GRADEBOOK")
    (course / "solutions" / "01_mnist.ipynb").write_text("SECRET-SOLUTION")
    (tmp_path / "job" / "other_student.txt").write_text("another job's file")
    (data / "digits.txt").write_text("0123456789")
    return {"job": job, "course": course, "data": data, "tmp": tmp_path}


def manager(isolation: IsolationBackend, layout, **overrides) -> SandboxedKernelManager:
    config = Config()
    configure_nbgrader(config, isolation, data_dir=layout["data"])
    km = SandboxedKernelManager(kernel_name="python3", config=config)
    for key, value in overrides.items():
        setattr(km, key, value)
    return km


def run_cells(km: SandboxedKernelManager, cwd: Path, cells: list[str], timeout: float = 60) -> list[dict]:
    """Run each code cell in a fresh sandboxed kernel; per cell: stdout text and error name."""

    async def go():
        await km.start_kernel(cwd=str(cwd))
        kc = km.client()
        kc.start_channels()
        results = []
        try:
            await kc.wait_for_ready(timeout=KERNEL_START_S)
            for code in cells:
                out = {"stdout": "", "error": None, "evalue": None}

                def hook(msg, out=out):
                    if msg["msg_type"] == "stream":
                        out["stdout"] += msg["content"]["text"]
                    elif msg["msg_type"] == "error":
                        out["error"], out["evalue"] = msg["content"]["ename"], msg["content"]["evalue"]

                await kc.execute_interactive(code, timeout=timeout, output_hook=hook)
                results.append(out)
        finally:
            kc.stop_channels()
            await km.shutdown_kernel(now=False)
        return results

    return asyncio.run(go())


# ---------------------------------------------------------------- unit tests (no kernel)

def test_describe_says_what_is_isolated():
    full = Bubblewrap(bwrap="/usr/bin/bwrap", namespaces=("mount", "user", "pid", "net", "ipc", "uts"),
                     limits=Limits(memory=4 * sandbox.GiB, file_size=100_000_000, processes=64,
                                   tmp_size=256 * sandbox.MiB), process_cap="pids cgroup")
    assert full.available
    assert full.describe() == (
        "bubblewrap: own user/PID/network/IPC/UTS namespaces, read-only system, no network, "
        "private /tmp (256 MiB), memory cap 4 GiB per process, file cap 100 MB, process cap 64 (pids cgroup)")
    no_cap = Bubblewrap(bwrap="/usr/bin/bwrap", namespaces=("mount", "pid", "net", "ipc"), limits=Limits())
    text = no_cap.describe()
    assert text.startswith("bubblewrap: own PID/network/IPC namespaces, root without capabilities")
    assert "no process cap" in text and "memory cap 6 GiB per process" in text
    assert NoIsolation("--no-sandbox").describe() == (
        "no sandbox (--no-sandbox): student code can read and write everything the grader can")
    missing_net = Bubblewrap(bwrap="/usr/bin/bwrap", namespaces=("mount", "pid", "ipc"), reason="no net")
    assert not missing_net.available and missing_net.describe().startswith("no sandbox (no net)")


def test_probe_without_bwrap(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    found = probe()
    assert not found.available
    assert found.describe() == ("no sandbox (bwrap not installed: apt-get install bubblewrap): "
                                "student code can read and write everything the grader can")
    broken = probe(bwrap="/nonexistent/bwrap")
    assert not broken.available and broken.describe().startswith("no sandbox (bwrap does not run")


def test_bwrap_command_shows_only_what_it_must(tmp_path):
    iso = Bubblewrap(bwrap="bwrap", namespaces=("mount", "user", "pid", "net", "ipc", "uts"), limits=Limits())
    cmd = sandbox.bwrap_command(iso, ["python", "-c", "pass"], writable=[str(tmp_path)], cwd=str(tmp_path),
                                read_only=["/data"], env={"VAE_COURSE_QUICK": "1"})
    joined = " ".join(cmd)
    for flag in ("--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-user", "--disable-userns",
                 "--die-with-parent", "--new-session", "--clearenv", "--cap-drop ALL"):
        assert flag in joined
    assert ["--unsetenv", "JPY_PARENT_PID"] == cmd[cmd.index("--unsetenv"):cmd.index("--unsetenv") + 2]
    assert "--ro-bind / /" not in joined and "--bind / /" not in joined
    assert ["--bind", str(tmp_path.resolve()), str(tmp_path.resolve())] == \
        cmd[cmd.index("--bind"):cmd.index("--bind") + 3]
    assert ["--setenv", "VAE_COURSE_QUICK", "1"] == \
        cmd[cmd.index("VAE_COURSE_QUICK") - 1:cmd.index("VAE_COURSE_QUICK") + 2]
    assert cmd[-4:] == ["--", "python", "-c", "pass"]
    with pytest.raises(RuntimeError, match="no sandbox"):
        sandbox.bwrap_command(NoIsolation("test"), ["true"], writable=[], cwd="/")


def test_probe_finds_the_sandbox(isolation):
    assert isolation.available
    assert {"mount", "pid", "net", "ipc"} <= set(isolation.namespaces)
    assert isolation.describe().startswith("bubblewrap: own ")


# ---------------------------------------------------------------- attacks from a real kernel

@pytest.mark.slow
def test_files_outside_the_view_are_invisible(isolation, layout):
    course = layout["course"]
    code = f"""
import os
for p in [{str(course / 'gradebook.db')!r}, {str(course / 'solutions' / '01_mnist.ipynb')!r},
          {str(layout['tmp'] / 'job' / 'other_student.txt')!r}, {str(ROOT / 'solutions')!r}, '/root/.bashrc',
          '/etc/shadow', '/etc/passwd']:
    try:
        open(p).read()
        print('READ', p)
    except OSError as e:
        print('blocked', type(e).__name__)
try:
    import vaecourse.reference  # the course package (reference solutions) is not in the view
    print('IMPORTED vaecourse')
except ImportError:
    print('blocked', 'ImportError')
print('data', open({str(layout['data'] / 'digits.txt')!r}).read())
print('caps', [l.split()[1] for l in open('/proc/self/status') if l.startswith('CapEff')][0])
print('procs', sorted(int(p) for p in os.listdir('/proc') if p.isdigit())[:3])
"""
    [out] = run_cells(manager(isolation, layout), layout["job"], [code])
    assert out["error"] is None, out
    assert "READ" not in out["stdout"] and out["stdout"].count("blocked") == 8
    assert "data 0123456789" in out["stdout"]
    assert "caps 0000000000000000" in out["stdout"]
    assert "procs [1, 2" in out["stdout"]  # its own PID namespace: bwrap's init and the kernel


@pytest.mark.slow
def test_a_copy_of_the_course_package_in_site_packages_is_hidden(isolation, tmp_path, monkeypatch):
    """Installed as a wheel (a copy in site-packages), the package would be in the interpreter's view:
    its answers (vaecourse.reference) and the judges (vaecourse.verdicts) must still be out of reach,
    whatever way the kernel looks (import, importlib with a built name, open(), os.walk, metadata)."""
    site_dir = tmp_path / "venv" / "lib" / "python3.11" / "site-packages"
    package = site_dir / "vaecourse"
    (package / "reference").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "reference" / "__init__.py").write_text("ANSWER = 'SECRET-ANSWER'\n")
    (site_dir / "vaecourse-0.1.0.dist-info").mkdir()
    (site_dir / "vaecourse-0.1.0.dist-info" / "RECORD").write_text("vaecourse/reference/__init__.py,,\n")
    real_paths = sandbox.python_paths()
    monkeypatch.setattr(sandbox, "python_paths", lambda: [*real_paths, str(tmp_path / "venv")])
    assert str(package) in sandbox.course_package_paths(sandbox.python_paths())
    work = tmp_path / "work"
    work.mkdir()
    code = f"""
import importlib, os, sys
sys.path.insert(0, {str(site_dir)!r})
found = []
try:
    found.append(importlib.import_module("vaecourse" + "." + "reference").ANSWER)
except ImportError:
    pass
for root, dirs, files in os.walk({str(site_dir)!r}):
    found += [os.path.join(root, f) for f in files]
try:
    found.append(open({str(package / "reference" / "__init__.py")!r}).read())
except OSError:
    pass
print("FOUND", found)
"""
    cmd = sandbox.bwrap_command(isolation, [sandbox.kernel_python(), "-c", code], writable=[str(work)], cwd=str(work))
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "FOUND []" in done.stdout, done.stdout


@pytest.mark.slow
def test_workdir_is_writable_and_tmp_is_private(isolation, layout):
    host_tmp = Path("/tmp") / f"vaecourse-host-{uuid.uuid4().hex}"
    host_tmp.write_text("host")
    marker = f"vaecourse-kernel-{uuid.uuid4().hex}"
    try:
        [out] = run_cells(manager(isolation, layout), layout["job"], [f"""
import os
open('answer.txt', 'w').write('42')
open('/tmp/{marker}', 'w').write('x')
print('host tmp visible', os.path.exists({str(host_tmp)!r}))
try:
    open({str(layout['data'] / 'new.txt')!r}, 'w').write('x')
    print('DATA WRITABLE')
except OSError as e:
    print('data read-only', e.errno)
for folder in ['/', '/root', '/usr', '/work']:
    try:
        open(os.path.join(folder, 'planted.txt'), 'w').write('x')
        print('WROTE', folder)
    except OSError as e:
        print('read-only', e.errno)
# the job's parent folders are under /tmp here: writable, but in the private /tmp only
for folder in [{str(layout['tmp'])!r}, {str(layout['tmp'] / 'job')!r}]:
    open(os.path.join(folder, 'planted.txt'), 'w').write('x')
print('checkpoints', os.environ['VAE_COURSE_CHECKPOINTS'])
"""])
        assert out["error"] is None, out
        assert (layout["job"] / "answer.txt").read_text() == "42"
        assert not (Path("/tmp") / marker).exists()
        assert "host tmp visible False" in out["stdout"]
        assert "data read-only 30" in out["stdout"]  # EROFS
        # refused: read-only (EROFS 30), or not in the view at all (ENOENT 2: /work in a clone elsewhere)
        refused = out["stdout"].count("\nread-only 30") + out["stdout"].count("\nread-only 2\n")
        assert "WROTE" not in out["stdout"] and refused == 4, out
        assert not (layout["tmp"] / "planted.txt").exists() and not (layout["tmp"] / "job" / "planted.txt").exists()
        assert "checkpoints /tmp/checkpoints" in out["stdout"]
        assert not (layout["data"] / "new.txt").exists()
        # the sockets' folder went with the kernel
        assert [p.name for p in layout["job"].iterdir()] == ["answer.txt"]
    finally:
        host_tmp.unlink()


@pytest.mark.slow
def test_no_network(isolation, layout):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    try:
        [out] = run_cells(manager(isolation, layout), layout["job"], [f"""
import socket
s = socket.socket()
s.settimeout(3)
try:
    s.connect(('127.0.0.1', {port}))
    print('CONNECTED')
except OSError as e:
    print('refused', type(e).__name__)
try:
    socket.create_connection(('pypi.org', 443), timeout=3)
    print('INTERNET')
except OSError as e:
    print('no internet', type(e).__name__)
"""])
        assert out["error"] is None, out
        assert "refused" in out["stdout"] and "no internet" in out["stdout"]
        with pytest.raises(socket.timeout):
            listener.accept()
    finally:
        listener.close()


def _processes_with(token: str) -> list:
    """Live `sleep <token...>` processes, anywhere on the machine."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        cmd = proc.info["cmdline"] or []
        if cmd[:1] == ["sleep"] and any(token in part for part in cmd) and proc.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(proc)
    return found


@pytest.mark.slow
def test_background_process_does_not_outlive_the_kernel(isolation, layout):
    token = f"300.{uuid.uuid4().int % 10**8}"  # a sleep duration nothing else uses
    [out, running] = run_cells(manager(isolation, layout), layout["job"], [f"""
import os, subprocess
p = subprocess.Popen(['sleep', '{token}'], start_new_session=True)
if os.fork() == 0:  # the classic daemon: fork, setsid, fork, parent exits
    os.setsid()
    if os.fork() == 0:
        os.execvp('sleep', ['sleep', '{token}1'])
    os._exit(0)
print('started', p.pid)
""", f"""
import time
time.sleep(1)
print('running', sum('{token}' in open(f'/proc/{{p}}/cmdline').read() for p in os.listdir('/proc') if p.isdigit()))
"""])
    assert out["error"] is None and "started" in out["stdout"], out
    assert running["stdout"] == "running 2\n", running  # both sleeps ran until the kernel went
    deadline = time.time() + 10
    while _processes_with(token) and time.time() < deadline:
        time.sleep(0.2)
    assert _processes_with(token) == []


GRADER_SCRIPT = """
import asyncio, sys
from vaecourse.sandbox import SandboxedKernelManager

async def main():
    km = SandboxedKernelManager(kernel_name="python3")
    await km.start_kernel(cwd=sys.argv[1])
    kc = km.client()
    kc.start_channels()
    await kc.wait_for_ready(timeout=120)
    code = "import subprocess; subprocess.Popen(['sleep', '%s'], start_new_session=True)" % sys.argv[2]
    await kc.execute_interactive(code, timeout=60, output_hook=lambda msg: None)
    print("ready", flush=True)
    await asyncio.sleep(300)

asyncio.run(main())
"""


@pytest.mark.slow
def test_nothing_outlives_a_killed_grader(isolation, layout):
    """kill -9 of the grading job takes its kernel and the kernel's setsid children with it."""
    import subprocess
    import sys

    token = f"300.{uuid.uuid4().int % 10**8}"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    grader = subprocess.Popen([sys.executable, "-c", GRADER_SCRIPT, str(layout["job"]), token],
                              stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert grader.stdout.readline().strip() == "ready"
        assert len(_processes_with(token)) == 1
        kernel_tree = psutil.Process(grader.pid).children(recursive=True)
        assert kernel_tree
    finally:
        grader.kill()
        grader.wait()
    deadline = time.time() + 10
    while (_processes_with(token) or any(p.is_running() for p in kernel_tree)) and time.time() < deadline:
        time.sleep(0.2)
    assert _processes_with(token) == []
    assert [p for p in kernel_tree if p.is_running() and p.status() != psutil.STATUS_ZOMBIE] == []


@pytest.mark.slow
def test_sockets_folder_in_workdir_or_short_temp(isolation, tmp_path):
    """The ZMQ sockets live in the working folder when its path is short enough, else in a
    private folder under the system temp dir (a unix socket path holds at most 107 bytes)."""
    short = Path(tempfile.mkdtemp(prefix="vk-", dir="/tmp"))
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    try:
        for work, inside in ((short, True), (deep, False)):
            km = SandboxedKernelManager(kernel_name="python3", backend=isolation.record())
            [out] = run_cells(km, work, ["import os; print(os.getcwd())"])
            assert out["stdout"] == f"{work}\n"
            assert km.connection_file.startswith(str(work) + "/") == inside, km.connection_file
            assert not os.path.exists(os.path.dirname(km.connection_file))  # removed at shutdown
    finally:
        shutil.rmtree(short)


@pytest.mark.slow
def test_killing_parent_or_init_does_not_reach_the_grader(isolation, layout):
    me = os.getpid()
    [first, second] = run_cells(manager(isolation, layout), layout["job"], [f"""
import os, signal
print('ppid', os.getppid())
for pid in (os.getppid(), 1, {me}, {os.getppid()}):
    try:
        os.kill(pid, signal.SIGKILL)
        print('sent', pid)
    except OSError as e:
        print('failed', pid, type(e).__name__)
""", "print('still here')"])
    assert psutil.pid_exists(me) and psutil.Process(os.getppid()).is_running()
    assert "ppid 1" in first["stdout"]  # the kernel's parent is the namespace's init
    # signals to init from inside its namespace are dropped; host pids do not exist there
    assert "still here" in second["stdout"]


@pytest.mark.slow
def test_memory_cap(isolation, layout):
    [out] = run_cells(manager(isolation, layout), layout["job"], ["""
try:
    block = bytearray(8 << 30)
    print('ALLOCATED', len(block))
except MemoryError:
    print('MemoryError')
"""])
    assert out["stdout"].strip() == "MemoryError", out


@pytest.mark.slow
def test_process_cap(isolation, layout, monkeypatch):
    """A fork bomb stops at the cap (a pids cgroup when the grader is root), and the cgroup goes."""
    if not isolation.process_cap:
        pytest.skip(f"no process cap on this machine: {isolation.describe()}")
    parent = sandbox.PidsCgroup.parent() if isolation.process_cap == "pids cgroup" else None
    made = []  # the cgroups this test's kernel got (other test files' gradings make and remove their own meanwhile)
    original_init = sandbox.PidsCgroup.__init__

    def recording_init(self, path):
        made.append(path)
        original_init(self, path)

    monkeypatch.setattr(sandbox.PidsCgroup, "__init__", recording_init)
    capped = dataclasses.replace(isolation, limits=dataclasses.replace(isolation.limits, processes=64))
    [out] = run_cells(manager(capped, layout), layout["job"], ["""
import os, signal, time
children = []
try:
    for _ in range(200):
        pid = os.fork()
        if pid == 0:
            time.sleep(60)
            os._exit(0)
        children.append(pid)
    print('FORKED', len(children))
except OSError as e:
    print('capped after', len(children), type(e).__name__)
for pid in children:
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
"""])
    assert out["stdout"].startswith("capped after"), out
    assert int(out["stdout"].split()[2]) < 64
    if parent:
        assert made and all(Path(path).parent == Path(parent) for path in made), made
        assert not [path for path in made if Path(path).exists()], made


@pytest.mark.slow
def test_file_size_cap(isolation, layout):
    [out] = run_cells(manager(isolation, layout), layout["job"], ["""
chunk = b'x' * (1 << 20)
try:
    with open('big.bin', 'wb') as f:
        for _ in range(200):
            f.write(chunk)
    print('WROTE 200 MB')
except OSError as e:
    print('OSError', e.errno, e.strerror)
"""])
    assert "OSError 27 File too large" in out["stdout"], out
    assert (layout["job"] / "big.bin").stat().st_size <= sandbox.DEFAULT_FILE_SIZE


@pytest.mark.slow
def test_torch_runs(isolation, layout):
    [out] = run_cells(manager(isolation, layout), layout["job"], [
        "import torch; print(float(torch.ones(3).sum()))\n"
        "import torch.nn as nn; y = nn.Conv2d(1, 4, 3)(torch.randn(8, 1, 28, 28)); y.sum().backward()\n"
        "import matplotlib.pyplot as plt; plt.plot([1, 2]); print('ok', tuple(y.shape))\n"
        "print('vm', [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmPeak')][0])"])
    assert out["error"] is None, out
    assert "3.0" in out["stdout"] and "ok (8, 4, 26, 26)" in out["stdout"]


def _notebook(*sources: str):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


@pytest.mark.slow
def test_cell_timeout_interrupts_and_the_kernel_survives(isolation, layout):
    config = Config()
    configure_nbgrader(config, isolation, data_dir=layout["data"])
    nb = _notebook("x = 41", "while True:\n    pass", "print(x + 1)")
    client = NotebookClient(nb, config=config, kernel_manager_class=SandboxedKernelManager, timeout=5,
                            interrupt_on_timeout=True, allow_errors=True, startup_timeout=KERNEL_START_S,
                            resources={"metadata": {"path": str(layout["job"])}})
    start = time.time()
    client.execute()
    loop_outputs = nb.cells[1].outputs
    assert any(o.output_type == "error" and o.ename == "KeyboardInterrupt" for o in loop_outputs), loop_outputs
    assert nb.cells[2].outputs[0].text == "42\n"
    assert time.time() - start < 60


@pytest.mark.slow
def test_nbgrader_execute_runs_in_the_sandbox(isolation, layout, monkeypatch):
    from nbgrader.preprocessors import Execute

    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")  # as nbgrader's autograde sets it
    monkeypatch.setenv("VAE_COURSE_SECRET_TOKEN", "not for students")

    config = Config()
    config.Execute.timeout = 60
    described = configure_nbgrader(config, isolation, data_dir=layout["data"], env={"VAE_COURSE_QUICK": "1"})
    assert described == isolation.describe()
    classes = config.Autograde.autograde_preprocessors
    assert Execute not in classes
    [execute_class] = [c for c in classes if issubclass(c, Execute)]
    # why the preprocessor is replaced: nbgrader's own Execute ignores a configured manager
    assert Execute(config=config).kernel_manager_class is not SandboxedKernelManager
    ep = execute_class(config=config)
    assert ep.kernel_manager_class is SandboxedKernelManager and ep.timeout == 60
    nb = _notebook("import os; print(os.environ['VAE_COURSE_DATA'], os.environ['VAE_COURSE_QUICK'], "
                   "os.environ['NBGRADER_EXECUTION'], 'VAE_COURSE_SECRET_TOKEN' in os.environ)",
                   f"print(os.listdir(os.environ['VAE_COURSE_DATA']), os.path.exists({str(layout['course'])!r}))")
    nb, _ = ep.preprocess(nb, {"metadata": {"path": str(layout["job"])}})
    assert nb.cells[0].outputs[0].text == f"{layout['data']} 1 autograde False\n"
    assert nb.cells[1].outputs[0].text == "['digits.txt'] False\n"


def test_configure_without_sandbox_changes_nothing():
    config = Config()
    text = configure_nbgrader(config, NoIsolation("--no-sandbox"), data_dir="/data")
    assert text.startswith("no sandbox (--no-sandbox)")
    assert "autograde_preprocessors" not in config.Autograde
    assert "SandboxedKernelManager" not in config


def test_configure_replaces_execute_in_the_grading_list():
    """After the grading configuration, only Execute changes; the limits and namespaces reach the manager."""
    from nbgrader.preprocessors import Execute

    from vaecourse.nbg.config import configure

    config = Config()
    configure(config, grading=True, cell_timeout=30)
    before = list(config.Autograde.autograde_preprocessors)
    iso = Bubblewrap(bwrap="/usr/bin/bwrap", namespaces=("mount", "user", "pid", "net", "ipc"),
                    limits=Limits(memory=5 * sandbox.GiB, processes=100), process_cap="pids cgroup")
    configure_nbgrader(config, iso, data_dir="/srv/mnist", env={"VAE_COURSE_QUICK": "1"})
    after = config.Autograde.autograde_preprocessors
    assert after[0] is sandboxed_execute_class() and issubclass(after[0], Execute)
    assert after[1:] == before[1:]
    km = SandboxedKernelManager(config=config)
    assert km.isolation == iso  # the limits, process cap and namespaces, through the backend's record
    assert (km.isolation.limits.memory, km.isolation.limits.processes) == (5 * sandbox.GiB, 100)
    assert km.isolation.namespaces == ("mount", "user", "pid", "net", "ipc") and km.workdir == ""
    assert km.read_only == ["/srv/mnist"]
    assert km.env == {"VAE_COURSE_QUICK": "1", "VAE_COURSE_DATA": "/srv/mnist"}
    assert km.transport == "ipc"


def test_a_course_config_with_sandbox_runs_nbgraders_kernels_in_it():
    """config_text(sandbox=True), as the test harness writes it with VAE_COURSE_TEST_SANDBOX=1."""
    from vaecourse.nbg.config import config_text

    plain, boxed = Config(), Config()
    exec(config_text(), {"get_config": lambda: plain})  # noqa: S102 (our own text)
    exec(config_text(sandbox=True), {"get_config": lambda: boxed})  # noqa: S102
    from vaecourse.nbg.verdictexecute import VerdictExecute

    assert plain.Autograde.autograde_preprocessors[0] is VerdictExecute  # the grader judges, unboxed
    if not probe().available:
        pytest.skip("no working sandbox here")
    assert boxed.Autograde.autograde_preprocessors[0] is sandboxed_execute_class()
    assert issubclass(sandboxed_execute_class(), VerdictExecute)  # and in the sandbox
