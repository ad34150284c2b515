"""CapOutput: each cell's text output cut to a number of characters, whatever its line count."""
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Integer

MAX_OUTPUT_CHARS = 20_000  # per cell, all text outputs together (configure may override it)


class CapOutput(NbGraderPreprocessor):
    """Cut each cell's text output to `max_chars` characters (whatever the line count)."""

    max_chars = Integer(MAX_OUTPUT_CHARS, help="maximum characters of text output per cell").tag(config=True)

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type != "code":
            return cell, resources
        budget = self.max_chars
        kept = []
        for output in coalesce_streams(cell.outputs):
            if output.output_type == "stream":
                text = output.text
                if len(text) > budget:
                    dropped = len(text) - budget
                    output.text = text[:budget] + f"\n... output truncated ({dropped:,} characters dropped) ...\n"
                    budget = 0
                else:
                    budget -= len(text)
                if output.text or budget > 0:
                    kept.append(output)
                continue
            data = output.get("data", {})
            for mime in ("text/plain", "text/html"):
                value = data.get(mime)
                if isinstance(value, str) and len(value) > self.max_chars:
                    data[mime] = value[:self.max_chars] + "\n... output truncated ...\n"
            kept.append(output)
        cell.outputs = kept
        return cell, resources


def coalesce_streams(outputs: list) -> list:
    """Consecutive stream outputs of the same stream joined into one.

    How a kernel splits a long print into stream messages depends on timing (it flushes on a
    clock), so a 50 MB print may arrive as 3 messages on a quiet machine and 40 on a busy
    one. Capping each would give a different notebook each time; capping the joined text
    gives the same notebook however the kernel split it.
    """
    joined = []
    for output in outputs:
        if (output.get("output_type") == "stream" and joined and joined[-1].get("output_type") == "stream"
                and joined[-1].get("name") == output.get("name")):
            joined[-1].text += output.text
        else:
            joined.append(output)
    return joined
