"""The course package with its messages in another language, for the grader: `translated("vaecourse.verdicts", "ja")`.

The grader judges a Japanese submission with the same verdicts as an English one; only the
words differ. Rather than a second copy of each module, `vaecourse.lang_ja.X` is made on
import from the source of `vaecourse.X`: its message literals translated (literals.py), its
imports of the TRANSLATED modules turned into imports of `vaecourse.lang_ja.X`, so that
the check-message templates of vaecourse.checking come out in Japanese too (every other
course module is shared with the English package). The code is the
English module's, byte for byte outside the literals.
"""
import importlib
import importlib.abc
import importlib.util
import linecache
import re
import sys

from vaecourse.masters import ROOT

PREFIX = "vaecourse.lang_"
# The modules a verdict's words come from; every other course module is imported as it is (one copy).
# The import hook below reaches up two floors: it loads vaecourse.checking and vaecourse.verdicts, which
# import nothing of translation, by name. So the grader judges with the verdicts' own code, only their words
# translated, and a process that translates loads neither them nor torch until asked. No import graph sees
# these strings: renaming one of the modules means renaming it here too.
TRANSLATED = ("checking", "verdicts")
_IMPORT = re.compile(r"^(\s*)(from|import) vaecourse\.(?=(" + "|".join(TRANSLATED) + r")\b)", re.MULTILINE)


def _english_name(fullname: str) -> tuple[str, str] | None:
    """'vaecourse.lang_ja.verdicts.core' -> ('ja', 'vaecourse.verdicts.core')."""
    if not fullname.startswith(PREFIX):
        return None
    lang, _, rest = fullname[len(PREFIX):].partition(".")
    if rest and rest.split(".")[0] not in TRANSLATED:
        return None
    return lang, "vaecourse" + (f".{rest}" if rest else "")


class _TranslatedLoader(importlib.abc.Loader):
    def __init__(self, lang: str, english: str, path):
        self.lang, self.english, self.path = lang, english, path

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        from vaecourse.translation import translator

        source = self.path.read_text() if self.path else ""
        source = translator(self.lang).source(source)
        source = _IMPORT.sub(lambda m: f"{m.group(1)}{m.group(2)} {PREFIX}{self.lang}.", source)
        module.__dict__["__english_module__"] = self.english
        module.__file__ = str(self.path)
        filename = f"{self.path} [{self.lang}]"
        # inspect.getsource (a verdict sends a helper function's source to the kernel) reads it from here
        linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
        exec(compile(source, filename, "exec"), module.__dict__)  # noqa: S102 (the course's own module, translated)


class _TranslatedFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        names = _english_name(fullname)
        if names is None:
            return None
        lang, english = names
        relative = english.split(".")
        package_init = ROOT.joinpath(*relative, "__init__.py")
        module_file = ROOT.joinpath(*relative).with_suffix(".py")
        if package_init.is_file():
            spec = importlib.util.spec_from_loader(fullname, _TranslatedLoader(lang, english, package_init),
                                                   is_package=True)
            spec.submodule_search_locations = []
            return spec
        if module_file.is_file():
            return importlib.util.spec_from_loader(fullname, _TranslatedLoader(lang, english, module_file))
        return None


def install() -> None:
    if not any(isinstance(finder, _TranslatedFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _TranslatedFinder())


def translated(module: str, lang: str):
    """`module` (a vaecourse module) with its messages in `lang`; the module itself for English."""
    from vaecourse.translation import SOURCE_LANGUAGE, translator

    if lang == SOURCE_LANGUAGE:
        return importlib.import_module(module)
    translator(lang)  # an unknown language fails here, with the list of those there are
    install()
    return importlib.import_module(PREFIX + lang + module[len("vaecourse"):])
