"""Peak memory and run time of notebooks executed top to bottom in full mode (or quick mode).

    python benchmarks/notebook_memory.py                         # 05 then 06, full mode, on DATA_DIR
    python benchmarks/notebook_memory.py --quick                 # the same in quick mode
    python benchmarks/notebook_memory.py solutions/06_latent_space.ipynb --data /path/to/data

Each notebook runs in a fresh kernel with nbclient. A last injected cell reads the kernel's peak
resident memory (resource.getrusage: ru_maxrss, the high-water mark of the whole process) and its
current one (psutil, when installed). Binder gives 2 GB, so the course's budget is 1.5 GB per notebook.
Masters (solutions/) are run by default: the student versions hold stubs; their helpers cell is the
same code. Checkpoints go to a fresh temporary folder (VAE_COURSE_CHECKPOINTS), shared by the notebooks
of one invocation: 05 trains and saves, then 06 loads what 05 saved, as a student's run would.

This is a benchmark, not a test: it prints figures and asserts nothing.
"""
import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
MARKER = "PEAK-MEMORY-JSON:"
PROBE = r'''
import json as _json, resource as _resource, sys as _sys
_peak = _resource.getrusage(_resource.RUSAGE_SELF).ru_maxrss
_peak_bytes = _peak if _sys.platform == "darwin" else _peak * 1024  # Linux reports KiB, macOS bytes
try:
    import psutil as _psutil
    _now = _psutil.Process().memory_info().rss
except ImportError:
    _now = None
print("PEAK-MEMORY-JSON:" + _json.dumps({"peak_rss_bytes": _peak_bytes, "current_rss_bytes": _now}))
'''


def measure(path: Path, env: dict, timeout: int) -> dict:
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)  # the kernel inherits this environment
    try:
        start = time.perf_counter()
        NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                       resources={"metadata": {"path": str(path.parent)}}).execute()
        seconds = time.perf_counter() - start
    finally:
        os.environ.clear()
        os.environ.update(saved)
    errors = [f"{o.ename}: {o.evalue}"[:300] for cell in nb.cells if cell.cell_type == "code"
              for o in cell.get("outputs", []) if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.output_type == "stream")
    line = next((line for line in text.splitlines() if line.startswith(MARKER)), None)
    result = json.loads(line[len(MARKER):]) if line else {}
    report = [o.get("text", "") for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])
              if o.output_type == "stream" and ("Report:" in o.get("text", "") or "test negative ELBO" in o.get("text", ""))]
    return {"notebook": str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path), "seconds": seconds,
            "errors": errors, "report": [r.strip() for r in report], **result}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        default=[ROOT / "solutions" / "05_training.ipynb", ROOT / "solutions" / "06_latent_space.ipynb"])
    parser.add_argument("--quick", action="store_true", help="quick mode instead of full mode")
    parser.add_argument("--data", type=Path, default=None, help="MNIST folder (default: the course's DATA_DIR)")
    parser.add_argument("--checkpoints", type=Path, default=None,
                        help="checkpoint folder (default: a fresh temporary one, so that 05 trains)")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds allowed per cell")
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this file")
    args = parser.parse_args(argv)

    env = dict(os.environ)
    env.pop("NBGRADER_EXECUTION", None)
    env.pop("VAE_COURSE_QUICK", None)
    if args.quick:
        env["VAE_COURSE_QUICK"] = "1"
    if args.data:
        env["VAE_COURSE_DATA"] = str(args.data.resolve())
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    results = []
    with tempfile.TemporaryDirectory(prefix="vaecourse-checkpoints-") as tmp:
        env["VAE_COURSE_CHECKPOINTS"] = str(args.checkpoints or tmp)
        print(f"{'quick' if args.quick else 'full'} mode, data {env.get('VAE_COURSE_DATA', '(DATA_DIR default)')}, "
              f"checkpoints {env['VAE_COURSE_CHECKPOINTS']}", flush=True)
        for path in args.notebooks:
            result = measure(path.resolve(), env, args.timeout)
            results.append(result)
            peak = result.get("peak_rss_bytes")
            print(f"{result['notebook']}: peak RSS {peak / 2**20:,.0f} MiB, {result['seconds']:.0f} s"
                  if peak else f"{result['notebook']}: no measurement", flush=True)
            for line in result["report"]:
                print("    " + line.replace("\n", "\n    "))
            for error in result["errors"]:
                print(f"    ERROR {error}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 1 if any(r["errors"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
