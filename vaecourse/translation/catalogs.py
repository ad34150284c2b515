"""The gettext catalogs of the course: what is extracted from where, and how it is kept in step.

    locales/<lang>/LC_MESSAGES/NN_name.po   one per master: its markdown cells (one message
                                            per cell), the message literals of its code cells
                                            and of its grader-side verdicts (vaecourse/verdicts/)
    locales/<lang>/LC_MESSAGES/vaecourse.po the package's student-facing modules (PACKAGE_MODULES)

`make build` extracts the messages again and merges them into each catalog with Babel: a
new message is added untranslated, a changed one keeps its old translation marked fuzzy, a
removed one is dropped. An untranslated or fuzzy message is never used (the English stays,
and tests/test_translation.py fails), so English cannot leak into an edition silently.
"""
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from vaecourse.masters import HELPERS_TAG, ROOT, tags
from vaecourse.translation.literals import blank_magics, marked_literals, message_literals
from vaecourse.verdicts import verdict_module_name

LOCALES_DIR = ROOT / "locales"
LANGUAGES = ("ja",)
PACKAGE_DOMAIN = "vaecourse"
# Modules translated as a whole, every message literal: inlined into the student notebooks
# (checking, plots, runtime, data), judging a submission in the grader (verdicts.core) or standing in for
# the course's answers in the student's kernel (verdicts.foreseen_calls: its errors reach the feedback).
PACKAGE_MODULES = ("vaecourse/checking.py", "vaecourse/plots.py", "vaecourse/runtime.py", "vaecourse/data.py",
                   "vaecourse/verdicts/core.py", "vaecourse/verdicts/foreseen_calls.py")
# Modules that run in English and look up a few messages for a student's page: only the strings
# they pass to localise("...", lang) are messages (the build's links and helper titles, the
# reference figures' captions, the feedback pages' words).
MARKED_MODULES = ("vaecourse/bundling.py", "vaecourse/figures.py", "vaecourse/nbg/feedbacklabels.py",
                  "vaecourse/nbg/verdictexecute.py", "vaecourse/nbg/feedbackpage.py",
                  "vaecourse/nbg/sanitizeoutputs.py")
HEADER_COMMENT = ("Translations of the VAE course. Generated messages, edited translations: "
                  "`make build` re-extracts the msgids from the masters and the package; "
                  "edit only the msgstr lines (glossary: locales/{lang}/glossary.md).")


@dataclass
class Message:
    msgid: str
    locations: list = field(default_factory=list)  # (file, line)
    comments: list = field(default_factory=list)


def _add(messages: dict, msgid: str, location: tuple, comment: str) -> None:
    message = messages.setdefault(msgid, Message(msgid))
    message.locations.append(location)
    if comment not in message.comments:
        message.comments.append(comment)


def verdict_module(notebook: str) -> Path:
    """The source of a master's grader-side verdicts (a notebook without verdicts has none on disk)."""
    return ROOT.joinpath(*verdict_module_name(notebook).split(".")).with_suffix(".py")


def notebook_messages(nb, name: str) -> dict[str, Message]:
    """A master's messages: each markdown cell, each message literal of its code cells and verdicts."""
    messages: dict[str, Message] = {}
    where = f"solutions/{name}.ipynb"
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source.strip():
            _add(messages, cell.source, (f"{where}#{cell.id}", 1), "markdown cell")
        elif cell.cell_type == "code" and HELPERS_TAG not in tags(cell):
            for literal in message_literals(blank_magics(cell.source)):
                _add(messages, literal.msgid, (f"{where}#{cell.id}", literal.line), "code cell: a string literal")
    verdicts = verdict_module(name)
    if verdicts.is_file():
        for literal in message_literals(verdicts.read_text()):
            _add(messages, literal.msgid, (str(verdicts.relative_to(ROOT)), literal.line), "grader-side verdict")
    return messages


def package_messages(more: tuple = ()) -> dict[str, Message]:
    """The package's messages: its modules' literals, then `more` ((msgid, (file, line), comment) each:
    words that live outside the package's source, such as the reference figures', given by their owner)."""
    messages: dict[str, Message] = {}
    for module in PACKAGE_MODULES:
        for literal in message_literals((ROOT / module).read_text()):
            _add(messages, literal.msgid, (module, literal.line), "course package")
    for module in MARKED_MODULES:
        for msgid in marked_literals((ROOT / module).read_text()):
            _add(messages, msgid, (module, 1), "course package: a page's words")
    for msgid, location, comment in more:
        _add(messages, msgid, location, comment)
    return messages


def domains(masters: dict, more: tuple = ()) -> dict[str, dict[str, Message]]:
    """Every catalog's messages, by domain (the master's name, or PACKAGE_DOMAIN with `more`)."""
    found = {name: notebook_messages(nb, name) for name, nb in masters.items()}
    found[PACKAGE_DOMAIN] = package_messages(more)
    return found


def catalog_path(lang: str, domain: str) -> Path:
    return LOCALES_DIR / lang / "LC_MESSAGES" / f"{domain}.po"


def read_catalog(path: Path, lang: str) -> Catalog:
    if not path.is_file():
        return Catalog(locale=lang, domain=path.stem)
    with path.open("rb") as handle:
        return read_po(handle, locale=lang, domain=path.stem)


def merged_catalog(lang: str, domain: str, messages: dict[str, Message]) -> Catalog:
    """The catalog on disk updated to these messages (Babel's update: changed -> fuzzy, gone -> dropped)."""
    template = Catalog(locale=None, domain=domain, project="vaecourse", version="1", fuzzy=False)
    for message in messages.values():
        template.add(message.msgid, locations=message.locations, auto_comments=message.comments)
    catalog = read_catalog(catalog_path(lang, domain), lang)
    catalog.update(template, no_fuzzy_matching=False, update_header_comment=False)
    catalog.obsolete.clear()
    catalog.header_comment = "# " + HEADER_COMMENT.format(lang=lang)
    catalog.fuzzy = False
    return catalog


def catalog_text(catalog: Catalog) -> str:
    buffer = BytesIO()
    write_po(buffer, catalog, width=0, omit_header=False, ignore_obsolete=True, include_previous=False,
             sort_output=False)
    text = buffer.getvalue().decode("utf-8")
    # The header's dates change on every write; pin them so that an unchanged catalog stays byte-identical.
    lines = [line for line in text.splitlines(keepends=True)
             if not line.startswith(('"POT-Creation-Date:', '"PO-Revision-Date:', '"Generated-By:'))]
    return "".join(lines)


def catalog_files(masters: dict, more: tuple = ()) -> dict[Path, str]:
    """Every catalog file of every language and its content after extraction (nothing written);
    `more`: package messages from outside the package's source (package_messages)."""
    files = {}
    for lang in LANGUAGES:
        for domain, messages in domains(masters, more).items():
            files[catalog_path(lang, domain)] = catalog_text(merged_catalog(lang, domain, messages))
    return files


def translations(path_or_text, lang: str) -> dict[str, str]:
    """msgid -> msgstr of the translated, not fuzzy messages of a catalog (a path or its text)."""
    if isinstance(path_or_text, Path):
        catalog = read_catalog(path_or_text, lang)
    else:
        catalog = read_po(BytesIO(path_or_text.encode("utf-8")), locale=lang)
    return {message.id: message.string for message in catalog
            if message.id and message.string and not message.fuzzy}
