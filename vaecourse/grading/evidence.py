"""A collected submission is evidence: stored once, never rewritten, hashed (STYLE.md).

`store` is how `collect` puts a submission into submitted/<student>/<assignment>/:

- the files are written read-only (0o444) and their SHA-256 recorded in a manifest,
  <course>/.grading/evidence/<student>/<assignment>.json: sha256 and size of the
  notebook, every stored file's hash, the source it came from and the collect time;
- the same bytes collected again change nothing ("unchanged"); if the stored copy no
  longer matches its record, the collected bytes are put back ("restored") and the
  altered copy is kept aside in .grading/evidence/<student>/<assignment>/altered-N/;
- different bytes make a new version ("new version"): the old files move to
  .grading/evidence/<student>/<assignment>/vN/ and their record to the manifest's history.
  Nothing is overwritten in place.

`verify_submission` is what the runner asks before every (re)grade: "" when the stored
files are exactly those recorded, else the reason not to grade them.
"""
import hashlib
import json
import os
import stat
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from vaecourse.grading.course_folder import CourseFolder
from vaecourse.nbg.layout import SUBMITTED

NEW, NEW_VERSION, UNCHANGED, RESTORED = "new", "new version", "unchanged", "restored"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_manifest(course: Path, student: str, assignment: str) -> dict | None:
    path = CourseFolder(course).manifest(student, assignment)
    return json.loads(path.read_text()) if path.is_file() else None


def stored_hashes(folder: Path) -> dict[str, str]:
    """name -> sha256 of every entry of a stored submission folder; links and folders are named, not followed."""
    out = {}
    if not folder.is_dir() or folder.is_symlink():
        return out
    for path in sorted(folder.iterdir()):
        mode = path.lstat().st_mode
        if stat.S_ISREG(mode):
            out[path.name] = sha256(path.read_bytes())
        else:
            out[path.name] = "symbolic link" if stat.S_ISLNK(mode) else "not a regular file"
    return out


def recorded_hashes(record: dict) -> dict[str, str]:
    return {name: entry["sha256"] for name, entry in record["files"].items()}


def store(course: Path, student: str, assignment: str, files: dict[str, bytes], source: str,
          now: str | None = None) -> str:
    """Put `files` (name -> bytes) into submitted/<student>/<assignment>/ as evidence; NEW, NEW_VERSION,
    UNCHANGED or RESTORED (see the module doc). `source`: where they came from (zip member or folder)."""
    course = Path(course)
    now = now or datetime.now(UTC).isoformat(timespec="seconds")
    folder = CourseFolder(course).folder(SUBMITTED, assignment, student)
    versions = CourseFolder(course).versions(student, assignment)
    record = read_manifest(course, student, assignment)
    hashes = {name: sha256(data) for name, data in files.items()}
    if record is not None and recorded_hashes(record) == hashes:
        if folder.is_dir() and not folder.is_symlink() and stored_hashes(folder) == hashes:
            return UNCHANGED
        note = f"{now}: restored from {source}: the stored copy no longer matched this record"
        if os.path.lexists(folder):
            aside = _free(versions, "altered-")
            _move(folder, aside)
            note += f"; the altered copy is kept in {aside.relative_to(course)}"
        _write_folder(course, folder, files)
        record.setdefault("notes", []).append(note)
        _write_manifest(course, student, assignment, record)
        return RESTORED
    history = record.pop("history", []) if record else []
    notes = record.pop("notes", []) if record else []
    if record is not None:  # the current version becomes history; its files are kept
        if os.path.lexists(folder):
            if stored_hashes(folder) != recorded_hashes(record):
                record["note"] = "the stored copy no longer matched this record when it was replaced"
            kept = versions / f"v{record['version']}"
            _move(folder, kept)
            record["kept"] = str(kept.relative_to(course))
        else:
            record["kept"] = None
            record["note"] = "the stored copy was missing when it was replaced"
        history.append(record)
    elif os.path.lexists(folder):  # stored before collect kept records: kept, never overwritten
        kept = versions / "v0"
        old = stored_hashes(folder)
        _move(folder, kept)
        history.append({"version": 0, "source": "stored before collect kept records", "collected_at": None,
                        "files": {name: {"sha256": digest} for name, digest in old.items()},
                        "kept": str(kept.relative_to(course))})
    _write_folder(course, folder, files)
    notebook = files.get(f"{assignment}.ipynb")
    manifest = {
        "student": student, "assignment": assignment,
        "version": (history[-1]["version"] + 1) if history else 1,
        "sha256": sha256(notebook) if notebook is not None else None,
        "size": len(notebook) if notebook is not None else None,
        "source": source, "collected_at": now,
        "files": {name: {"sha256": hashes[name], "size": len(files[name])} for name in sorted(files)},
        "stored": str(folder.relative_to(course)),
        "history": history,
    }
    if notes:
        manifest["notes"] = notes
    _write_manifest(course, student, assignment, manifest)
    return NEW_VERSION if record is not None else NEW


def verify_submission(course: Path, student: str, assignment: str) -> str:
    """"" if submitted/<student>/<assignment>/ holds exactly the bytes collect recorded, else why not to grade it.

    A course whose submissions were never stored by `collect` (no .grading/evidence/ at
    all: an old course folder, or one made by hand) has nothing to check against: "".
    """
    course = Path(course)
    folder = CourseFolder(course).folder(SUBMITTED, assignment, student)
    record = read_manifest(course, student, assignment)
    if record is None:
        if os.path.lexists(folder) and CourseFolder(course).evidence.is_dir():
            return ("the stored submission has no collect record (it was not stored by `collect`): not graded; "
                    "collect it with `python -m vaecourse.grade collect`")
        return ""
    want, have = recorded_hashes(record), stored_hashes(folder)
    if os.path.lexists(folder) and (folder.is_symlink() or not folder.is_dir()):
        have = {"": "symbolic link"}
    if want == have:
        return ""
    differences = []
    for name in sorted(set(want) | set(have)):
        if name not in have:
            differences.append(f"{name} missing")
        elif name not in want:
            differences.append(f"{name or 'the folder'} added ({_short(have[name])})")
        elif want[name] != have[name]:
            differences.append(f"{name}: sha256 {_short(want[name])} recorded, {_short(have[name])} now")
    return (f"the stored submission changed since collect ({'; '.join(differences)}): not graded; "
            f"the record is {CourseFolder(course).manifest(student, assignment).relative_to(course)}, "
            "collect the original again to restore it")


def _short(digest: str) -> str:
    return digest[:12] if len(digest) == 64 else digest


def _free(parent: Path, prefix: str) -> Path:
    number = 1
    while os.path.lexists(parent / f"{prefix}{number}"):
        number += 1
    return parent / f"{prefix}{number}"


def _move(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if os.path.lexists(target):
        target = _free(target.parent, target.name + "-")
    os.rename(source, target)


def _write_folder(course: Path, folder: Path, files: dict[str, bytes]) -> None:
    """Write the files read-only into a new folder beside the evidence, then move it into place at once."""
    staging = CourseFolder(course).evidence_staging
    staging.mkdir(parents=True, exist_ok=True)
    new = Path(tempfile.mkdtemp(dir=staging))
    for name, data in files.items():
        path = new / name
        path.write_bytes(data)
        path.chmod(0o444)
    new.chmod(0o755)
    folder.parent.mkdir(parents=True, exist_ok=True)
    os.rename(new, folder)


def _write_manifest(course: Path, student: str, assignment: str, manifest: dict) -> None:
    path = CourseFolder(course).manifest(student, assignment)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{assignment}.", suffix=".json")
    with os.fdopen(fd, "w") as handle:
        handle.write(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)
