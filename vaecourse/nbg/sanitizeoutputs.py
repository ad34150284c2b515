"""SanitizeOutputs: nothing in a graded notebook can run code in the browser that shows it.

The autograded notebook is rendered as HTML in the instructor's logged-in browser (formgrader's
grading page) and becomes the feedback page (`FeedbackPage`); both render what the student's
kernel printed and the markdown the student wrote, with nbconvert and no sanitiser of their own.
Run in autograde after execution (and after `CapOutput`, which may cut an HTML output mid-tag:
what is kept is checked), and again in GenerateFeedback, this makes every cell inert:

- an output keeps text/plain, text/latex, JSON (the grader's verdicts,
  `application/vnd.vaecourse.verdict+json`, and application/json: never rendered as HTML) and
  PNG/JPEG/GIF images that are plain base64; an SVG image only without script, event handlers,
  foreignObject, outside links or CSS that loads anything; text/html only inside the allow-list
  below (else it is replaced by the note and the allowed part, the rest shown as escaped text);
  text/markdown only if it renders inside the allow-list. Every other type goes (JavaScript in any
  spelling, ipywidgets views, mermaid, PDF, every other application/vnd.*). An output that lost
  something shows the note `REMOVED` (in the notebook's language), or its text/plain under it. Output metadata keeps only
  numeric image sizes, `unconfined`, `needs_background` and the alt text;
- a markdown cell (the student may edit every one that is not locked) is rendered exactly as
  the pages render it (nbconvert's markdown, then `strip_files_prefix`); if that HTML holds
  anything outside the allow-list (raw `<script>`, `onerror=`, `javascript:` links, iframes,
  forms, styles...), or it does not render, the cell becomes the note and its source as a code
  block: the grader still reads every word. A cell that passes is kept byte for byte (the
  course's own cells, LaTeX and attached figures all pass);
- cell attachments keep only PNG/JPEG/GIF in base64; a raw cell is held to the allow-list;
- widget state (`metadata.widgets`, which nbconvert's pages hand to the widget manager) is
  removed from the notebook and its cells, and cell tags that are not plain names are dropped.

The allow-list (`TAGS`, `allowed_attribute`) is one bleach configuration, also used as the
feedback page's `clean_html` filter. It allows text, headings, lists, tables, code, links
(http, https, mailto, relative) and images (http, https, data:image/png|jpeg|gif), with
`class`, `title`, `alt`, table spans and a few CSS properties that load nothing.
"""
import base64
import binascii
import re
from xml.etree import ElementTree

import bleach
from bleach import html5lib_shim
from bleach.sanitizer import BleachSanitizerFilter
from nbconvert.filters import strip_files_prefix
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
from nbgrader.preprocessors import NbGraderPreprocessor

from vaecourse.translation import localise, notebook_language
from vaecourse.verdicts.record import MIME as VERDICT_MIME

MAX_CHECKED_CHARS = 500_000  # a rich output or a markdown cell longer than this is not parsed: it goes

TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "col", "colgroup", "dd", "del", "details",
    "dfn", "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img",
    "input", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "samp", "small", "span", "strike", "strong",
    "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "tt", "u", "ul", "var",
})
PROTOCOLS = frozenset({"http", "https", "mailto", "data"})  # data: only for images, see allowed_attribute
CSS_PROPERTIES = frozenset({
    "text-align", "vertical-align", "color", "background-color", "font-weight", "font-style", "text-decoration",
    "white-space", "border", "border-collapse", "padding", "width", "height", "min-width", "max-width",
})
CSS_VALUE = re.compile(r"^(?:[a-z0-9#%.,\s-]|(?:rgba?|hsla?)\((?=[0-9.,%\s]*\)))*$")  # no url(), no escape
TEXT_MIMES = frozenset({"text/plain", "text/latex", "application/json", VERDICT_MIME})
IMAGE_MIMES = frozenset({"image/png", "image/jpeg", "image/gif"})
SHOWN_MIMES = IMAGE_MIMES | {"text/html", "text/markdown", "text/latex", "image/svg+xml"}
BASE64 = re.compile(r"^[A-Za-z0-9+/\s]*={0,2}\s*$")
TAG_NAME = re.compile(r"^[A-Za-z0-9_.:-]+$")
CLASS_NAMES = re.compile(r"^[A-Za-z0-9_ -]*$")


def removed_note(lang: str = "en") -> str:
    """The note left where something was removed, in the notebook's language (the student reads it too)."""
    return localise("[removed: output that could run code in the grader's browser]", lang)


REMOVED = removed_note()


def _url(value: str) -> tuple[str, str]:
    """(scheme, normalised value) of a URL as a browser reads it: spaces and controls dropped, lower case."""
    normal = re.sub(r"[`\x00-\x20\x7f-\xa0\s]+", "", value).lower()
    match = re.match(r"^([a-z][a-z0-9+.-]*):", normal)
    return (match.group(1) if match else ""), normal


def _image_src(value: str) -> bool:
    scheme, normal = _url(value)
    if scheme in ("http", "https"):
        return True
    data = re.match(r"^data:image/(png|jpeg|gif);base64,(.*)$", normal)
    return bool(data) and _base64(data.group(2))


def _base64(text) -> bool:
    if not isinstance(text, str) or not BASE64.match(text):
        return False
    try:
        base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def css_is_inert(style: str) -> bool:
    """A style attribute that sets only `CSS_PROPERTIES`, to values that load and run nothing."""
    for declaration in filter(str.strip, style.split(";")):
        name, colon, value = declaration.partition(":")
        if not colon or name.strip().lower() not in CSS_PROPERTIES or not CSS_VALUE.match(value.strip().lower()):
            return False
    return True


class _AllOrNothingCSS:
    """bleach's css_sanitizer hook: a style is kept as it is, or dropped whole."""

    def sanitize_css(self, style: str) -> str:
        return style if css_is_inert(style) else ""


def allowed_attribute(tag: str, name: str, value: str) -> bool:
    """bleach's attribute filter of the allow-list."""
    if name == "class":
        return bool(CLASS_NAMES.match(value)) and "mermaid" not in value.lower().split()
    if name in ("title", "style"):
        return True  # style: kept only if css_is_inert (the css_sanitizer)
    if tag == "a" and name == "href":
        return _url(value)[0] in ("", "http", "https", "mailto")
    if tag == "img":
        return name in ("alt", "width", "height") or (name == "src" and _image_src(value))
    if tag in ("td", "th"):
        return name in ("colspan", "rowspan", "align")
    if tag == "input":
        return (name, value.lower()) == ("type", "checkbox") or name in ("checked", "disabled")
    return (tag, name) in {("table", "border"), ("ol", "start"), ("li", "value")} or (
        name == "id" and tag in ("h1", "h2", "h3", "h4", "h5", "h6"))


CLEANER = bleach.Cleaner(tags=TAGS, attributes=allowed_attribute, protocols=PROTOCOLS, strip=False,
                         strip_comments=True, css_sanitizer=_AllOrNothingCSS())


def clean_html(html) -> str:
    """HTML inside the allow-list: what it does not allow is dropped (attributes) or shown as text (tags)."""
    html = html.decode() if isinstance(html, bytes) else str(html)
    return CLEANER.clean(html)


class _Recorder(BleachSanitizerFilter):
    """bleach's sanitising filter that also notes every tag and attribute it does not keep."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.removed: list[str] = []

    def sanitize_token(self, token):
        kind, name = token["type"], token.get("name")
        if kind in ("StartTag", "EmptyTag") and name not in self.allowed_tags:
            self.removed.append(f"<{name}>")
        if kind == "Comment" and re.search(r"[<>]|--!", token.get("data", "")):
            self.removed.append("<!-- markup -->")  # kept as it is, a comment holding markup is for a parser to misread
        before = dict(token.get("data") or {}) if kind in ("StartTag", "EmptyTag") else {}
        result = super().sanitize_token(token)
        if before and name in self.allowed_tags:
            after = result.get("data") or {}
            self.removed += [f"<{name} {key[1]}=...>" for key, value in before.items() if after.get(key) != value]
        return result


def html_removals(html: str) -> list[str]:
    """What the allow-list would take out of `html` (parsed as a browser parses it); [] when nothing."""
    if len(html) > MAX_CHECKED_CHARS:
        return [f"HTML of {len(html):,} characters"]
    # bleach's own parser, told of no allow-list: every tag reaches the filter (CLEANER's parser turns the
    # tags it does not allow into text before its filter sees them)
    parser = html5lib_shim.BleachHTMLParser(tags=None, strip=False, consume_entities=False,
                                            namespaceHTMLElements=False)
    recorder = _Recorder(source=CLEANER.walker(parser.parseFragment(html)), allowed_tags=CLEANER.tags,
                         attributes=CLEANER.attributes, strip_disallowed_tags=False, strip_html_comments=True,
                         css_sanitizer=CLEANER.css_sanitizer, allowed_protocols=CLEANER.protocols)
    for _ in recorder:
        pass
    return recorder.removed


def render_markdown(source: str, attachments: dict | None = None) -> str:
    """Markdown as the feedback page and formgrader render it (nbconvert's markdown2html, strip_files_prefix)."""
    renderer = IPythonRenderer(escape=False, attachments=attachments or {}, anchor_link_text="¶")
    return strip_files_prefix(MarkdownWithMath(renderer=renderer).render(source))


def markdown_removals(source: str, attachments: dict | None = None) -> list[str]:
    """What the allow-list would take out of markdown once rendered; [] when nothing."""
    if len(source) > MAX_CHECKED_CHARS:
        return [f"markdown of {len(source):,} characters"]
    try:
        return html_removals(render_markdown(source, attachments))
    except Exception as error:  # nbconvert raises on a missing attachment: the page would not render
        return [f"markdown that does not render ({type(error).__name__})"]


def svg_is_inert(svg: str) -> bool:
    """An SVG image without script, event handlers, foreignObject, animation, outside links or loading CSS."""
    if not isinstance(svg, str) or len(svg) > MAX_CHECKED_CHARS or re.search(r"<!ENTITY|<!DOCTYPE[^>]*\[", svg, re.IGNORECASE):
        return False
    try:
        root = ElementTree.fromstring(svg.encode())
    except ElementTree.ParseError:
        return False
    forbidden = {"script", "foreignobject", "iframe", "embed", "object", "handler", "listener", "a", "set",
                 "animate", "animatemotion", "animatetransform", "feimage"}
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1].lower()
        if tag in forbidden:
            return False
        for name, value in element.attrib.items():
            local = name.rsplit("}", 1)[-1].lower()
            if local == "href":  # a reference inside the image, or an embedded raster (matplotlib's imshow)
                if not (value.startswith("#") or (tag == "image" and value.lower().startswith("data:")
                                                  and _image_src(value))):
                    return False
            elif local.startswith("on") or _loads(value):
                return False
        if _loads(element.text or ""):
            return False
    return True


def _loads(text: str) -> bool:
    """CSS or a URL in SVG text that fetches or runs something (url() other than url(#id), @import, javascript:)."""
    low = re.sub(r"\s+", "", text).lower()
    return bool(re.search(r"url\((?![\"']?#)|@import|expression\(|javascript:|vbscript:|\\", low))


def _kept_value(mime: str, value, note: str):
    """The value an output keeps under `mime`: itself, a cleaned one, or None (the type goes)."""
    if mime in TEXT_MIMES:
        return value
    if mime in IMAGE_MIMES:
        return value if _base64(value) else None
    if mime == "image/svg+xml":
        return value if svg_is_inert(value) else None
    if mime == "text/html" and isinstance(value, str):
        if not html_removals(value):
            return value
        return f"<p><em>{note}</em></p>\n" + clean_html(value) if len(value) <= MAX_CHECKED_CHARS else None
    if mime == "text/markdown" and isinstance(value, str):
        return None if markdown_removals(value) else value
    return None


def sanitize_output(output, note: str = REMOVED) -> list[str]:
    """Make one output inert in place (see the module doc); what was removed or changed."""
    if output.get("output_type") not in ("display_data", "execute_result"):
        return []  # stream and error: text, escaped by every renderer
    data, removed = output.get("data", {}), []
    for mime in list(data):
        kept = _kept_value(mime, data[mime], note)
        if kept is None:
            removed.append(mime)
            del data[mime]
        elif kept is not data[mime]:
            removed.append(f"part of {mime}")
            data[mime] = kept
    if removed and not SHOWN_MIMES & set(data):
        plain = data.get("text/plain", "")
        data["text/plain"] = note + ("\n" + plain if isinstance(plain, str) and plain else "")
    output["data"] = data
    metadata = output.get("metadata", {})
    for key in list(metadata):
        if key in IMAGE_MIMES and isinstance(metadata[key], dict):
            metadata[key] = {k: v for k, v in metadata[key].items() if _image_metadata(k, v)}
        elif not _image_metadata(key, metadata[key]):
            del metadata[key]
    return removed


def _image_metadata(key: str, value) -> bool:
    if key in ("width", "height"):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if key == "needs_background":
        return value in ("light", "dark")
    return (key == "unconfined" and isinstance(value, bool)) or (key == "alt" and isinstance(value, str))


def fenced(source: str, note: str = REMOVED) -> str:
    """Markdown showing `source` as it is, as text: the note, then a code block no line of it can close."""
    longest = max((len(run) for run in re.findall(r"`+", source)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"*{note}*\n\n{fence}\n{source}\n{fence}\n"


def sanitize_attachments(cell) -> list[str]:
    """Keep only base64 PNG/JPEG/GIF attachments; what went."""
    attachments, removed = cell.get("attachments"), []
    if not isinstance(attachments, dict):
        return []
    for name in list(attachments):
        bundle = attachments[name] if isinstance(attachments[name], dict) else {}
        for mime in [m for m in bundle if m not in IMAGE_MIMES or not _base64(bundle[m])]:
            removed.append(f"attachment {name} ({mime})")
            del bundle[mime]
        if not bundle:
            del attachments[name]
    return removed


def sanitize_cell(cell, note: str = REMOVED) -> list[str]:
    """Make one cell inert in place (see the module doc); what was removed or changed."""
    removed = sanitize_attachments(cell)
    metadata = cell.setdefault("metadata", {})
    if metadata.pop("widgets", None) is not None:
        removed.append("widget state")
    tags = metadata.get("tags")
    if isinstance(tags, list) and not all(isinstance(t, str) and TAG_NAME.match(t) for t in tags):
        metadata["tags"] = [t for t in tags if isinstance(t, str) and TAG_NAME.match(t)]
        removed.append("tags")
    if cell.cell_type == "markdown":
        problems = markdown_removals(cell.source, cell.get("attachments"))
        if problems:
            cell.source = fenced(cell.source, note)
            cell.pop("attachments", None)
            removed += problems
    elif cell.cell_type == "raw":
        problems = html_removals(cell.source)
        if problems:
            cell.source = f"<p><em>{note}</em></p>\n" + clean_html(cell.source)
            removed += problems
    elif cell.cell_type == "code":
        for output in cell.get("outputs", []):
            removed += sanitize_output(output, note)
    return removed


def sanitize_notebook(nb) -> list[str]:
    """Make a whole notebook inert in place; one line per cell that changed."""
    note = removed_note(notebook_language(nb))
    lines = ["notebook: widget state"] if nb.metadata.pop("widgets", None) is not None else []
    for index, cell in enumerate(nb.cells):
        removed = sanitize_cell(cell, note)
        if removed:
            lines.append(f"cell {index} ({cell.cell_type}): {', '.join(dict.fromkeys(removed))}")
    return lines


class SanitizeOutputs(NbGraderPreprocessor):
    """Make every output, markdown and raw cell, attachment and widget state inert (see the module doc)."""

    def preprocess(self, nb, resources):
        lines = sanitize_notebook(nb)
        if lines:
            name = (resources.get("nbgrader") or {}).get("student", "")
            self.log.warning("made inert what could run code in a browser%s: %s", f" ({name})" if name else "",
                             "; ".join(lines[:20]) + (f"; and {len(lines) - 20} more" if len(lines) > 20 else ""))
        return nb, resources
