"""ExerciseStubs: nbgrader's ClearSolutions, with a code stub that names the exercise."""
from nbgrader.preprocessors import ClearSolutions

from vaecourse.masters import SOLUTION, exercise_stub, has_region, notebook_number, replace_regions


class ExerciseStubs(ClearSolutions):
    """ClearSolutions whose code stub names the exercise: `Exercise 4.2: implement kl_divergence`.

    Exercises are numbered by notebook (04_elbo -> 4) and by the order of the solution
    cells in it; the master's markdown heading for that exercise must use the same
    number (the build checks, `vaecourse.masters.check_exercise_numbers`).
    """

    def preprocess(self, nb, resources):
        name = resources.get("nbgrader", {}).get("notebook") or resources.get("unique_key", "")
        self._prefix = notebook_number(str(name))
        self._counter = 0
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "code" and has_region(cell.source, SOLUTION):
            self._counter += 1
        return super().preprocess_cell(cell, resources, cell_index)

    def _replace_solution_region(self, cell, language):
        if cell.cell_type != "code":
            return super()._replace_solution_region(cell, language)
        exercise = f"{self._prefix}.{self._counter}"
        cell.source, count = replace_regions(cell.source, SOLUTION,
                                             lambda lines, index: exercise_stub(exercise, lines, index), strict=True)
        return count > 0
