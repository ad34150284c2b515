"""Similarity hints: pairs of submissions whose answer-cell code is suspiciously alike. Never a penalty.

For each notebook and each autograded answer cell (nbgrader "Autograded answer", code):
1. normalise the student's cell and the released stub (the cell of release/) alike (`fingerprint`):
   parsed with `ast` (docstrings dropped; code that does not parse is tokenized as it is), comments dropped, every identifier that is not an attribute,
   keyword or builtin renamed to a positional placeholder (`v0`, `v1`, ... in order of first use),
   every string and number literal kept;
2. drop what the course gave: every token N-gram (N = NGRAM) of the stub is removed from the
   student's set of N-grams (`own_grams`);
3. an answer with fewer than MIN_TOKENS own N-grams is trivially short: never compared;
4. two students' cells score the Jaccard index of their own N-grams; a pair
   of students is listed when a cell scores at least `threshold` (default THRESHOLD), with every
   such cell and its score.

Written to <course>/exports/similarity.txt by `export`; the report says "N pairs to review".
A high score is a hint for a person to read both notebooks, not evidence.
"""
import ast
import builtins
import io
import itertools
import keyword
import tokenize
from dataclasses import dataclass
from pathlib import Path

import nbformat

from vaecourse.grading.course_folder import CourseFolder
from vaecourse.masters import grade_id, is_answer
from vaecourse.nbg.layout import RELEASE, SUBMITTED

NGRAM = 4
MIN_TOKENS = 25
THRESHOLD = 0.7
SKIP = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER,
        tokenize.ENCODING}
KEEP = set(keyword.kwlist) | set(dir(builtins)) | {"self", "cls"}


@dataclass
class Pair:
    notebook: str
    first: str
    second: str
    cells: list[tuple[str, float]]  # (grade_id, score), highest first

    @property
    def score(self) -> float:
        return max(score for _, score in self.cells)

    def line(self) -> str:
        cells = ", ".join(f"{cell} {score:.2f}" for cell, score in self.cells)
        return f"{self.notebook}: {self.first} and {self.second}: {cells}"


def _without_docstrings(source: str) -> str:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return ast.unparse(tree)


def fingerprint(source: str) -> list[str]:
    """The normalised token stream of some code: comments and docstrings dropped, names renamed."""
    names: dict[str, str] = {}
    out: list[str] = []
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(_without_docstrings(source)).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return source.split()
    for token in tokens:
        if token.type in SKIP:
            continue
        text = token.string
        if token.type == tokenize.NAME and text not in KEEP and not (out and out[-1] == "."):
            text = names.setdefault(text, f"v{len(names)}")
        out.append(text)
    return out


def ngrams(tokens: list[str], n: int = NGRAM) -> set[tuple[str, ...]]:
    return {tuple(tokens[i:i + n]) for i in range(max(len(tokens) - n + 1, 1))}


def own_grams(source: str, stub: str = "") -> set[tuple[str, ...]]:
    """The n-grams of a student's cell that are not n-grams of what the release gave."""
    return ngrams(fingerprint(source)) - (ngrams(fingerprint(stub)) if stub else set())


def score(first: str, second: str, stub: str = "") -> float | None:
    """Jaccard index of two answers' own token n-grams; None if either is trivially short once the stub is gone."""
    x, y = own_grams(first, stub), own_grams(second, stub)
    if len(x) < MIN_TOKENS or len(y) < MIN_TOKENS:
        return None
    return len(x & y) / len(x | y)


def answer_cells(path: Path) -> dict[str, str]:
    """grade_id -> source of every autograded answer (code) cell of a notebook; {} if unreadable."""
    try:
        nb = nbformat.read(path, as_version=4)
    except (OSError, ValueError, KeyError, AttributeError, TypeError):  # an unreadable submission is collect's and grading's problem, not ours
        return {}
    return {grade_id(c): c.source for c in nb.cells if c.cell_type == "code" and is_answer(c) and grade_id(c)}


def similar_pairs(course: Path, assignment: str, students: list[str], threshold: float = THRESHOLD) -> list[Pair]:
    """Pairs of students whose submitted `assignment` has an answer cell scoring >= threshold."""
    folder = CourseFolder(course)
    stubs = answer_cells(folder.notebook(RELEASE, assignment))
    cells = {s: answer_cells(p) for s in students if (p := folder.notebook(SUBMITTED, assignment, s)).is_file()}
    pairs = []
    for first, second in itertools.combinations(sorted(cells), 2):
        found = []
        for cell in sorted(set(cells[first]) & set(cells[second])):
            value = score(cells[first][cell], cells[second][cell], stubs.get(cell, ""))
            if value is not None and value >= threshold:
                found.append((cell, value))
        if found:
            pairs.append(Pair(assignment, first, second, sorted(found, key=lambda c: -c[1])))
    return pairs


def render(pairs: list[Pair], threshold: float = THRESHOLD) -> str:
    head = [f"Similarity hints: pairs of submissions whose answer code scores >= {threshold:g} (Jaccard index of",
            f"{NGRAM}-grams of normalised tokens; names renamed, comments, docstrings and the release's stub dropped,",
            f"answers under {MIN_TOKENS} tokens skipped). A hint for a person to read both notebooks, never a penalty.",
            ""]
    lines = [p.line() for p in sorted(pairs, key=lambda p: -p.score)] or ["none"]
    return "\n".join(head + lines) + "\n"
