"""Hostile submissions for tests/test_hostile_submissions.py: each a copy of the perfect or the
blank notebook with one attack added, in the first answer cell or in a cell of its own.

Attack code is Python text with the placeholders COURSE (the instructor's course folder),
TMP (the test's whole temporary folder) and SUBMISSIONS (the folder collected from), filled
in by `attack_source`. A kernel's working folder is the job's
`autograded/<student>/<notebook>/`, so `../../..` is the job folder (source/, submitted/,
gradebook.db) and `../../../../..` holds the other students' job folders.
"""
from dataclasses import dataclass

PERFECT, BLANK = "perfect", "blank"
ANSWER, TOP, AFTER_ANSWER = "answer", "top", "after answer"  # where the attack goes


@dataclass(frozen=True)
class Attack:
    base: str  # PERFECT or BLANK: the honest notebook it is added to (its score is the ceiling)
    where: str  # ANSWER (appended to the first answer cell), TOP (a cell before everything), AFTER_ANSWER
    code: str
    flagged: tuple[str, ...] = ()  # words the review flag of this submission must contain
    notebooks: tuple[str, ...] = ("01_mnist",)


EXEC_SOLUTION = r'''
import glob, json, os
_done = []
if os.environ.get("NBGRADER_EXECUTION") or True:  # the grader sets it; try anyway
    for _pattern in ["../../../source/*/*.ipynb", "COURSE/source/*/*.ipynb", "COURSE/release/*/*.ipynb",
                     "/work/*/solutions/*.ipynb", "TMP/**/source/*/*.ipynb"]:
        for _path in glob.glob(_pattern, recursive=True):
            try:
                _nb = json.load(open(_path))
            except Exception:
                continue
            for _cell in _nb["cells"]:
                _md = _cell.get("metadata", {}).get("nbgrader", {})
                if _cell["cell_type"] == "code" and _md.get("solution"):
                    _src = "".join(_cell["source"]) if isinstance(_cell["source"], list) else _cell["source"]
                    if "BEGIN SOLUTION" in _src:
                        exec(_src, globals())
                        _done.append(_path)
print("NBGRADER_EXECUTION:", os.environ.get("NBGRADER_EXECUTION"), "solutions executed from:", sorted(set(_done)))
'''

READ_EVERYTHING = r'''
import os
_seen, _secret = [], []
for _root in ["COURSE", "SUBMISSIONS", "TMP", "../../..", "../../../../..", "/work", "/root", "/home", "/tmp", "/"]:
    for _dir, _dirs, _files in os.walk(_root):
        _dirs[:] = [d for d in _dirs if d not in ("proc", "sys", "dev", "usr", "site-packages", "lib", "lib64",
                                                   "bin", "sbin", "etc", "share", "include", ".git", "node_modules")]
        for _f in _files:
            _p = os.path.join(_dir, _f)
            try:
                with open(_p, "rb") as _fh:
                    _text = _fh.read(3_000_000).decode("utf-8", "replace")
            except OSError:
                continue
            _seen.append(_p)
            if "HIDDEN TESTS" in _text or "BEGIN SOLUTION" in _text or _f.endswith(".db"):
                _secret.append((_p, _text))
for _p, _text in _secret:
    print("=====", _p)
    print(_text[:8000])
print(len(_seen), "files readable:", "\n".join(sorted(_seen)[:300]))
'''

EDIT_GRADEBOOK_LATER = r'''
import subprocess, sys
_script = """
import glob, sqlite3, time
for _ in range(60):
    for path in ['../../../gradebook.db', 'COURSE/gradebook.db'] + glob.glob('TMP/**/gradebook.db', recursive=True):
        try:
            db = sqlite3.connect(path, timeout=1)
            db.execute('update grade set auto_score = (select max_score from grade_cells where grade_cells.id = grade.cell_id)')
            db.execute('update grade_cells set max_score = 1000')
            db.commit()
            print('edited', path, flush=True)
        except Exception as error:
            pass
    time.sleep(1)
"""
subprocess.Popen([sys.executable, "-c", _script], start_new_session=True,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print("gradebook editor started")
'''

WRITE_EVERYWHERE = r'''
import glob, os
_wrote = []
_targets = (glob.glob("../../../../../*/*/submitted/*/*/*.ipynb") + glob.glob("../../../../../*/*/source/*/*.ipynb")
            + glob.glob("../../../submitted/*/*/*") + glob.glob("../../../source/*/*")
            + glob.glob("COURSE/source/*/*") + glob.glob("COURSE/release/*/*") + glob.glob("COURSE/submitted/*/*/*")
            + glob.glob("SUBMISSIONS/*/*/*") + ["COURSE/gradebook.db", "../../../gradebook.db",
                                                "COURSE/autograded/victim/01_mnist/01_mnist.ipynb",
                                                "COURSE/feedback/victim/01_mnist/01_mnist.html"])
for _p in _targets:
    try:
        with open(_p, "a") as _fh:
            _fh.write("\nhacked by writer\n")
        _wrote.append(_p)
    except OSError:
        pass
for _d in ["../../../../../victim/01_mnist/autograded/victim/01_mnist", "COURSE/submitted/victim/01_mnist",
           "COURSE/submitted/intruder/01_mnist", "../../../../../intruder/01_mnist"]:
    try:
        os.makedirs(_d, exist_ok=True)
        open(os.path.join(_d, "01_mnist.ipynb"), "w").write("{}")
        _wrote.append(_d)
    except OSError:
        pass
print("wrote:", _wrote)
'''

KILL_PARENTS = r'''
import os, signal
def _parent_of(pid):
    try:
        return int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
    except Exception:
        return 0
_ppid = os.getppid()
for _pid in [_ppid, _parent_of(_ppid), 1, -1]:
    try:
        os.kill(_pid, signal.SIGKILL)
        print("killed", _pid)
    except Exception as error:
        print("could not kill", _pid, error)
'''

SETSID_SLEEP = r'''
import os, subprocess
subprocess.Popen(["setsid", "sleep", "300"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
if os.fork() == 0:  # and a classic daemon: double fork, new session
    os.setsid()
    if os.fork() == 0:
        import time
        time.sleep(300)
    os._exit(0)
print("daemons started")
'''

ALLOCATE_2_GIB = r'''
try:
    _hog = b"x" * (2 * 2**30)
    print("allocated", len(_hog))
    del _hog
except MemoryError:
    print("MemoryError")
'''

WRITE_200_MB = r'''
with open("big.bin", "wb") as _fh:
    for _ in range(200):
        _fh.write(b"\0" * 1_000_000)
print("wrote 200 MB")
'''

HELPERS_RAISE_INTERRUPT = r'''
import builtins
_real_import = builtins.__import__
def _interrupting_import(name, *args, **kwargs):
    if name == "numpy":
        builtins.__import__ = _real_import
        raise KeyboardInterrupt
    return _real_import(name, *args, **kwargs)
builtins.__import__ = _interrupting_import
'''

EARLY_TIMESTAMP = r'''
import glob
for _p in ["timestamp.txt", "../../../submitted/early_timestamp/01_mnist/timestamp.txt",
           "COURSE/submitted/early_timestamp/01_mnist/timestamp.txt"]:
    try:
        open(_p, "w").write("2000-01-01 00:00:00.000000 UTC")
        print("rewrote", _p)
    except OSError as error:
        print("could not", _p, error)
'''

FORK_BOMB = r'''
import os, subprocess
_children = []
try:  # a bounded fork bomb (sleep is cheap to start; forks of the torch kernel are not, on a shared machine)
    for _ in range(1000):
        _children.append(subprocess.Popen(["sleep", "120"]))
    print("started", len(_children), "processes: no cap")
except OSError as error:
    print("stopped after", len(_children), "processes:", error)
'''

SYMLINKS_OUT = r'''
import os
for _name, _target in [("gradebook.db", "COURSE/gradebook.db"), ("01_mnist.ipynb", "COURSE/gradebook.db"),
                       ("solutions.ipynb", "../../../source/01_mnist/01_mnist.ipynb"), ("root", "/")]:
    try:
        if os.path.lexists(_name):
            os.unlink(_name)
        os.symlink(_target, _name)
        print("linked", _name)
    except OSError as error:
        print("could not link", _name, error)
'''

HOOKS_PRINT_TEST_SOURCE = r'''
_ip = get_ipython()
_ip.events.register("pre_run_cell", lambda info: print("NEXT CELL:", info.raw_cell))
def _show(lines):
    print("TRANSFORMED:", "".join(lines))
    return lines
_ip.input_transformers_post.append(_show)
'''

PATCH_CHECKS = r'''
import torch, math, builtins
_real_equal = torch.equal
torch.equal = lambda a, b: _real_equal(a, b)  # harmless here; the kind of patch that fools in-kernel tests
math.isclose = math.isclose
builtins.print = builtins.print
'''

ATTACKS = {
    "exec_solution": Attack(BLANK, ANSWER, EXEC_SOLUTION, ("exec",), ("01_mnist", "02_encoder")),
    "reader": Attack(PERFECT, AFTER_ANSWER, READ_EVERYTHING),
    "gradebook_editor": Attack(BLANK, ANSWER, EDIT_GRADEBOOK_LATER, ("subprocess",)),
    "writer": Attack(PERFECT, AFTER_ANSWER, WRITE_EVERYWHERE, ("writes a file",)),
    "killer": Attack(PERFECT, AFTER_ANSWER, KILL_PARENTS, ("os.kill",)),
    "setsid_sleep": Attack(PERFECT, AFTER_ANSWER, SETSID_SLEEP, ("subprocess",)),
    "big_alloc": Attack(PERFECT, AFTER_ANSWER, ALLOCATE_2_GIB),
    "big_file": Attack(PERFECT, AFTER_ANSWER, WRITE_200_MB),
    "helpers_interrupt": Attack(PERFECT, TOP, HELPERS_RAISE_INTERRUPT, ("builtins",)),
    "early_timestamp": Attack(PERFECT, AFTER_ANSWER, EARLY_TIMESTAMP, ("writes a file",)),
    "fork_bomb": Attack(PERFECT, AFTER_ANSWER, FORK_BOMB),
    "symlinks_out": Attack(PERFECT, AFTER_ANSWER, SYMLINKS_OUT),
    "hook_leak": Attack(PERFECT, ANSWER, HOOKS_PRINT_TEST_SOURCE, ("events.register", "input_transformers")),
    "patcher": Attack(PERFECT, ANSWER, PATCH_CHECKS, ("torch.equal", "math.isclose", "builtins.print")),
}


def attack_source(code: str, course, tmp, submissions) -> str:
    return (code.strip("\n").replace("COURSE", str(course)).replace("SUBMISSIONS", str(submissions))
            .replace("TMP", str(tmp)))
