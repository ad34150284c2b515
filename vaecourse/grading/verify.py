"""The tamper check: a job's gradebook must define its assignment exactly as the course's does.

A job's gradebook starts as a copy of the course's definitions (`merge.write_template`).
Student code runs in a sandbox that cannot reach it, but a job's results are evidence to
check, not to trust: before a job's scores are merged, its graded cells (names, points,
kind), its locked and graded cells' sources and checksums, and its notebooks are compared
with the course gradebook's. Any difference means the scores are not merged.
"""
from pathlib import Path

from vaecourse.nbg.gradebook import open_gradebook


def definitions(db_url: str, assignment: str) -> dict[str, tuple]:
    """'<notebook>/<kind>/<cell>' -> what defines it, for every cell nbgrader grades or checks."""
    found: dict[str, tuple] = {}
    with open_gradebook(db_url) as gb:
        for notebook in gb.find_assignment(assignment).notebooks:
            found[f"{notebook.name}/notebook/"] = ()
            for cell in notebook.grade_cells:
                found[f"{notebook.name}/graded cell/{cell.name}"] = (float(cell.max_score), cell.cell_type)
            for cell in notebook.task_cells:
                found[f"{notebook.name}/task/{cell.name}"] = (float(cell.max_score), cell.cell_type)
            for cell in notebook.source_cells:
                found[f"{notebook.name}/source of/{cell.name}"] = (cell.source, cell.checksum, cell.locked)
    return found


def tampered(course_db: str, job_db: Path, assignment: str) -> str:
    """'' when the job's gradebook defines `assignment` as the course's does, else what differs (short)."""
    try:
        job = definitions(f"sqlite:///{job_db}", assignment)
    except Exception as error:  # noqa: BLE001 - a gradebook broken in any way is a finding, not a crash
        return f"the job's gradebook cannot be read ({type(error).__name__})"
    course = definitions(course_db, assignment)
    added = sorted(set(job) - set(course))
    removed = sorted(set(course) - set(job))
    changed = sorted(key for key in set(job) & set(course) if job[key] != course[key])
    parts = [f"{word}: {', '.join(keys[:3])}{' ...' if len(keys) > 3 else ''}"
             for word, keys in (("added", added), ("removed", removed), ("changed", changed)) if keys]
    return "; ".join(parts)
