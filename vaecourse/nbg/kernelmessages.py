"""The grader's reader of kernel messages (jupyter_client's `Session.unpacker`), which no kernel can crash.

Student code can send a message that the grader's own code then fails on: JSON nested deeper than
Python's recursion limit (jupyter_client's reader raises RecursionError inside nbclient), nested a
few hundred deep (nbformat's from_dict recurses about three frames a level when nbclient stores the
output), or a number of more digits than Python converts (ValueError); each ended the whole job in
"nbgrader failed". Here such a part of a message is read as an output that says it could not be
read, with the fields every part of a message must have, so nbclient ignores it or shows that line,
and the notebook is graded on.
`vaecourse.nbg.config.configure` sets `c.Session.unpacker` to `unpack`.
"""
import json

UNREADABLE_TEXT = "[an output the grader could not read: nested too deeply, or a number too long]"
MAX_DEPTH = 64  # containers inside each other: no message of Jupyter's or of the course's nests near this


def unreadable() -> dict:
    """What stands in for a header, parent header, metadata or content the grader cannot read."""
    return {"msg_id": "", "msg_type": "unreadable", "session": "", "username": "", "version": "5.3",
            "data": {"text/plain": UNREADABLE_TEXT}, "metadata": {}, "transient": {}}


def unpack(s: str | bytes):
    """jupyter_client's json_unpacker, except that what the grader cannot safely read gives `unreadable()`."""
    if isinstance(s, bytes):
        s = s.decode("utf8", "replace")
    try:
        value = json.loads(s)
    except (RecursionError, ValueError):
        return unreadable()
    return value if _depth_at_most(value, MAX_DEPTH) else unreadable()


def _depth_at_most(value, limit: int) -> bool:
    """Whether lists and dicts nest at most `limit` deep in `value` (walked without recursion)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = item.values()
        elif not isinstance(item, list):
            continue
        if depth >= limit:
            return False
        stack.extend((child, depth + 1) for child in item)
    return True
