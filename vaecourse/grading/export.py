"""The export stage of grading (the grading command's `export`, and the end of `autograde` and `all`):
everything the instructor reads after a grading, from the gradebook, for the whole class.

1. the due dates given (`--due`) into the gradebook;
2. the class CSV (report.grade_rows: every notebook and every student of the gradebook, whatever a
   run graded, so a partial run changes only its own rows);
3. the LMS grades file and the summaries (lms_export), in the layout of the LMS `--lms-format` names;
4. the similarity hints (similarity);
5. the summary table and the problems of the whole class (report, review, and the LMS's LATE marks), printed;
6. a copy of the CSV where `--csv` says, only the `--assignment` notebooks if given.
"""
from dataclasses import dataclass
from pathlib import Path

from vaecourse.grading import classroom, lms, lms_export, report, review, similarity
from vaecourse.grading.course_folder import CourseFolder
from vaecourse.grading.report import Row


@dataclass
class ExportOptions:
    """What the grading command's export options choose (their defaults here)."""
    lms_format: str = "canvas"  # the LMS whose grades import the LMS file is laid out for
    late_penalty: float = 0.0  # percent of a late notebook's score per started day late
    due: list[str] | None = None  # NN_name=ISO-DATE: due dates to set in the gradebook first
    similarity: float = similarity.THRESHOLD  # how alike two answer cells are to be listed


def export(course: Path, db_url: str, options: ExportOptions | None = None, csv_copy: Path | None = None,
           assignments: list[str] | None = None) -> list[Row]:
    """The steps of the module doc, into the course folder's exports/ (CourseFolder), a copy at csv_copy;
    returns the class's rows."""
    options = options or ExportOptions()
    folder = CourseFolder(course)
    layout, percent = options.lms_format, options.late_penalty
    if options.due:
        lms_export.set_due_dates(db_url, lms_export.parse_due(options.due))
    everything = report.gradebook_assignments(db_url)
    students = classroom.students_to_grade(course, db_url)
    rows = report.grade_rows(course, db_url, everything, students)
    report.write_csv(rows, folder.grades_csv)
    reviews = review.review_lines(course, rows)
    late = lms_export.write_exports(course, db_url, rows, reviews, layout, percent)
    pairs = [p for a in everything for p in similarity.similar_pairs(course, a, students, options.similarity)]
    folder.similarity.write_text(similarity.render(pairs, options.similarity))
    print(report.render_report(rows, reviews + lms.late_lines(course) + lms_export.late_lines(late)))
    print(f"\nSimilarity: {len(pairs)} pairs to review ({folder.similarity}; a hint, never a penalty)")
    print(f"Grades CSV: {folder.grades_csv}")
    print(f"LMS grades ({layout}, {lms_export.policy(percent)}): {folder.lms_grades_csv}; "
          f"summaries: {folder.summaries}/<student>.txt")
    if csv_copy is not None:
        write_copy(course, db_url, rows, everything, students, csv_copy, assignments)
    return rows


def write_copy(course: Path, db_url: str, rows: list[Row], everything: list[str], students: list[str], path: Path,
               assignments: list[str] | None) -> None:
    """The class CSV again at `path`, only the `assignments` notebooks if given (all of them if not)."""
    if unknown := sorted(set(assignments or ()) - set(everything)):
        raise classroom.CourseError(f"--assignment {' '.join(unknown)}: not in the gradebook "
                                    f"(it holds {', '.join(everything) or 'none'})")
    chosen = [a for a in everything if a in assignments] if assignments else everything
    report.write_csv(rows if chosen == everything else report.grade_rows(course, db_url, chosen, students), path)
    print(f"Grades CSV ({', '.join(chosen) if chosen != everything else 'copy'}): {path}")
