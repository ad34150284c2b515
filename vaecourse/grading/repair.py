"""Repair a submitted notebook against the released student notebook before grading.

Other editors and students break what nbgrader relies on: the cell metadata that names
each graded cell (lost after a round trip through an editor that drops it), the order of
cells, single cells (duplicated or deleted). `repair(submission_bytes, release)` returns
a notebook nbgrader can grade and a list of what was done, or raises `CannotGrade` with
the reason (invalid JSON, not a notebook).

Matching, for every cell of the released notebook, in this order:
1. the nbgrader `grade_id` in the student's cell metadata;
2. the notebook cell id (Jupyter keeps it; several editors keep it even when they drop
   other metadata);
3. the content: an answer cell by the functions/classes it defines (`def count_per_class`),
   a test cell by its docstring or close source, a written answer by its place after the
   question, any other cell by equal or close source.
A matched cell gets the release's nbgrader metadata back. Cells are put back in the
release's order; cells the student added stay after the cell they followed. A graded or
course cell the student deleted is put back from the release (nbgrader then restores a
test cell's hidden part from the gradebook); a deleted answer cell comes back as the stub,
and the tests after it are marked "could not grade: answer cell ... not found".
Duplicates: the copy that differs from the stub keeps the metadata; an untouched stub copy
and extra copies of test cells are dropped (they would only re-run or undo work).
The submitted file itself is never written.
"""
import ast
import copy
import difflib
import json
import re
from dataclasses import dataclass, field

import nbformat


class CannotGrade(Exception):
    """The submission cannot be graded at all; str(error) says why, for the student row."""


@dataclass
class Repaired:
    nb: "nbformat.NotebookNode"
    notes: list[str] = field(default_factory=list)  # what was repaired, in words
    test_notes: dict[str, str] = field(default_factory=dict)  # test grade_id -> "could not grade: ..."


def nbgrader_md(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def grade_id(cell) -> str | None:
    return nbgrader_md(cell).get("grade_id")


def is_answer(cell) -> bool:
    return bool(nbgrader_md(cell).get("solution"))


def is_test(cell) -> bool:
    md = nbgrader_md(cell)
    return bool(md.get("grade")) and not md.get("solution") and cell.cell_type == "code"


_DEF_RE = re.compile(r"^(?:async\s+)?(?:def|class)\s+([A-Za-z_]\w*)", re.M)


def defined_names(source: str) -> set[str]:
    """Top-level functions and classes a cell defines (by regex when it does not parse)."""
    try:
        tree = ast.parse(source)
        return {node.name for node in tree.body
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    except (SyntaxError, ValueError):
        return set(_DEF_RE.findall(source))


def docstring_line(source: str) -> str:
    match = re.match(r'\s*(?:"""|\'\'\')(.*?)(?:"""|\'\'\'|\n)', source)
    return match.group(1).strip() if match else ""


def similarity(a: str, b: str) -> float:
    if a == b:
        return 1.0
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    if matcher.real_quick_ratio() < 0.6 or matcher.quick_ratio() < 0.6:
        return 0.0
    return matcher.ratio()


def read_submission(data: bytes) -> "nbformat.NotebookNode":
    """Parse submitted bytes as a notebook, or raise CannotGrade saying why."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CannotGrade(f"not a text file (UTF-8 decoding failed at byte {error.start})") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise CannotGrade(f"invalid notebook JSON: {error.msg} at line {error.lineno}, column {error.colno}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("cells"), list):
        raise CannotGrade("not a Jupyter notebook (no list of cells)")
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as error:  # nbformat raises several kinds for malformed notebooks
        raise CannotGrade(f"not a valid Jupyter notebook: {type(error).__name__}: {error}"[:300]) from None
    for cell in nb.cells:
        if cell.get("cell_type") not in {"code", "markdown", "raw"} or not isinstance(cell.get("source", ""), str):
            raise CannotGrade("not a valid Jupyter notebook (a cell has no type or source)")
    return nb


def _label(cell) -> str:
    gid = grade_id(cell)
    if gid:
        return gid
    first = cell.source.strip().splitlines()[0][:40] if cell.source.strip() else "(empty)"
    return f"{cell.cell_type} cell {first!r}"


def repair(data: bytes, release) -> Repaired:
    """See the module docstring. `release` is the released student notebook (nbformat v4)."""
    nb = read_submission(data)
    student = nb.cells
    rel = release.cells
    notes: list[str] = []
    match: dict[int, int] = {}  # release index -> student index
    used: set[int] = set()
    release_gids = {grade_id(c): i for i, c in enumerate(rel) if grade_id(c)}

    def take(r: int, s: int) -> None:
        match[r] = s
        used.add(s)

    # 1. nbgrader grade_id (duplicates: prefer a copy that is not the untouched stub)
    by_gid: dict[str, list[int]] = {}
    for s, cell in enumerate(student):
        gid = grade_id(cell)
        if gid:
            by_gid.setdefault(gid, []).append(s)
    for gid, candidates in by_gid.items():
        r = release_gids.get(gid)
        if r is None:
            continue
        if len(candidates) > 1:
            changed = [s for s in candidates if student[s].source != rel[r].source]
            chosen = changed[-1] if changed and is_answer(rel[r]) else candidates[0]
            notes.append(f"cell {gid} appears {len(candidates)} times: graded the "
                         f"{'edited' if chosen in changed and is_answer(rel[r]) else 'first'} copy")
        else:
            chosen = candidates[0]
        take(r, chosen)
    lost_md = [r for r in range(len(rel)) if grade_id(rel[r]) and r not in match]

    # 2. cell ids
    student_ids: dict[str, list[int]] = {}
    for s, cell in enumerate(student):
        if cell.get("id"):
            student_ids.setdefault(cell.id, []).append(s)
    for r, cell in enumerate(rel):
        if r in match or not cell.get("id"):
            continue
        for s in student_ids.get(cell.id, []):
            if s not in used and not (grade_id(student[s]) in release_gids and grade_id(student[s]) != grade_id(cell)):
                take(r, s)
                break

    # 3. content
    free = lambda: [s for s in range(len(student)) if s not in used and not grade_id(student[s])]  # noqa: E731
    for r, cell in enumerate(rel):
        if r in match or not is_answer(cell) or cell.cell_type != "code":
            continue
        names = defined_names(cell.source)
        best = [s for s in free() if student[s].cell_type == "code" and names & defined_names(student[s].source)]
        if best:
            changed = [s for s in best if student[s].source != cell.source]
            take(r, (changed or best)[-1])
    for r, cell in enumerate(rel):
        if r in match or not is_test(cell):
            continue
        doc = docstring_line(cell.source)
        found = [s for s in free() if student[s].cell_type == "code" and doc and docstring_line(student[s].source) == doc]
        if not found:
            scored = sorted(((similarity(cell.source, student[s].source), s) for s in free()
                             if student[s].cell_type == "code"), reverse=True)
            found = [s for score, s in scored[:1] if score >= 0.8]
        if found:
            take(r, found[0])
    for r, cell in enumerate(rel):  # every other cell: equal source, then close source
        if r in match or is_answer(cell):
            continue
        exact = [s for s in free() if student[s].cell_type == cell.cell_type and student[s].source == cell.source]
        if exact:
            take(r, exact[0])
    for r, cell in enumerate(rel):
        if r in match or is_answer(cell):
            continue
        scored = sorted(((similarity(cell.source, student[s].source), -s) for s in free()
                         if student[s].cell_type == cell.cell_type), reverse=True)
        if scored and scored[0][0] >= 0.8:
            take(r, -scored[0][1])
    for r, cell in enumerate(rel):  # answers not found by name: the free cell right after the cell before it
        if r in match or not is_answer(cell) or r == 0 or (r - 1) not in match:
            continue
        s = match[r - 1] + 1
        if s < len(student) and s not in used and not grade_id(student[s]) and student[s].cell_type == cell.cell_type \
                and (cell.cell_type == "markdown" or not defined_names(student[s].source) - defined_names(cell.source)):
            take(r, s)

    restored = [r for r in lost_md if r in match]
    if restored:
        notes.append("nbgrader metadata restored for " + ", ".join(grade_id(rel[r]) for r in restored)
                     + " (lost, e.g. after another editor)")

    # Unmatched student cells: drop stale nbgrader metadata, drop untouched stub copies and
    # extra test copies, keep the rest after the matched cell they followed.
    stub_sources = {rel[r].source for r in range(len(rel)) if is_answer(rel[r])}
    test_sources = {rel[r].source for r in range(len(rel)) if is_test(rel[r])}
    test_docs = {docstring_line(rel[r].source) for r in range(len(rel)) if is_test(rel[r])} - {""}
    anchored: dict[int, list] = {}  # student index of a matched cell (-1: start) -> following extras
    anchor = -1
    matched_students = set(match.values())
    dropped = []
    for s, cell in enumerate(student):
        if s in matched_students:
            anchor = s
            continue
        cell = copy.deepcopy(cell)
        gid = grade_id(cell)
        if cell.cell_type == "code" and (cell.source in stub_sources or cell.source in test_sources
                                         or (gid in release_gids and is_test(rel[release_gids[gid]]))
                                         or (docstring_line(cell.source) in test_docs)):
            dropped.append(_label(cell))
            continue
        if "nbgrader" in cell.get("metadata", {}):
            del cell.metadata["nbgrader"]
        anchored.setdefault(anchor, []).append(cell)
    if dropped:
        notes.append("dropped duplicate cells: " + ", ".join(dropped))

    # Assemble in release order.
    cells = list(anchored.get(-1, []))
    order = []
    test_notes: dict[str, str] = {}
    missing_answer = None
    for r, rcell in enumerate(rel):
        if is_answer(rcell):
            missing_answer = None
        if r in match:
            s = match[r]
            cell = copy.deepcopy(student[s])
            order.append(s)
            if grade_id(rcell):
                cell.metadata["nbgrader"] = copy.deepcopy(rcell.metadata["nbgrader"])
                if cell.cell_type != rcell.cell_type:
                    notes.append(f"cell {grade_id(rcell)} was turned into {cell.cell_type}: restored as {rcell.cell_type}")
                    cell = _as_type(cell, rcell.cell_type)
            cells.append(cell)
            cells.extend(anchored.get(s, []))
        else:
            cells.append(copy.deepcopy(rcell))
            if is_answer(rcell):
                missing_answer = grade_id(rcell)
                notes.append(f"answer cell {missing_answer} not found (deleted or renamed): put back the stub")
            elif is_test(rcell):
                notes.append(f"test cell {grade_id(rcell)} was deleted: restored from the release")
            elif grade_id(rcell) or rcell.cell_type == "code":
                notes.append(f"course cell {_label(rcell)} was deleted: restored from the release")
        if is_test(rcell) and missing_answer:
            test_notes[grade_id(rcell)] = f"could not grade: answer cell {missing_answer} not found in the submission (deleted or renamed)"
        if is_answer(rcell) and rcell.cell_type == "markdown" and r not in match:
            test_notes[grade_id(rcell)] = f"could not grade: written answer {grade_id(rcell)} not found in the submission"
    if order != sorted(order):
        notes.append("cells were out of order: put back in the release's order")

    # Unique cell ids (a duplicated cell may share its id), deterministic.
    seen: set[str] = set()
    for index, cell in enumerate(cells):
        cid = cell.get("id") or f"cell-{index}"
        while cid in seen:
            cid = f"{cid}-x"
        cell["id"] = cid
        seen.add(cid)
    nb.cells = cells
    nb.nbformat_minor = max(nb.nbformat_minor, 5)
    return Repaired(nb, notes, test_notes)


def _as_type(cell, cell_type: str):
    if cell_type == "code":
        new = nbformat.v4.new_code_cell(cell.source)
    else:
        new = nbformat.v4.new_markdown_cell(cell.source)
    new.metadata = cell.metadata
    if "id" in cell:
        new["id"] = cell["id"]
    return new
