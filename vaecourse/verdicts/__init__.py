"""The hidden tests, judged by the grader: one module per notebook, named after it without its
number (`vaecourse/verdicts/elbo.py` for `04_elbo`), each defining `VERDICTS`, a tuple of
`vaecourse.verdicts.core.Verdict`, one per graded test cell. core.py says how a verdict is run.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # core imports torch; vaecourse.verdicts.record (the record's mime type) must not
    from vaecourse.verdicts.core import Verdict


def verdict_module_name(notebook: str) -> str:
    """`04_elbo` -> `vaecourse.verdicts.elbo` (`vaecourse.lang_ja.verdicts.elbo` in the Japanese package).

    The one rule from a notebook to its verdicts: the grader imports them by it, and the catalogs find
    their messages by it (vaecourse/translation/catalogs.py, which must not load torch: hence no core here)."""
    return f"{__name__}.{notebook.split('_', 1)[1]}"


def verdicts_for(notebook: str) -> dict[str, Verdict]:
    """The verdicts of a notebook by grade_id ({} for a notebook without a verdicts module)."""
    try:
        module = importlib.import_module(verdict_module_name(notebook))
    except ModuleNotFoundError as error:
        if error.name != verdict_module_name(notebook):
            raise
        return {}
    return {verdict.grade_id: verdict for verdict in module.VERDICTS}
