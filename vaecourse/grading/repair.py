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

from vaecourse.masters import grade_id, is_answer, is_test


class CannotGrade(Exception):
    """The submission cannot be graded at all; str(error) says why, for the student row."""


@dataclass
class Repaired:
    nb: "nbformat.NotebookNode"
    notes: list[str] = field(default_factory=list)  # what was repaired, in words
    test_notes: dict[str, str] = field(default_factory=dict)  # test grade_id -> "could not grade: ..."


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


class Matching:
    """Which student cell is which release cell, found by the matchers in turn."""

    def __init__(self, student: list, release: list):
        self.student, self.rel = student, release
        self.match: dict[int, int] = {}  # release index -> student index
        self.used: set[int] = set()
        self.release_gids = {grade_id(c): i for i, c in enumerate(release) if grade_id(c)}
        self.notes: list[str] = []

    def take(self, r: int, s: int) -> None:
        self.match[r] = s
        self.used.add(s)

    def free(self) -> list[int]:
        """Student cells not matched yet and without a grade_id of their own."""
        return [s for s in range(len(self.student)) if s not in self.used and not grade_id(self.student[s])]

    def open(self, predicate) -> list[int]:
        """Release cells not matched yet for which predicate(cell) holds."""
        return [r for r, cell in enumerate(self.rel) if r not in self.match and predicate(cell)]


def by_grade_id(m: Matching) -> None:
    """1. The nbgrader grade_id (duplicates: prefer a copy that is not the untouched stub)."""
    by_gid: dict[str, list[int]] = {}
    for s, cell in enumerate(m.student):
        if grade_id(cell):
            by_gid.setdefault(grade_id(cell), []).append(s)
    for gid, candidates in by_gid.items():
        r = m.release_gids.get(gid)
        if r is None:
            continue
        chosen = candidates[0]
        if len(candidates) > 1:
            changed = [s for s in candidates if m.student[s].source != m.rel[r].source]
            chosen = changed[-1] if changed and is_answer(m.rel[r]) else candidates[0]
            m.notes.append(f"cell {gid} appears {len(candidates)} times: graded the "
                           f"{'edited' if chosen in changed and is_answer(m.rel[r]) else 'first'} copy")
        m.take(r, chosen)


def by_cell_id(m: Matching) -> None:
    """2. The notebook cell id."""
    student_ids: dict[str, list[int]] = {}
    for s, cell in enumerate(m.student):
        if cell.get("id"):
            student_ids.setdefault(cell.id, []).append(s)
    for r in m.open(lambda cell: cell.get("id")):
        cell = m.rel[r]
        for s in student_ids.get(cell.id, []):
            other_gid = grade_id(m.student[s])
            if s not in m.used and not (other_gid in m.release_gids and other_gid != grade_id(cell)):
                m.take(r, s)
                break


def answers_by_name(m: Matching) -> None:
    """3a. An answer cell by the functions and classes it defines (the edited copy first)."""
    for r in m.open(lambda cell: is_answer(cell) and cell.cell_type == "code"):
        names = defined_names(m.rel[r].source)
        best = [s for s in m.free() if m.student[s].cell_type == "code" and names & defined_names(m.student[s].source)]
        if best:
            changed = [s for s in best if m.student[s].source != m.rel[r].source]
            m.take(r, (changed or best)[-1])


def tests_by_docstring(m: Matching) -> None:
    """3b. A test cell by its docstring, else by close source."""
    for r in m.open(is_test):
        cell = m.rel[r]
        doc = docstring_line(cell.source)
        code = [s for s in m.free() if m.student[s].cell_type == "code"]
        found = [s for s in code if doc and docstring_line(m.student[s].source) == doc]
        if not found:
            scored = sorted(((similarity(cell.source, m.student[s].source), s) for s in code), reverse=True)
            found = [s for score, s in scored[:1] if score >= 0.8]
        if found:
            m.take(r, found[0])


def others_by_equal_source(m: Matching) -> None:
    """3c. Every other cell by equal source."""
    for r in m.open(lambda cell: not is_answer(cell)):
        cell = m.rel[r]
        exact = [s for s in m.free() if m.student[s].cell_type == cell.cell_type and m.student[s].source == cell.source]
        if exact:
            m.take(r, exact[0])


def others_by_close_source(m: Matching) -> None:
    """3d. Every other cell by close source."""
    for r in m.open(lambda cell: not is_answer(cell)):
        cell = m.rel[r]
        scored = sorted(((similarity(cell.source, m.student[s].source), -s) for s in m.free()
                         if m.student[s].cell_type == cell.cell_type), reverse=True)
        if scored and scored[0][0] >= 0.8:
            m.take(r, -scored[0][1])


def answers_by_place(m: Matching) -> None:
    """3e. An answer not found by name: the free cell right after the cell matched to the one before it."""
    for r in m.open(is_answer):
        cell = m.rel[r]
        if r == 0 or (r - 1) not in m.match:
            continue
        s = m.match[r - 1] + 1
        if s < len(m.student) and s not in m.used and not grade_id(m.student[s]) \
                and m.student[s].cell_type == cell.cell_type \
                and (cell.cell_type == "markdown" or not defined_names(m.student[s].source) - defined_names(cell.source)):
            m.take(r, s)


# The matchers after the grade_id, in the order of the module doc.
MATCHERS = [by_cell_id, answers_by_name, tests_by_docstring, others_by_equal_source, others_by_close_source,
            answers_by_place]


def repair(data: bytes, release) -> Repaired:
    """See the module docstring. `release` is the released student notebook (nbformat v4)."""
    nb = read_submission(data)
    m = Matching(nb.cells, release.cells)
    by_grade_id(m)
    lost_md = m.open(grade_id)
    for matcher in MATCHERS:
        matcher(m)
    restored = [r for r in lost_md if r in m.match]
    if restored:
        m.notes.append("nbgrader metadata restored for " + ", ".join(grade_id(m.rel[r]) for r in restored)
                       + " (lost, e.g. after another editor)")
    cells, test_notes = assemble(m, extras(m))
    nb.cells = unique_ids(cells)
    nb.nbformat_minor = max(nb.nbformat_minor, 5)
    return Repaired(nb, m.notes, test_notes)


def extras(m: Matching) -> dict[int, list]:
    """Unmatched student cells, by the student index of the matched cell they follow (-1: start).

    Stale nbgrader metadata is dropped, and so are untouched stub copies and extra test copies.
    """
    stub_sources = {cell.source for cell in m.rel if is_answer(cell)}
    test_sources = {cell.source for cell in m.rel if is_test(cell)}
    test_docs = {docstring_line(cell.source) for cell in m.rel if is_test(cell)} - {""}
    anchored: dict[int, list] = {}
    anchor = -1
    matched_students = set(m.match.values())
    dropped = []
    for s, cell in enumerate(m.student):
        if s in matched_students:
            anchor = s
            continue
        cell = copy.deepcopy(cell)
        gid = grade_id(cell)
        if cell.cell_type == "code" and (cell.source in stub_sources or cell.source in test_sources
                                         or (gid in m.release_gids and is_test(m.rel[m.release_gids[gid]]))
                                         or (docstring_line(cell.source) in test_docs)):
            dropped.append(_label(cell))
            continue
        if "nbgrader" in cell.get("metadata", {}):
            del cell.metadata["nbgrader"]
        anchored.setdefault(anchor, []).append(cell)
    if dropped:
        m.notes.append("dropped duplicate cells: " + ", ".join(dropped))
    return anchored


def assemble(m: Matching, anchored: dict[int, list]) -> tuple[list, dict[str, str]]:
    """The cells in the release's order, each extra after the cell it followed; and the tests that cannot be graded."""
    cells = list(anchored.get(-1, []))
    order = []
    test_notes: dict[str, str] = {}
    missing_answer = None
    for r, rcell in enumerate(m.rel):
        if is_answer(rcell):
            missing_answer = None
        if r in m.match:
            order.append(m.match[r])
            cells.append(_restored(m, rcell, m.student[m.match[r]]))
            cells.extend(anchored.get(m.match[r], []))
        else:
            cells.append(copy.deepcopy(rcell))
            missing_answer = _note_missing(m, rcell) or missing_answer
        if is_test(rcell) and missing_answer:
            test_notes[grade_id(rcell)] = (f"could not grade: answer cell {missing_answer} not found in the "
                                           "submission (deleted or renamed)")
        if is_answer(rcell) and rcell.cell_type == "markdown" and r not in m.match:
            test_notes[grade_id(rcell)] = f"could not grade: written answer {grade_id(rcell)} not found in the submission"
    if order != sorted(order):
        m.notes.append("cells were out of order: put back in the release's order")
    return cells, test_notes


def _restored(m: Matching, rcell, student_cell):
    """A copy of the student's cell with the release's nbgrader metadata and cell type."""
    cell = copy.deepcopy(student_cell)
    if grade_id(rcell):
        cell.metadata["nbgrader"] = copy.deepcopy(rcell.metadata["nbgrader"])
        if cell.cell_type != rcell.cell_type:
            m.notes.append(f"cell {grade_id(rcell)} was turned into {cell.cell_type}: restored as {rcell.cell_type}")
            cell = _as_type(cell, rcell.cell_type)
    return cell


def _note_missing(m: Matching, rcell) -> str | None:
    """Note a release cell the student deleted; its grade_id if it is an answer."""
    if is_answer(rcell):
        m.notes.append(f"answer cell {grade_id(rcell)} not found (deleted or renamed): put back the stub")
        return grade_id(rcell)
    if is_test(rcell):
        m.notes.append(f"test cell {grade_id(rcell)} was deleted: restored from the release")
    elif grade_id(rcell) or rcell.cell_type == "code":
        m.notes.append(f"course cell {_label(rcell)} was deleted: restored from the release")
    return None


def unique_ids(cells: list) -> list:
    """Unique cell ids (a duplicated cell may share its id), deterministic."""
    seen: set[str] = set()
    for index, cell in enumerate(cells):
        cid = cell.get("id") or f"cell-{index}"
        while cid in seen:
            cid = f"{cid}-x"
        cell["id"] = cid
        seen.add(cid)
    return cells


def _as_type(cell, cell_type: str):
    if cell_type == "code":
        new = nbformat.v4.new_code_cell(cell.source)
    else:
        new = nbformat.v4.new_markdown_cell(cell.source)
    new.metadata = cell.metadata
    if "id" in cell:
        new["id"] = cell["id"]
    return new
