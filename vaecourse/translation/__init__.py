"""The course in other languages, from the same masters: gettext catalogs applied at build and grading time.

    catalogs.py  what is extracted from where into locales/<lang>/LC_MESSAGES/*.po (Babel)
    literals.py  the message literals of Python source, found and replaced (code kept byte for byte)
    checks.py    what a translation must keep, and the glossary (tests/test_translation.py)
    modules.py   the package's modules with their messages translated, for the grader's verdicts

English is the source language ("en"): translating into it changes nothing. A translated
notebook says its language in its metadata (`vaecourse.language`), which is how the grader
knows to judge and report in that language.
"""
import copy
from functools import cache

from vaecourse.masters import HELPERS_TAG, tags
from vaecourse.translation.catalogs import LANGUAGES, LOCALES_DIR, translations
from vaecourse.translation.literals import blank_magics, translate_source

SOURCE_LANGUAGE = "en"


def notebook_language(nb) -> str:
    """The language a notebook was built in ("en" unless the build said otherwise)."""
    return nb.metadata.get("vaecourse", {}).get("language", SOURCE_LANGUAGE)


class Translator:
    """Every translated message of one language (all its catalogs), applied to text, code and notebooks."""

    def __init__(self, lang: str, messages: dict[str, str]):
        self.lang = lang
        self.messages = messages

    def lookup(self, msgid: str) -> str | None:
        return self.messages.get(msgid)

    def text(self, msgid: str) -> str:
        return self.messages.get(msgid, msgid)

    def source(self, python: str) -> str:
        """Python source with its message literals translated (the code itself unchanged)."""
        return translate_source(python, self.lookup) if self.messages else python

    def notebook(self, nb):
        """A copy of a notebook in this language: markdown cells and the messages of code cells."""
        nb = copy.deepcopy(nb)
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                cell.source = self.text(cell.source)
            elif cell.cell_type == "code" and HELPERS_TAG not in tags(cell) and self.messages:
                cell.source = _translate_cell(cell.source, self.lookup)
        nb.metadata.setdefault("vaecourse", {})["language"] = self.lang
        return nb


def _translate_cell(source: str, lookup) -> str:
    """A code cell's messages translated; IPython magics (%pip, !ls) are not Python, so they are set aside first."""
    lines = source.splitlines(keepends=True)
    magics = {index: line for index, line in enumerate(lines) if line.lstrip().startswith(("%", "!"))}
    translated = translate_source(blank_magics(source), lookup).splitlines(keepends=True)
    return "".join(magics.get(index, line) for index, line in enumerate(translated))


@cache
def translator(lang: str) -> Translator:
    """The translator of `lang`: the translated, not fuzzy messages of all its catalogs."""
    if lang == SOURCE_LANGUAGE:
        return Translator(lang, {})
    if lang not in LANGUAGES:
        raise ValueError(f"no translation into {lang!r}; the course has {', '.join((SOURCE_LANGUAGE,) + LANGUAGES)}")
    messages: dict[str, str] = {}
    for path in sorted((LOCALES_DIR / lang / "LC_MESSAGES").glob("*.po")):
        for msgid, msgstr in translations(path, lang).items():
            messages.setdefault(msgid, msgstr)
    return Translator(lang, messages)


def localise(msgid: str, lang: str = SOURCE_LANGUAGE) -> str:
    """One message in `lang` (a template keeps its {fields}: format it afterwards); English when untranslated."""
    return translator(lang).text(msgid)
