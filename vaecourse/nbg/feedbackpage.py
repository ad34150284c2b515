"""FeedbackPage: nbgrader's feedback HTML exporter with the course's index and cell headings.

nbgrader's feedback template (`feedback/index.html.j2`) writes "Test cell" and "Written
response" in its index and "Grade cell: <grade_id>" above each graded cell. This exporter
extends that template and replaces only the index, the total and those headings with what
`FeedbackLabels` put in the notebook ("Exercise 4.2 kl_divergence — 3 / 3", "to be graded",
"2 points still to be graded by hand"); a cell without those labels shows nbgrader's own
wording. The rest of the page (the cells, outputs and styles) is nbgrader's and nbconvert's.

The page is rendered with nbconvert's `sanitize_html` on, its `clean_html` filter being the
course's allow-list (`vaecourse.nbg.sanitizeoutputs.clean_html`; nbconvert's own would show
every paragraph, heading and image of a markdown cell as escaped text): HTML and markdown
outputs and markdown cells pass through it, and no JavaScript or widget output, nor widget
state, is written as a script. An image's width and height are written only when they are
numbers (nbconvert writes them into the tag unquoted: `width=1 onerror=...` would be a handler).
That is defence in depth: `SanitizeOutputs` has already made the notebook inert.
The template lives here, as a string, so that an installed package carries it (the package
ships only Python files); `configure(c, grading=True)` sets
`GenerateFeedback.exporter_class` to this class.
"""
from jinja2 import DictLoader
from nbconvert.exporters import HTMLExporter
from nbconvert.filters import get_metadata
from traitlets import default

from vaecourse.nbg.sanitizeoutputs import clean_html
from vaecourse.translation import localise, notebook_language

TEMPLATE_NAME = "vaecourse_feedback.html.j2"

TEMPLATE = r"""{%- extends 'index.html.j2' -%}{# nbgrader's feedback/index.html.j2: GenerateFeedback sets template_name 'feedback' #}

{% macro course_label(cell, fallback) -%}
{{ (cell.metadata.nbgrader.feedback_title or fallback) | escape }} &mdash;
{% if cell.metadata.nbgrader.feedback_score -%}
{{ cell.metadata.nbgrader.feedback_score | escape }}
{%- else -%}
{{ cell.metadata.nbgrader.score | float | round(2) }} / {{ cell.metadata.nbgrader.points | float | round(2) }}
{%- endif %}
{%- endmacro %}

{% macro course_heading(cell) -%}
{%- if cell.metadata.nbgrader.solution or cell.metadata.nbgrader.task -%}
<a name="comment-{{ cell.metadata.nbgrader.grade_id | escape }}"></a>
{%- endif -%}
{%- if cell.metadata.nbgrader.grade -%}
<a name="{{ cell.metadata.nbgrader.grade_id | escape }}"></a>
{%- endif -%}
<div class="panel-heading">
{%- if cell.metadata.nbgrader.grade -%}
  <span class="nbgrader-label">{{ course_label(cell, "Your answer" | localise(nb) if cell.metadata.nbgrader.solution else cell.metadata.nbgrader.grade_id) }}</span>
  <span class="pull-right"><a href="#top">{{ "(Top)" | localise(nb) }}</a></span>
{%- elif cell.metadata.nbgrader.solution -%}
  <span class="nbgrader-label">{{ "Your answer" | localise(nb) }}</span>
  <span class="pull-right"><a href="#top">{{ "(Top)" | localise(nb) }}</a></span>
{%- elif cell.metadata.nbgrader.task -%}
  <span class="nbgrader-label">{{ "Task:" | localise(nb) }} <code>{{ cell.metadata.nbgrader.grade_id | escape }}</code></span>
{%- endif -%}
</div>
{%- endmacro %}

{% macro course_footer(cell) -%}
{%- if (cell.metadata.nbgrader.solution or cell.metadata.nbgrader.task) and cell.metadata.nbgrader.comment -%}
<div class="panel-footer">
  <div>
    <b>{{ "Comments:" | localise(nb) }}</b> {{ cell.metadata.nbgrader.comment | markdown2html | strip_files_prefix }}
  </div>
</div>
{%- endif -%}
{%- endmacro %}

{% block body %}
<body>
  <a name="top"></a>
  <div class="container">
    <div class="panel panel-default">
      <div class="panel-heading">
        <h4>{{ resources.nbgrader.notebook }} ({{ resources.nbgrader.feedback_total or ("Score: %g / %g" | format(resources.nbgrader.score | float, resources.nbgrader.max_score | float)) }})</h4>
        <div id="toc">
          <ol>
          {% for cell in nb.cells %}
            {% if cell.metadata.nbgrader and cell.metadata.nbgrader.grade %}
            <li><a href="#{{ cell.metadata.nbgrader.grade_id | escape }}">{{ course_label(cell, cell.metadata.nbgrader.grade_id) }}</a></li>
            {% endif %}
            {% if cell.metadata.nbgrader and cell.metadata.nbgrader.comment %}
            <li><a href="#comment-{{ cell.metadata.nbgrader.grade_id | escape }}">{{ "Comment" | localise(nb) }}</a></li>
            {% endif %}
          {% endfor %}
          {% if resources.nbgrader.late_penalty > 0 %}
            <li class="late-penalty">{{ "Late submission penalty" | localise(nb) }} ({{ "Score:" | localise(nb) }} -{{ resources.nbgrader.late_penalty | float | round(2) }})</li>
          {% endif %}
          </ol>
        </div>
      </div>
      <div class="panel-body">
        <div id="notebook" class="border-box-sizing">
          <div class="container" id="notebook-container">
            {{ super.super() }}
          </div>
        </div>
      </div>
    </div>
  </div>
</body>
{%- endblock body %}

{# one wrapper for a cell: nbgrader's panel with the course's heading for a graded or answer
   cell, nbconvert's plain cell otherwise; the content comes from the {% call %} block #}
{% macro course_cell(cell, in_panel, inner_class) -%}
{%- if in_panel -%}
<div class="panel panel-primary nbgrader_cell">
  {{ course_heading(cell) }}
  <div class="panel-body">
    <div class="{{ inner_class }}">
      {{ caller() }}
    </div>
  </div>
  {{ course_footer(cell) }}
</div>
{%- else -%}
<div class="inner_cell">
  <div class="{{ inner_class }}">
    {{ caller() }}
  </div>
</div>
{%- endif -%}
{%- endmacro %}

{% block markdowncell scoped %}
<div class="cell border-box-sizing text_cell rendered">
  {{ self.empty_in_prompt() }}
  {%- call course_cell(cell, 'nbgrader' in cell.metadata and (cell.metadata.nbgrader.solution or cell.metadata.nbgrader.grade or cell.metadata.nbgrader.task), "text_cell_render border-box-sizing rendered_html") -%}
    {%- if resources.should_sanitize_html -%}
    {{ cell.source | markdown2html | strip_files_prefix | clean_html }}
    {%- else -%}
    {{ cell.source | markdown2html | strip_files_prefix }}
    {%- endif -%}
  {%- endcall -%}
</div>
{% endblock markdowncell %}

{% block input %}
  {%- call course_cell(cell, 'nbgrader' in cell.metadata and (cell.metadata.nbgrader.solution or cell.metadata.nbgrader.grade), "input_area") -%}
    {{ cell.source | highlight_code(metadata=cell.metadata) }}
  {%- endcall -%}
{% endblock input %}
"""


def numeric_size(output, key, mimetype=None):
    """nbconvert's get_metadata, with an image's width or height only if it is a number."""
    value = get_metadata(output, key, mimetype)
    if key in ("width", "height") and (isinstance(value, bool) or not isinstance(value, (int, float))):
        return None
    return value


class FeedbackPage(HTMLExporter):
    """HTMLExporter whose template is the course's feedback template (see module doc)."""

    @default("extra_loaders")
    def _course_loaders(self):
        return [DictLoader({TEMPLATE_NAME: TEMPLATE})]

    @default("filters")
    def _course_filters(self):
        # The page's own words in the notebook's language: {{ "Your answer" | localise(nb) }}.
        return {"localise": lambda text, nb: localise(text, notebook_language(nb)), "clean_html": clean_html,
                "get_metadata": numeric_size}

    @default("sanitize_html")
    def _course_sanitize_html(self):
        return True

    @default("template_file")
    def _course_template_file(self):
        return TEMPLATE_NAME
