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
import sys
import tempfile
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere: this checkout's package
from vaecourse.notebook_run import course_env, error_outputs, printed_json, run_notebook, stream_text  # noqa: E402

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
    seconds = run_notebook(nb, env, path.parent, timeout=timeout, allow_errors=True)
    result = printed_json(nb.cells[-1], MARKER)
    report = [text for text in (stream_text(cell) for cell in nb.cells if cell.cell_type == "code")
              if "Report:" in text or "test negative ELBO" in text]
    return {"notebook": str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path), "seconds": seconds,
            "errors": error_outputs(nb), "report": [r.strip() for r in report], **result}


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

    results = []
    with tempfile.TemporaryDirectory(prefix="vaecourse-checkpoints-") as tmp:
        env = course_env(data=args.data, checkpoints=args.checkpoints or Path(tmp), quick=args.quick)
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
