"""The machinery every mistakes catalogue shares (tests/test_mistakes_NN.py hold only their data).

A catalogue lists realistic student mistakes, each an edit of one solution of a master, and
correct alternatives written differently. One real nbgrader run grades them all; then

- each mistake loses points on the test that must catch it (and only where it may), and
  that test's visible-check message names the likely cause,
- each correct alternative gets full marks.

The perfect and the blank notebook are not graded here: tests/test_grading_every_notebook.py
grades both of every notebook through the grading command, in the sandbox, with the same asserts
and more (full marks on every part; 0 with a message on every part). Grading them here as well ran
20 notebooks a second time in every CI run. What the catalogue says of the full marks and the tests
is checked against the master instead.

A test module defines its catalogue and a class that inherits the tests:

    CATALOGUE = Catalogue("03_decoder", MISTAKES, CORRECT, full_marks=10, ...)

    class TestCatalogue(CatalogueTests):
        catalogue = CATALOGUE

conftest.py parametrizes the tests over the catalogue's keys.
"""
from dataclasses import dataclass
from functools import cached_property
from itertools import zip_longest

import pytest

from harness import autograde, filled_student, load_master, solution_sources
from simulated_class import points_of_tests
from vaecourse.verdicts import verdicts_for


@dataclass(frozen=True)
class Mistake:
    """One realistic mistake: an edit of one solution cell of the master, and how it must be caught.

    edit: (text in the master's solution, what the student wrote instead), or a list of such pairs.
    test: the test that must catch it; its message must contain `message`.
    loses: exactly the tests it costs (default: {test}).
    """
    cell: str
    edit: tuple | list
    test: str
    message: str
    loses: frozenset[str] | set[str] | None = None

    def __post_init__(self):
        pairs = (self.edit,) if isinstance(self.edit[0], str) else self.edit
        object.__setattr__(self, "edit", tuple(tuple(pair) for pair in pairs))
        if self.loses is not None:
            object.__setattr__(self, "loses", frozenset(self.loses))

class Catalogue:
    """One notebook's catalogue and how its submissions are made and judged.

    grouping: "each" grades every mistake in a submission of its own; "by_exercise" puts the
    k-th mistake of every exercise into the k-th submission (exercises have their own test
    cells, so they are independent); "greedy" joins a mistake to the first submission whose
    cells and lost tests it does not touch (for mistakes that cost more than one test).
    replace_count: how many occurrences of each edit's old text are replaced (-1: all).
    """

    def __init__(self, notebook: str, mistakes: dict, correct: dict, *, full_marks: float,
                 tests: list[str] | None = None, grouping: str = "each", replace_count: int = -1,
                 assertion_errors_count: bool = False, min_mistakes: int = 6, min_correct: int = 2):
        assert grouping in {"each", "by_exercise", "greedy"}, grouping
        self.notebook = notebook
        self.mistakes = dict(mistakes)
        self.correct = correct
        self.full_marks = full_marks
        self.tests = tests
        self.grouping = grouping
        self.replace_count = replace_count
        number = int(notebook[:2])
        # A check raises CheckFailed; some checks in later notebooks are plain asserts with the same prefix.
        self.prefixes = (f"CheckFailed: Exercise {number}.",) + (
            (f"AssertionError: Exercise {number}.",) if assertion_errors_count else ())
        self.min_mistakes, self.min_correct = min_mistakes, min_correct
        self.graded_outside = bool(verdicts_for(notebook))  # its tests are judged by the grader (vaecourse.verdicts)

    # ------------------------------------------------------------ submissions

    @cached_property
    def sources(self) -> dict[str, str]:
        """The master's solution cells by grade_id (read once)."""
        return solution_sources(load_master(self.notebook))

    def edited_source(self, key: str) -> str:
        """The master's solution with mistake `key` made; fails if an edit no longer applies,
        so that an entry cannot silently test nothing after the master changes."""
        mistake = self.mistakes[key]
        source = self.sources[mistake.cell]
        for old, new in mistake.edit:
            assert old in source, (f"mistake {key}: {old!r} is not in the master's solution of "
                                   f"{self.notebook}:{mistake.cell}:\n{source}")
            source = source.replace(old, new, self.replace_count)
        return source

    def submission_with(self, keys: list[str]):
        """The filled student notebook with the named mistakes made (at most one per solution cell)."""
        replace = {}
        for key in keys:
            cell = self.mistakes[key].cell
            assert cell not in replace, f"two mistakes in {cell}: {keys}"
            replace[cell] = self.edited_source(key)
        return filled_student(self.notebook, replace)

    def lost_by(self, key: str) -> frozenset[str]:
        mistake = self.mistakes[key]
        return mistake.loses if mistake.loses is not None else frozenset({mistake.test})

    def groups(self) -> list[list[str]]:
        """The mistakes as submissions: lists of keys graded together."""
        if self.grouping == "each":
            return [[key] for key in self.mistakes]
        if self.grouping == "by_exercise":
            by_cell: dict[str, list[str]] = {}
            for key, mistake in self.mistakes.items():
                by_cell.setdefault(mistake.cell, []).append(key)
            return [[key for key in group if key] for group in zip_longest(*by_cell.values())]
        groups: list[list[str]] = []
        for key, mistake in self.mistakes.items():
            for group in groups:
                if all(self.mistakes[k].cell != mistake.cell and not (self.lost_by(k) & self.lost_by(key))
                       for k in group):
                    group.append(key)
                    break
            else:
                groups.append([key])
        return groups

    def group_of(self, key: str) -> list[str]:
        return next(group for group in self.groups() if key in group)

    @staticmethod
    def submission_name(group: list[str]) -> str:
        return "mistakes_" + "__".join(group)

    def submissions(self) -> dict:
        """Every submission of the catalogue by student name."""
        out = {}
        for group in self.groups():
            out[self.submission_name(group)] = self.submission_with(group)
        for key, replace in self.correct.items():
            out[f"correct_{key}"] = filled_student(self.notebook, replace)
        return out

    # ------------------------------------------------------------ verdicts

    def check_lost(self, key: str, lost: list[str]) -> None:
        """Assert that the submission holding mistake `key` lost points exactly where it may."""
        group = self.group_of(key)
        expected = sorted(set().union(*(self.lost_by(k) for k in group)))
        assert lost == expected, f"{group}: expected to lose points on {expected}, lost {lost}"


class CatalogueTests:
    """The tests of one catalogue; subclass it with `catalogue = Catalogue(...)`."""

    catalogue: Catalogue

    @pytest.fixture(scope="class")
    @classmethod
    def graded(cls, tmp_path_factory, offline_data):
        """Every submission of the catalogue graded in one real nbgrader run."""
        catalogue = cls.catalogue
        submissions = catalogue.submissions()
        with pytest.MonkeyPatch.context() as patch:
            # notebooks that save a model must not find one from an earlier run
            patch.setenv("VAE_COURSE_CHECKPOINTS", str(tmp_path_factory.mktemp("checkpoints")))
            result, log = autograde(catalogue.notebook, submissions, tmp_path_factory.mktemp("grading"),
                                    offline_data)
        missing = set(submissions) - set(result)
        assert not missing, f"nbgrader did not grade {missing}:\n{log}"
        return result

    def test_catalogue_is_large_covers_every_exercise_and_every_edit_applies(self):
        catalogue = self.catalogue
        assert len(catalogue.mistakes) >= catalogue.min_mistakes
        assert len(catalogue.correct) >= catalogue.min_correct
        assert {m.cell for m in catalogue.mistakes.values()} == set(catalogue.sources), \
            "every solution cell of the master needs at least one catalogued mistake"
        for group in catalogue.groups():
            catalogue.submission_with(group)
        for replace in catalogue.correct.values():
            assert set(replace) <= set(catalogue.sources), sorted(replace)

    def test_the_full_marks_and_the_tests_are_the_masters(self):
        """full_marks and tests as the master's metadata has them (the perfect notebook's grading, which
        shows they are earned, is in tests/test_grading_every_notebook.py: see the module doc)."""
        points = points_of_tests(self.catalogue.notebook)
        if self.catalogue.tests:
            assert sorted(points) == sorted(self.catalogue.tests)
        assert sum(points.values()) == self.catalogue.full_marks, points

    @pytest.mark.slow
    def test_mistake_loses_points_on_the_right_test_with_a_teaching_message(self, graded, mistake):
        catalogue = self.catalogue
        result = graded[catalogue.submission_name(catalogue.group_of(mistake))]
        catalogue.check_lost(mistake, result.lost())
        test, words = catalogue.mistakes[mistake].test, catalogue.mistakes[mistake].message
        message = result.errors.get(test, "")
        verdict = result.verdict_messages(test)
        if catalogue.graded_outside:
            assert verdict, f"no part of {test}'s grader-side verdict lost points: {result.parts.get(test)}"
        if message:
            assert message.startswith(catalogue.prefixes), message
        # the visible check names the cause, or (when it blames an earlier exercise the submission
        # also got wrong) the grader-side verdict, which judges with the course's earlier exercises
        assert words in message or words in verdict, \
            f"the feedback should name the likely cause ({words!r}):\nvisible check: {message}\nverdict: {verdict}"

    @pytest.mark.slow
    def test_correct_alternative_gets_full_marks(self, graded, alternative):
        result = graded[f"correct_{alternative}"]
        assert result.total() == result.max_total() == self.catalogue.full_marks, (result.errors, result.parts)
