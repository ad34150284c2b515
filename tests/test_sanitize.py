"""Nothing a student's notebook holds runs code in the grader's browser (vaecourse/nbg/sanitizeoutputs.py).

In process: a crafted notebook with every vector (JavaScript in three spellings, an ipywidgets view and
widget state, other application/vnd.* types, an SVG with script, onload and foreignObject, text/html with
<script>, on* handlers, javascript:, vbscript: and data:text/html URLs, <iframe>, <object>, <embed>,
<form>, <meta http-equiv>, <base>, <style> with url(), text/markdown, mermaid, PNG data that breaks out
of its attribute, image metadata, markdown and raw cells with raw HTML, cell attachments, cell tags) is
rendered as formgrader renders an autograded notebook: unsanitised, a detector finds the payloads live;
after `sanitize_notebook` none is, and text/plain, PNG, JPEG, a simple HTML table, LaTeX and the
grader's verdict output are kept as they were. Every markdown cell of the course is kept byte for byte.

For real: one 01_mnist submission whose exercise cell emits HTML/Javascript/SVG/Markdown displays, raw
application/javascript, an iframe and an ipywidgets HTML widget, whose written answer and summary
cell hold raw HTML with handlers, is autograded (in the grading sandbox when this machine has one) and
its feedback page generated with the grading configuration. Headless Chromium (Debian's, through
Playwright, as tests/test_browser.py) opens the feedback page and the autograded notebook rendered
with formgrader's own template: no payload sets its global, changes document.title or sends its
request, and the page shows the scores and the student's plain output. The same browser run on the
crafted notebook unsanitised sees the payloads run, so the check can fail.

CI budget: about 150 s (in process about 10 s; one autograde and generate_feedback of 01_mnist about
100 s; Chromium about 20 s). Without Chromium or Playwright the browser tests skip, unless
VAE_COURSE_REQUIRE_BROWSER=1.
"""
import base64
import copy
import io
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from harness import autograde, filled_student

from vaecourse.grading.outcome import not_graded_page
from vaecourse.masters import ROOT, grade_id
from vaecourse.nbg.capoutput import CapOutput
from vaecourse.nbg.config import configure
from vaecourse.verdicts.record import is_result_output
from vaecourse.nbg.layout import notebook_path
from vaecourse.nbg.run import run_nbgrader, tool_env
from vaecourse.nbg.sanitizeoutputs import (
    REMOVED,
    SanitizeOutputs,
    html_removals,
    markdown_removals,
    removed_note,
    sanitize_notebook,
)
from vaecourse.sandbox import probe
from vaecourse.verdicts.core import MIME as VERDICT_MIME

NB = "01_mnist"
BEACON = "http://beacon.invalid/"
PLAIN = "STUDENT PLAIN OUTPUT 4711"
ANSWER_WORDS = "Most pixels are background, so my written answer 4711"
SAFE_MIMES = {"text/plain", "text/latex", "text/html", "text/markdown", "application/json", VERDICT_MIME,
              "image/png", "image/jpeg", "image/gif", "image/svg+xml"}


def payload(name: str) -> str:
    """JavaScript that leaves three traces: a global, the page title, a request."""
    return f"window.PWN_{name}=1;document.title='PWNED';fetch('{BEACON}{name}')"


def onerror(name: str) -> str:
    return f'<img src="x" onerror="{payload(name)}">'


def _image(kind: str) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 30, 30)).save(buffer, format=kind)
    return base64.b64encode(buffer.getvalue()).decode()


SVG_HOSTILE = (f'<svg xmlns="http://www.w3.org/2000/svg" onload="{payload("svg_onload")}">'
               f'<script>{payload("svg_script")}</script>'
               f'<foreignObject><div xmlns="http://www.w3.org/1999/xhtml">{onerror("svg_foreign")[:-1]}/></div>'
               '</foreignObject></svg>')
WIDTH_HANDLER = "1 onload=window.PWN_{name}=1"  # an image width that nbconvert writes unquoted: no space, no quote
HOSTILE = {  # name -> the data of one display_data output
    "html_script": {"text/html": f"<script>{payload('html_script')}</script>", "text/plain": "<HTML object>"},
    "html_onerror": {"text/html": onerror("html_onerror")},
    "javascript": {"application/javascript": payload("javascript")},
    "text_javascript": {"text/javascript": payload("text_javascript")},
    "x_javascript": {"application/x-javascript": payload("x_javascript")},
    "widget_view": {"application/vnd.jupyter.widget-view+json": {"model_id": "m1", "version_major": 2,
                                                                  "version_minor": 0}, "text/plain": "HTML()"},
    "vnd_html": {"application/vnd.bokehjs_exec.v0+json": payload("vnd_html"),
                 "application/vnd.custom.html": f"<script>{payload('vnd_html')}</script>"},
    "svg": {"image/svg+xml": SVG_HOSTILE},
    "iframe": {"text/html": f'<iframe srcdoc="<script>{payload("iframe")}</script>"></iframe>'},
    "object": {"text/html": f'<object data="javascript:{payload("object")}"></object>'},
    "embed": {"text/html": f'<embed src="javascript:{payload("embed")}">'},
    "form": {"text/html": f'<form action="javascript:{payload("form")}"><input autofocus '
                          f'onfocus="{payload("form")}"></form>'},
    "meta": {"text/html": f'<meta http-equiv="refresh" content="0;url=javascript:{payload("meta")}">'},
    "base": {"text/html": f'<base href="{BEACON}base/">'},
    "style": {"text/html": f"<style>body {{ background: url({BEACON}style) }}</style>"},
    "style_attr": {"text/html": f'<div style="background-image: url({BEACON}style_attr)">x</div>'},
    "js_link": {"text/html": f'<a href="javascript:{payload("js_link")}">click</a>'},
    "vbscript_link": {"text/html": '<a href="vbscript:PWN_vbscript_link=1">click</a>'},
    "data_link": {"text/html": f'<a href="data:text/html,<script>{payload("data_link")}</script>">click</a>'},
    "markdown_output": {"text/markdown": onerror("markdown_output")},
    "mermaid": {"text/vnd.mermaid": onerror("mermaid")},
    "pdf": {"application/pdf": "JVBERi0xLjQK"},
    "png_breakout": {"image/png": f'x" onerror="{payload("png_breakout")}'},
}
HOSTILE_CELLS = {  # name -> markdown source
    "md_script": f"Some words <script>{payload('md_script')}</script>",
    "md_onerror": f"An image {onerror('md_onerror')}",
    "md_link": f"[click](javascript:{payload('md_link')})",
    "md_details": f'<details open ontoggle="{payload("md_details")}">x</details>',
    "md_iframe": f'<iframe srcdoc="<script>{payload("md_iframe")}</script>"></iframe>',
    "md_mermaid": f"```mermaid\n{onerror('md_mermaid')}\n```",
    "md_files": f'<a href="files/javascript:{payload("md_files")}">click</a>',
    "md_missing_attachment": "![figure](attachment:missing.png)",
}
# what the unsanitised page must show live (the rest is inert in nbconvert's template even today);
# image_metadata: nbconvert writes an image's width into the tag unquoted, so a space starts a handler
LIVE_UNSANITISED = {"html_script", "html_onerror", "javascript", "iframe", "object", "embed", "form", "meta",
                    "base", "style", "style_attr", "js_link", "vbscript_link", "data_link", "markdown_output",
                    "image_metadata", "md_script",
                    "md_onerror", "md_link", "md_details", "md_iframe", "md_mermaid", "md_files"}


def benign_outputs() -> dict:
    return {
        "plain": nbformat.v4.new_output("stream", name="stdout", text=PLAIN + "\n"),
        "text": nbformat.v4.new_output("display_data", data={"text/plain": "tensor([1, 2, 3])"}),
        "png": nbformat.v4.new_output("display_data", data={"image/png": _image("PNG"), "text/plain": "<Figure>"},
                                      metadata={"image/png": {"width": 40, "height": 40}}),
        "jpeg": nbformat.v4.new_output("display_data", data={"image/jpeg": _image("JPEG")}),
        "table": nbformat.v4.new_output("display_data", data={
            "text/html": '<table border="1" class="dataframe"><thead><tr style="text-align: right;"><th>digit</th>'
                         "<th>count</th></tr></thead><tbody><tr><td>0</td><td>4711</td></tr></tbody></table>"}),
        "latex": nbformat.v4.new_output("display_data", data={"text/latex": r"$\alpha_{4711} < \beta$"}),
        "verdict": nbformat.v4.new_output("execute_result", execution_count=3, data={
            "text/plain": "2.0", VERDICT_MIME: {"parts": [{"name": "shape", "points": 2, "earned": 2, "message": ""}]}}),
    }


def crafted(missing_attachment: bool = True) -> nbformat.NotebookNode:
    """A notebook holding every vector (one output or cell each) and the benign outputs. A markdown cell
    naming a missing attachment makes nbconvert raise (no page at all): left out for the unsanitised page."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"version_major": 2, "version_minor": 0,
                              "state": {"m1": {"model_name": "HTMLModel", "state": {"value": onerror("widget_state")}}}}}
    for name, data in HOSTILE.items():
        nb.cells.append(nbformat.v4.new_code_cell(f"# {name}", outputs=[nbformat.v4.new_output("display_data",
                                                                                                data=data)]))
    nb.cells[-1].outputs.append(nbformat.v4.new_output("display_data", data={"image/png": _image("PNG")}, metadata={
        "image/png": {"width": WIDTH_HANDLER.format(name="image_metadata")}}))
    for name, source in HOSTILE_CELLS.items():
        if missing_attachment or name != "md_missing_attachment":
            nb.cells.append(nbformat.v4.new_markdown_cell(source))
    nb.cells.append(nbformat.v4.new_markdown_cell("![fig](attachment:fig.svg)", attachments={
        "fig.svg": {"image/svg+xml": base64.b64encode(SVG_HOSTILE.encode()).decode(),
                    "text/html": f"<script>{payload('attachment')}</script>"}}))
    nb.cells.append(nbformat.v4.new_raw_cell(f"<script>{payload('raw_cell')}</script>"))
    nb.cells.append(nbformat.v4.new_code_cell("# tags", metadata={"tags": [f'x"><script>{payload("tags")}</script>']}))
    nb.cells.append(nbformat.v4.new_code_cell("# benign", outputs=list(benign_outputs().values())))
    return nb


class _LiveCode(HTMLParser):
    """Payload names in places where a browser runs or fetches them: scripts, on* handlers, srcdoc,
    javascript:/vbscript:/data:text/html URLs, iframe/object/embed/form/base/meta attributes, a beacon
    as an image or object source, CSS url(). (A plain link to the beacon is a click away: not counted.)"""
    RISKY_TAGS = frozenset({"iframe", "object", "embed", "form", "base", "meta", "frame", "link"})
    FETCHED = frozenset({"src", "data", "background", "poster"})

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: set[str] = set()
        self.raw: str | None = None

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            value = value or ""
            runs = re.match(r"\s*(javascript|vbscript|data:text/html)", value, re.IGNORECASE)
            fetched = name in self.FETCHED and value.strip().startswith(BEACON)
            css = name == "style" and "url(" in value
            if name.startswith("on") or name == "srcdoc" or tag in self.RISKY_TAGS or runs or fetched or css:
                self.found |= names_in(value)
        if tag in ("script", "style"):
            self.raw = tag

    def handle_endtag(self, tag):
        if tag == self.raw:
            self.raw = None

    def handle_data(self, data):
        if self.raw:
            self.found |= names_in(data)


def names_in(text: str) -> set[str]:
    return {a or b for a, b in re.findall(r"PWN_(\w+?)=|beacon\.invalid/(\w+)", text)}


def live_payloads(page: str) -> set[str]:
    parser = _LiveCode()
    parser.feed(page)
    return parser.found


def formgrader_page(nb, base_url: str = "") -> str:
    """The notebook rendered as formgrader's grading page renders an autograded notebook."""
    from nbconvert.exporters import HTMLExporter
    from nbgrader.server_extensions.formgrader import handlers

    exporter = HTMLExporter(template_name="formgrade", extra_template_basedirs=[handlers.template_path])
    resources = {"assignment_id": NB, "notebook_id": NB, "submission_id": "s1", "index": 0, "total": 1,
                 "base_url": base_url, "student": "hostile", "last_name": "", "first_name": "", "notebook_path": "/x"}
    return exporter.from_notebook_node(copy.deepcopy(nb), resources=resources)[0]


def test_unsanitised_the_payloads_are_live():
    """The detector sees the vectors that formgrader's page runs today: the crafted notebook is a real attack."""
    live = live_payloads(formgrader_page(crafted(missing_attachment=False)))
    assert LIVE_UNSANITISED <= live, sorted(LIVE_UNSANITISED - live)


def test_sanitised_no_payload_is_live_and_each_vector_is_inert():
    nb = crafted()
    lines = sanitize_notebook(nb)
    assert live_payloads(formgrader_page(nb)) == set()
    assert "widgets" not in nb.metadata and any("widget state" in line for line in lines)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            assert set(data) <= SAFE_MIMES, (cell.source, sorted(data))
            for mime in ("text/html", "text/markdown"):
                if mime in data:
                    check = html_removals if mime == "text/html" else markdown_removals
                    assert check(data[mime]) == [], (cell.source, data[mime])
            assert not re.search(r"on\w+=", str(output.get("metadata", {})))
        if cell.cell_type in ("markdown", "raw"):
            assert (markdown_removals if cell.cell_type == "markdown" else html_removals)(cell.source) == []
        for attachment in cell.get("attachments", {}).values():
            assert set(attachment) <= {"image/png", "image/jpeg", "image/gif"}
        assert all(re.fullmatch(r"[\w.:-]+", tag) for tag in cell.metadata.get("tags", []))
    assert sanitize_notebook(nb) == [], "a second pass changes nothing"


def test_what_was_removed_is_said_and_the_students_text_stays_readable():
    nb = crafted()
    sanitize_notebook(nb)
    by_source = {cell.source: cell for cell in nb.cells if cell.cell_type == "code"}
    script = by_source["# html_script"].outputs[0].data
    assert script["text/html"].startswith(f"<p><em>{REMOVED}</em></p>") and "&lt;script&gt;" in script["text/html"]
    javascript = by_source["# javascript"].outputs[0].data
    assert javascript == {"text/plain": REMOVED}
    widget = by_source["# widget_view"].outputs[0].data
    assert widget == {"text/plain": REMOVED + "\nHTML()"}, "the text/plain is kept under the note"
    answer = next(cell for cell in nb.cells if cell.cell_type == "markdown" and "Some words" in cell.source)
    assert REMOVED in answer.source and HOSTILE_CELLS["md_script"] in answer.source, "shown as a code block"
    assert "&lt;script&gt;" in formgrader_page(nb)


def test_the_note_is_in_the_notebooks_language():
    cell = nbformat.v4.new_code_cell("", outputs=[nbformat.v4.new_output("display_data", data=HOSTILE["javascript"])])
    nb = nbformat.v4.new_notebook(cells=[cell], metadata={"vaecourse": {"language": "ja"}})
    sanitize_notebook(nb)
    assert cell.outputs[0].data == {"text/plain": removed_note("ja")} and removed_note("ja") != REMOVED


def test_benign_outputs_are_kept_as_they_were():
    nb = crafted()
    sanitize_notebook(nb)
    kept = next(cell for cell in nb.cells if cell.source == "# benign").outputs
    assert kept == list(benign_outputs().values())
    assert is_result_output(kept[-1]), "HideVerdictScore and the exports still find the grader's verdict"
    page = formgrader_page(nb)
    assert PLAIN in page and "<td>4711</td>" in page and r"\alpha_{4711}" in page


def test_every_markdown_cell_of_the_course_is_kept_byte_for_byte():
    paths = sorted((ROOT / "course").glob("*.ipynb")) + sorted((ROOT / "course" / "ja").glob("*.ipynb"))
    assert len(paths) >= 20
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        before = copy.deepcopy(nb)
        assert sanitize_notebook(nb) == [], path.name
        assert nb == before, path.name


def test_the_feedback_page_alone_renders_the_crafted_notebook_inert():
    """Defence in depth: FeedbackPage's sanitize_html and allow-list, without SanitizeOutputs before it."""
    from nbgrader.server_extensions.formgrader import handlers

    from vaecourse.nbg.feedbackpage import FeedbackPage

    css = Path(handlers.template_path).parent / "static" / "node_modules" / "bootstrap" / "dist" / "css"
    exporter = FeedbackPage(template_name="feedback", extra_template_basedirs=[handlers.template_path],
                            extra_template_paths=[str(css)])  # as nbgrader's GenerateFeedback sets them
    resources = {"nbgrader": {"notebook": NB, "score": 0, "max_score": 0, "late_penalty": 0}}
    page = exporter.from_notebook_node(crafted(missing_attachment=False), resources=resources)[0]
    assert live_payloads(page) == set()
    assert PLAIN in page and "<td>4711</td>" in page


def test_html_cut_by_capoutput_is_checked_after_the_cut():
    """CapOutput cuts an HTML output mid-tag; SanitizeOutputs runs after it, so what is kept is what is checked."""
    cell = nbformat.v4.new_code_cell("", outputs=[nbformat.v4.new_output("display_data", data={
        "text/html": "<b>" + "x" * 90 + f'</b><img title="y" src="x" onerror="{payload("cut")}">'})])
    nb = nbformat.v4.new_notebook(cells=[cell])
    CapOutput(max_chars=100).preprocess(nb, {})
    SanitizeOutputs().preprocess(nb, {})
    assert live_payloads(formgrader_page(nb)) == set()


def test_the_grading_configuration_runs_it_after_execution_and_before_the_feedback_page():
    from traitlets.config import Config

    c = Config()
    configure(c, grading=True)
    autograde_names = [p.__name__ for p in c.Autograde.autograde_preprocessors]
    assert autograde_names.index("SanitizeOutputs") > autograde_names.index("CapOutput") > autograde_names.index(
        "DropLinks") > autograde_names.index("VerdictExecute")
    assert autograde_names.index("SanitizeOutputs") < autograde_names.index("SaveAutoGrades")
    feedback_names = [p.__name__ for p in c.GenerateFeedback.preprocessors]
    assert feedback_names.index("SanitizeOutputs") > feedback_names.index("ShortErrors")
    assert c.GenerateFeedback.exporter_class().sanitize_html


def test_capoutput_owns_its_limit_and_the_configuration_only_overrides_it():
    """The grading configuration keeps CapOutput's own max_chars (20,000) unless configure is given another."""
    from traitlets.config import Config

    from vaecourse.nbg.capoutput import MAX_OUTPUT_CHARS

    c = Config()
    configure(c, grading=True)
    assert CapOutput(config=c).max_chars == MAX_OUTPUT_CHARS == 20_000
    configure(c, grading=True, max_output_chars=500)
    assert CapOutput(config=c).max_chars == 500


def test_the_not_graded_page_escapes_the_students_text():
    page = not_graded_page("<b>s</b>", "01_mnist", f"<script>{payload('reason')}</script>{onerror('reason2')}")
    assert "<script>" not in page and "<img" not in page and "&lt;script&gt;" in page


# ---------------------------------------------------------------- one real hostile submission

def _hostile_code() -> str:
    svg = SVG_HOSTILE
    iframe = f'<iframe srcdoc="<script>{payload("k_iframe")}</script>"></iframe>'
    return "\n".join([
        "",
        "from IPython.display import HTML, Javascript, SVG, Markdown, Latex, display",
        f"print({PLAIN!r})",
        f"display(HTML({('<script>' + payload('k_html_script') + '</script><b>student bold</b>')!r}))",
        f"display(HTML({onerror('k_html_onerror')!r}))",
        f"display(Javascript({payload('k_javascript')!r}))",
        f"display(SVG({svg!r}))",
        f"display(Markdown({onerror('k_markdown')!r}))",
        f"display({{'application/javascript': {payload('k_raw_javascript')!r}}}, raw=True)",
        f"display({{'text/html': {iframe!r}}}, raw=True)",
        "display(HTML('<table><tr><th>digit</th></tr><tr><td>4711</td></tr></table>'))",
        "display(Latex(r'$\\alpha_{4711}$'))",
        "import ipywidgets",
        f"display(ipywidgets.HTML(value={onerror('k_widget')!r}))",
        (f"display({{'image/png': {_image('PNG')!r}}}, raw=True, "
         f"metadata={{'image/png': {{'width': {WIDTH_HANDLER.format(name='k_image_width')!r}}}}})"),
        "",
    ])


def hostile_submission():
    nb = filled_student(NB, edit=lambda gid, source: source + _hostile_code() if gid == "count_per_class" else source)
    for cell in nb.cells:
        if grade_id(cell) == "q_pixel_likelihood":
            cell.source = f"{ANSWER_WORDS} {onerror('k_answer')} <script>{payload('k_answer_script')}</script>"
    summary = [cell for cell in nb.cells if cell.cell_type == "markdown"][-1]
    summary.source += f'\n\n<details open ontoggle="{payload("k_summary")}">more</details>\n'
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory, offline_data):
    course = tmp_path_factory.mktemp("sanitize")
    with pytest.MonkeyPatch.context() as patch:
        if probe().available:
            patch.setenv("VAE_COURSE_TEST_SANDBOX", "1")
        result, log = autograde(NB, {"hostile": hostile_submission()}, course, offline_data, grading=True)
    assert "hostile" in result, log
    env = tool_env({"VAE_COURSE_DATA": str(offline_data)})
    env.pop("NBGRADER_EXECUTION", None)
    run_nbgrader(["generate_feedback", NB, "--force"], course, env)
    return course, result["hostile"], log


@pytest.mark.slow
def test_the_hostile_notebook_is_graded_and_its_autograded_notebook_is_inert(graded):
    course, result, log = graded
    assert result.total() == result.max_total() == 6, result.scores
    assert sorted(result.parts) == ["test_count_per_class", "test_first_image_per_digit", "test_mean_image_per_digit"]
    for removed in ("application/javascript", "application/vnd.jupyter.widget-view+json", "notebook: widget state",
                    "image/svg+xml", "text/markdown", "part of text/html"):
        assert removed in log, f"the kernel's {removed} did not reach the sanitiser"
    nb = nbformat.read(notebook_path(course, "autograded", NB, "hostile"), as_version=4)
    assert live_payloads(formgrader_page(nb)) == set()
    answer = next(cell for cell in nb.cells if grade_id(cell) == "q_pixel_likelihood")
    assert REMOVED in answer.source and ANSWER_WORDS in answer.source


def _missing(reason: str):
    if os.environ.get("VAE_COURSE_REQUIRE_BROWSER"):
        pytest.fail(f"{reason} (VAE_COURSE_REQUIRE_BROWSER is set: the browser test must run)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """open(path) -> what the page did: the PWN_ globals set, its title, the beacon requests, its text."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (pip install -e '.[dev]')")
    from browser_helpers import chromium_path, launch_chromium

    executable = chromium_path()
    if executable is None:
        _missing("no system Chromium (apt-get install chromium; .ci/run does it)")
    with sync_playwright() as playwright:
        context, page = launch_chromium(playwright, executable, tmp_path_factory.mktemp("chromium") / "profile")
        requests: list[str] = []
        # record every request off this machine and answer none (the CDN scripts too: no network in CI)
        context.route(re.compile(r"^https?://"), lambda route: (requests.append(route.request.url), route.abort()))

        def open_page(path: Path) -> dict:
            requests.clear()
            page.goto(path.resolve().as_uri(), wait_until="load")
            page.wait_for_timeout(1500)  # onerror, ontoggle and fetch run after load
            return {"globals": page.evaluate("Object.keys(window).filter(k => k.startsWith('PWN_'))"),
                    "title": page.title(), "beacons": [u for u in requests if u.startswith(BEACON)],
                    "text": page.inner_text("body")}
        yield open_page
        context.close()


def _page_file(tmp_path, html: str, name: str) -> Path:
    path = tmp_path / name
    path.write_text(html)
    return path


@pytest.mark.slow
@pytest.mark.browser
def test_in_chromium_the_crafted_payloads_run_unsanitised_and_not_sanitised(browser, tmp_path):
    from nbgrader.server_extensions.formgrader import handlers

    static = f"file://{Path(handlers.__file__).resolve().parents[1]}"  # formgrader's own jQuery and scripts
    seen = browser(_page_file(tmp_path, formgrader_page(crafted(missing_attachment=False), static), "unsanitised.html"))
    assert {"PWN_html_script", "PWN_html_onerror", "PWN_javascript", "PWN_md_onerror", "PWN_md_details",
            "PWN_image_metadata"} <= set(
        seen["globals"]), seen
    assert seen["title"] == "PWNED" and seen["beacons"], seen
    nb = crafted()
    sanitize_notebook(nb)
    seen = browser(_page_file(tmp_path, formgrader_page(nb, static), "sanitised.html"))
    assert (seen["globals"], seen["beacons"]) == ([], []) and seen["title"] != "PWNED", seen
    assert PLAIN in seen["text"] and "4711" in seen["text"]


@pytest.mark.slow
@pytest.mark.browser
def test_in_chromium_the_feedback_page_runs_nothing_and_shows_the_scores(graded, browser):
    course, _, _ = graded
    seen = browser(notebook_path(course, "feedback", NB, "hostile"))
    assert (seen["globals"], seen["beacons"]) == ([], []) and seen["title"] != "PWNED", seen
    text = seen["text"]
    assert "Score: 6 / 6 so far; 2 points still to be graded by hand" in text, text[:500]
    assert "Exercise 1.1" in text and "2 / 2" in text
    assert PLAIN in text and "student bold" in text and "4711" in text
    assert ANSWER_WORDS in text and REMOVED in text


@pytest.mark.slow
@pytest.mark.browser
def test_in_chromium_formgraders_view_of_the_autograded_notebook_runs_nothing(graded, browser, tmp_path):
    from nbgrader.server_extensions.formgrader import handlers

    course, _, _ = graded
    nb = nbformat.read(notebook_path(course, "autograded", NB, "hostile"), as_version=4)
    static = f"file://{Path(handlers.__file__).resolve().parents[1]}"
    seen = browser(_page_file(tmp_path, formgrader_page(nb, static), "formgrade.html"))
    assert (seen["globals"], seen["beacons"]) == ([], []) and seen["title"] != "PWNED", seen
    assert PLAIN in seen["text"] and ANSWER_WORDS in seen["text"]
