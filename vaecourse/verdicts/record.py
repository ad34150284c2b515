"""The result of a judged test cell: decided once in the grader, then rendered, never re-derived.

`vaecourse.verdicts.core.judge` decides each part of a graded test cell (`PartResult`); together they
are the cell's `CellResult`. It is rendered:

- into the autograded notebook, as the cell's first output (`to_output`): an execute_result whose
  text/plain is the score, which nbgrader reads as the cell's partial credit, so the gradebook and
  everything made from it (the grades CSV, the LMS file, formgrader) follow from it; the parts ride
  along as JSON under `MIME`;
- on the feedback page as the report under the cell (`core.report`), the bare score taken away
  (nbg/hideverdictscore.py);
- in the student's summary as one line saying why the cell lost points (`why_lost`; grading/lms_export.py).

It is read back from a notebook in one place, `CellResult.from_output` (with `is_result_output`).

No torch here: the preprocessors that only look for the record (sanitising, hiding the score on the
feedback page) and the exports import this, and so start 1.7 s sooner in every nbgrader run that does
not judge (generate_assignment, generate_feedback) and every grading command."""
from dataclasses import asdict, dataclass

MIME = "application/vnd.vaecourse.verdict+json"


@dataclass(frozen=True)
class PartResult:
    name: str
    points: float
    earned: float
    message: str = ""  # why it was not earned


@dataclass(frozen=True)
class CellResult:
    parts: tuple[PartResult, ...]

    @property
    def score(self) -> float:
        return round(sum(part.earned for part in self.parts), 6)

    @property
    def lost(self) -> list[PartResult]:
        return [part for part in self.parts if part.earned < part.points]

    def to_output(self, execution_count=None) -> dict:
        """The execute_result that carries this result in the autograded notebook (nbformat v4)."""
        return {"output_type": "execute_result", "execution_count": execution_count, "metadata": {},
                "data": {"text/plain": repr(float(self.score)), MIME: {"parts": [asdict(p) for p in self.parts]}}}

    @classmethod
    def from_output(cls, output) -> "CellResult | None":
        """The result a notebook output carries, or None when it carries none (or a record that is not one)."""
        if not is_result_output(output):
            return None
        try:
            return cls(tuple(PartResult(str(p["name"]), float(p["points"]), float(p["earned"]), str(p.get("message", "")))
                             for p in output["data"][MIME]["parts"]))
        except (KeyError, TypeError, ValueError, AttributeError):
            return None

    def why_lost(self) -> str:
        """'part: the first line of its message (and N more parts)', '' when nothing was lost."""
        lost = self.lost
        if not lost:
            return ""
        first = (lost[0].message.strip().splitlines() or [""])[0]
        more = f" (and {len(lost) - 1} more part{'s' * (len(lost) > 2)})" if len(lost) > 1 else ""
        return f"{lost[0].name}: {first}{more}"


def is_result_output(output) -> bool:
    """Whether a notebook output is a judged cell's result (the execute_result `to_output` makes)."""
    return output.get("output_type") == "execute_result" and MIME in output.get("data", {})
