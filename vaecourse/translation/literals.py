"""The student-facing string literals of Python source, found and replaced without touching the code.

A literal is a message, and so translated, when it is a one-line or implicitly concatenated
string or f-string (not triple-quoted, not a docstring) whose text outside its `{...}` fields
holds a space and a word of three or more letters: "sum over dims (1, 2, 3)" and
f"{got:.2f} nats per image" are messages; "none", "cuda", "x_hat = 0.5", a probe's
triple-quoted code and settings such as legend(loc="center left") are not. A figure's labels are
messages even when they are one word: ax.set_title("digit"), label="path", set_yticklabels(["original"]).
The message id of an f-string is its template, the fields as the code spells them (unparsed): f"epoch {epoch + 1}: {loss:.1f}" -> "epoch {epoch + 1}: {loss:.1f}".
A translation keeps every field of its template (tests/test_translation.py holds them to it);
the code around the literal, names included, is left byte for byte as it was.
"""
import ast
import re
from dataclasses import dataclass

_WORD = re.compile(r"(?<![\w.])[A-Za-z]{3,}(?!\w)")
_CODE = re.compile(r"^\s+(import|from|def|class|for|if|with|return|try|except|while)\b")  # code kept in a string
# Keyword arguments whose strings are settings, not prose: legend(loc="center left"), annotate(textcoords=...).
# A figure's or a progress bar's words are messages even when they are one word ("digit", "epoch"):
# the first argument of these calls and the value of these keywords.
LABEL_CALLS = frozenset({"set_xlabel", "set_ylabel", "set_title", "suptitle", "xlabel", "ylabel", "title"})
LABEL_KEYWORDS = frozenset({"label", "xlabel", "ylabel", "title", "suptitle", "desc"})  # desc: a progress bar
# Tick labels are a figure's words too: every string in the first argument, ax.set_yticklabels(["original"] + [...]).
TICK_LABEL_CALLS = frozenset({"set_xticklabels", "set_yticklabels"})
SETTING_KEYWORDS = frozenset({"loc", "textcoords", "xycoords", "reduction", "mode", "format", "cmap", "ha", "va",
                              "family", "fontfamily", "style", "dtype", "device", "encoding"})
_FIELD = re.compile(r"\{\{|\}\}|\{[^{}]*(?:\{[^{}]*\}[^{}]*)*\}")  # {{, }}, {field}, {field:{nested}}


@dataclass(frozen=True)
class Literal:
    start: int  # offsets into the source
    end: int
    msgid: str
    is_fstring: bool
    line: int


def is_message(text: str) -> bool:
    """Prose for a reader: a space and a word of three letters or more, outside {fields} ("indices{i}" is a key)."""
    outside = _FIELD.sub("", text)
    if _CODE.match(text) or text.startswith("^"):  # code or a regular expression
        return False
    return " " in outside and bool(_WORD.search(outside))  # "shape {s}" is one: a word, a space, a field


def blank_magics(source: str) -> str:
    """A cell's code with IPython magics (%pip, !ls) blanked, so that ast can read it; lines keep their numbers."""
    return "".join("\n" if line.lstrip().startswith(("%", "!")) else line
                   for line in source.splitlines(keepends=True))


def marked_literals(source: str, marker: str = "localise") -> list[str]:
    """The first arguments of calls marker("...", ...), and the strings a Jinja template in the module passes to
    the filter ("..." | marker): the messages of a module that is not translated as a whole."""
    found = re.findall(r'"([^"]+)"\s*\|\s*' + marker + r"\b", source)
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == marker \
                and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            found.append(node.args[0].value)
    return found


def fields(template: str) -> list[str]:
    """The {fields} of a template (not {{ or }}), sorted: what a translation must keep."""
    return sorted(match for match in _FIELD.findall(template) if match not in ("{{", "}}"))


def _template(node: ast.JoinedStr) -> str:
    parts = []
    for value in node.values:
        if isinstance(value, ast.Constant):
            parts.append(value.value.replace("{", "{{").replace("}", "}}"))
        else:
            conversion = {-1: "", 115: "!s", 114: "!r", 97: "!a"}[value.conversion]
            spec = f":{_template(value.format_spec)}" if value.format_spec else ""
            parts.append("{" + ast.unparse(value.value) + conversion + spec + "}")
    return "".join(parts)


def _docstrings(tree) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            found.add(id(node.value))
    return found


def _offsets(source: str) -> list[int]:
    starts, total = [], 0
    for line in source.splitlines(keepends=True):
        starts.append(total)
        total += len(line.encode("utf-8"))
    return starts


def message_literals(source: str) -> list[Literal]:
    """The message literals of `source`, in order (offsets are character offsets)."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    encoded = source.encode("utf-8")
    line_starts = _offsets(source)
    found = []
    nested, labels = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg in SETTING_KEYWORDS:
            nested.add(id(node.value))
        if isinstance(node, ast.keyword) and node.arg in LABEL_KEYWORDS:
            labels.add(id(node.value))
        called = getattr(node.func, "attr", getattr(node.func, "id", None)) if isinstance(node, ast.Call) else None
        if called in LABEL_CALLS and node.args:
            labels.add(id(node.args[0]))
        if called in TICK_LABEL_CALLS and node.args:
            labels.update(id(part) for part in ast.walk(node.args[0]) if isinstance(part, (ast.Constant, ast.JoinedStr)))
        if isinstance(node, ast.JoinedStr):
            for value in ast.walk(node):
                if value is not node and isinstance(value, (ast.Constant, ast.JoinedStr)):
                    nested.add(id(value))
    for node in ast.walk(tree):
        if id(node) in skip or id(node) in nested:
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            msgid, is_f = node.value, False
        elif isinstance(node, ast.JoinedStr):
            msgid, is_f = _template(node), True
        else:
            continue
        start_b = line_starts[node.lineno - 1] + node.col_offset
        end_b = line_starts[node.end_lineno - 1] + node.end_col_offset
        text = encoded[start_b:end_b].decode("utf-8")
        prose = is_message(msgid) or (id(node) in labels and _WORD.search(_FIELD.sub("", msgid)))
        if re.match(r"^[rRbBuUfF]*('''|\"\"\")", text) or not prose:
            continue
        start = len(encoded[:start_b].decode("utf-8"))
        found.append(Literal(start, start + len(text), msgid, is_f, node.lineno))
    return sorted(found, key=lambda literal: literal.start)


def _escape(text: str, quote: str) -> str:
    return (text.replace("\\", "\\\\").replace(quote, "\\" + quote)
            .replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t"))


def fstring_source(template: str) -> str:
    """Python source of an f-string with this template: the text escaped, the fields as they are."""
    for quote in ('"', "'"):
        pieces, position = [], 0
        fits = True
        for match in _FIELD.finditer(template):
            pieces.append(_escape(template[position:match.start()], quote))
            field = match.group()
            if field not in ("{{", "}}") and (quote in field or "\\" in field):
                fits = False
            pieces.append(field)
            position = match.end()
        pieces.append(_escape(template[position:], quote))
        if fits:
            return f"f{quote}{''.join(pieces)}{quote}"
    raise ValueError(f"cannot write {template!r} as an f-string")


def literal_source(msgstr: str, is_fstring: bool) -> str:
    return fstring_source(msgstr) if is_fstring else repr(msgstr)


def translate_source(source: str, translate) -> str:
    """`source` with each message literal replaced by translate(msgid) (None keeps it)."""
    pieces, position = [], 0
    for literal in message_literals(source):
        msgstr = translate(literal.msgid)
        if msgstr is None:
            continue
        pieces.append(source[position:literal.start])
        pieces.append(literal_source(msgstr, literal.is_fstring))
        position = literal.end
    pieces.append(source[position:])
    return "".join(pieces)
