"""FoldHelpers: the feedback page shows the course helpers cell as one line, not its code.

The build inlines the course helpers (about 2,600 lines of package code) into one locked
cell, `grade_id` "course_helpers" (vaecourse.bundling.bundle_master). Autograde restores a
locked cell's source from the gradebook, so in the autograded notebook it is the released
code, unchanged; on the feedback page it only pushed the first exercise down and made the
page several hundred KB. Before the HTML export its source becomes one comment,
`# the course helpers, unchanged: N lines (not shown here)`; its outputs stay (a warning
it printed is still seen). Only the feedback page changes: the autograded notebook stays
complete.
"""
from nbgrader.preprocessors import NbGraderPreprocessor

from vaecourse.masters import HELPERS_GRADE_ID, HELPERS_TAG, nbgrader_md, tags


def is_helpers_cell(cell) -> bool:
    """The inlined course helpers: by its nbgrader grade_id (kept by autograde) or its tag."""
    return cell.cell_type == "code" and (nbgrader_md(cell).get("grade_id") == HELPERS_GRADE_ID
                                         or HELPERS_TAG in tags(cell))


def folded_note(source: str) -> str:
    return f"# the course helpers, unchanged: {len(source.splitlines()):,} lines (not shown here)"


class FoldHelpers(NbGraderPreprocessor):
    """Replace the course helpers cell's source by a one-line note (see module doc)."""

    def preprocess_cell(self, cell, resources, cell_index):
        if is_helpers_cell(cell):
            cell.source = folded_note(cell.source)
        return cell, resources
