"""Text the course promises at fixed places: 01 opens with a plain-language overview that names
every notebook, 03 opens with a diagram of the whole model that renders anywhere (a fenced text
block, no image file), and 05 reaches its first exercise without the optional timing section."""
import re

from vaecourse import masters
from vaecourse.build import title_and_summary


def _markdown(name: str) -> list[str]:
    return [cell.source for cell in masters.read_master(name).cells if cell.cell_type == "markdown"]


def test_01_overview_comes_before_any_formula_and_names_every_notebook():
    cells = _markdown("01_mnist")
    overview = next(text for text in cells if text.startswith("## The course in plain words"))
    before = "\n".join(cells[:cells.index(overview)]) + overview.split("**What the ten notebooks build.**")[0]
    assert "$" not in before, "the plain-language part must come before any formula"
    for word in ("Auto-encoder", "Variational", "encoder", "decoder", "code"):
        assert word in overview
    for path in masters.master_paths():
        title, _ = title_and_summary(masters.read_master(path.stem), path.stem)
        short = title.split(":")[0]  # "04 · The ELBO: from the paper to a loss" -> "04 · The ELBO"
        assert f"**{short}" in overview, f"01's overview does not list {title!r}"


def test_03_opens_with_a_text_diagram_of_the_whole_model():
    cells = _markdown("03_decoder")
    assert cells[1].startswith("## The whole model at a glance"), "the diagram comes right after the title"
    blocks = re.findall(r"```text\n(.*?)\n```", cells[1], flags=re.S)
    assert len(blocks) == 1 and "![" not in cells[1] and "<img" not in cells[1]
    diagram = blocks[0]
    for name in ("x  (B, 1, 28, 28)", "mu (B, latent_dim)", "logvar (B, latent_dim)", "z = mu + sigma * eps",
                 "z (B, latent_dim)", "x_hat (B, 1, 28, 28)", "-log p(x|z)", "KL(q(z|x) || N(0, I))"):
        assert name in diagram, name
    lines = diagram.splitlines()
    assert max(len(line) for line in lines) <= 80, "wider than a notebook's text column"
    boxes = 0
    for i, line in enumerate(lines):  # every box closes: its sides stay in the columns of its corners
        for start in (m.start() for m in re.finditer("┌", line)):
            end = line.index("┐", start)
            j = i + 1
            while lines[j][start] != "└":
                assert lines[j][start] == "│" and lines[j][end] == "│", f"box side out of line on line {j + 1}"
                j += 1
            assert lines[j][end] == "┘", f"box bottom out of line on line {j + 1}"
            boxes += 1
    assert boxes == 5  # encoder, sample, KL, decoder, reconstruction


def test_05_reaches_its_first_exercise_before_the_optional_timing_section():
    cells = masters.read_master("05_training").cells
    first_exercise = next(i for i, cell in enumerate(cells) if "Exercise 5.1" in cell.source)
    optional = next(i for i, cell in enumerate(cells) if cell.source.startswith("## Optional: where the time goes"))
    summary = next(i for i, cell in enumerate(cells) if cell.source.startswith("## Summary"))
    timing = [i for i, cell in enumerate(cells) if "def feeding_speed" in cell.source]
    assert first_exercise < summary < optional and timing and all(i > optional for i in timing)
