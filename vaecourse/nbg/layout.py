"""The nbgrader course folder's layout: where each kind of notebook lives (assignment name == notebook name)."""
from pathlib import Path

import nbformat

from vaecourse.nbg.config import config_text


def notebook_path(root: Path, kind: str, name: str, student: str | None = None) -> Path:
    """root/<kind>/[<student>/]<name>/<name>.ipynb; kind: source, release, submitted, autograded or feedback."""
    folder = Path(root) / kind / student / name if student else Path(root) / kind / name
    return folder / f"{name}.{'html' if kind == 'feedback' else 'ipynb'}"


def write_course_source(root: Path, notebooks: dict, config: str | None = None) -> None:
    """An nbgrader course folder: nbgrader_config.py (default: the course's) and source/<name>/<name>.ipynb."""
    (Path(root) / "nbgrader_config.py").write_text(config if config is not None else config_text())
    for name, nb in notebooks.items():
        path = notebook_path(root, "source", name)
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, path)
