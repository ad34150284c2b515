"""What a translation must keep, and the glossary it must use: the rules tests/test_translation.py applies.

- every message translated and none fuzzy (coverage 100%);
- the {fields} of a template, the maths ($...$, $$...$$) and the code spans (`...`, fenced
  blocks) of a markdown cell kept exactly, in any order;
- a markdown cell's headings keep their level and Colab form titles (#@title) their form;
- each glossary term of an English message rendered with the glossary's Japanese (a cited title in
  italics that the translation keeps in English, *Importance Weighted Autoencoders*, is not prose).
"""
import re
from collections import Counter
from pathlib import Path

from vaecourse.translation.catalogs import LOCALES_DIR, read_catalog
from vaecourse.translation.literals import fields

_FENCE = re.compile(r"```.*?```", re.DOTALL)
_DISPLAY_MATH = re.compile(r"\$\$.+?\$\$", re.DOTALL)
_INLINE_MATH = re.compile(r"(?<![\\$])\$(?!\$)[^$\n]+?(?<![\\])\$")
_CODE_SPAN = re.compile(r"`[^`\n]+`")
_HEADING = re.compile(r"^(#{1,6}) ", re.MULTILINE)
_ITALICS = re.compile(r"(?<!\*)\*[^*\n]+\*(?!\*)")


def kept_parts(text: str) -> Counter:
    """The parts of a message a translation keeps as they are: fenced code is compared as its code lines only."""
    parts = Counter()
    rest = text
    for pattern in (_FENCE, _DISPLAY_MATH, _INLINE_MATH, _CODE_SPAN):
        for found in pattern.findall(rest):
            if pattern is _FENCE:
                continue  # a diagram's labels may be translated; its presence is checked below
            parts[found] += 1
        rest = pattern.sub(" ", rest)
    parts.update(f"(code block {index})" for index, _ in enumerate(_FENCE.findall(text)))
    return parts


def prose(text: str) -> str:
    """The text a reader reads as words: without code, maths and {fields}."""
    for pattern in (_FENCE, _DISPLAY_MATH, _INLINE_MATH, _CODE_SPAN):
        text = pattern.sub(" ", text)
    return re.sub(r"\{[^{}]*\}", " ", text)


def glossary(lang: str) -> list[tuple[str, list[str]]]:
    """(English term, accepted translations) rows of locales/<lang>/glossary.md."""
    rows = []
    for line in (LOCALES_DIR / lang / "glossary.md").read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and line.startswith("|") and cells[0] not in ("English", "") and not set(cells[0]) <= set("-"):
            rows.append((cells[0], [term.strip() for term in cells[1].split(" / ")]))
    return rows


def _term_pattern(term: str) -> re.Pattern:
    return re.compile(r"(?<![\w-])" + re.escape(term).replace(r"\ ", r"[\s-]") + r"(s|es)?(?![\w-])", re.IGNORECASE)


def message_problems(msgid: str, msgstr: str, terms: list[tuple[str, list[str]]]) -> list[str]:
    """What is wrong with one translation (empty when nothing is)."""
    problems = []
    if fields(msgid) != fields(msgstr):
        problems.append(f"its {{fields}} differ: {fields(msgid)} in English, {fields(msgstr)} translated")
    lost = kept_parts(msgid) - kept_parts(msgstr)
    added = kept_parts(msgstr) - kept_parts(msgid)
    if lost or added:
        problems.append(f"maths or code changed: missing {sorted(lost)}, new {sorted(added)}")
    if _HEADING.findall(msgid) != _HEADING.findall(msgstr):
        problems.append(f"headings differ: {_HEADING.findall(msgid)} against {_HEADING.findall(msgstr)}")
    english = prose(msgid)
    for kept_title in (span for span in _ITALICS.findall(english) if span in msgstr):
        english = english.replace(kept_title, " ")
    for term, accepted in terms:
        if _term_pattern(term).search(english) and not any(word in msgstr for word in accepted):
            problems.append(f"the glossary's {' / '.join(accepted)} for {term!r} is missing")
    return problems


def catalog_problems(path: Path, lang: str) -> list[str]:
    """Every untranslated, fuzzy or unfaithful message of a catalog, one line each."""
    terms = glossary(lang)
    problems = []
    for message in read_catalog(path, lang):
        if not message.id:
            continue
        where = f"{path.name}: {message.id[:70]!r}"
        if not message.string:
            problems.append(f"{where}: not translated")
        elif message.fuzzy:
            problems.append(f"{where}: fuzzy (the English changed; check the translation and remove the fuzzy flag)")
        else:
            problems += [f"{where}: {problem}" for problem in message_problems(message.id, message.string, terms)]
    return problems


def main(argv=None) -> int:
    """python -m vaecourse.translation.checks [FILE.po ...]: list the problems of catalogs (all when none named)."""
    import sys

    from vaecourse.translation.catalogs import LANGUAGES

    paths = [Path(arg) for arg in (argv if argv is not None else sys.argv[1:])] or [
        path for lang in LANGUAGES for path in sorted((LOCALES_DIR / lang / "LC_MESSAGES").glob("*.po"))]
    count = 0
    for path in paths:
        lang = path.resolve().parents[1].name
        for problem in catalog_problems(path, lang):
            print(problem)
            count += 1
    print(f"{count} problems in {len(paths)} catalogs")
    return 1 if count else 0


if __name__ == "__main__":
    raise SystemExit(main())
