"""The grader's reader of kernel messages (jupyter_client's `Session.unpacker`), which no kernel can crash.

Student code can send a message whose JSON nests deeper than Python's recursion limit (raise the
limit in the kernel, display a record nested 3,000 deep): jupyter_client's own reader then raises
RecursionError inside nbclient, and the whole job ends in "nbgrader failed". Here such a part of a
message is read as an output that says it could not be read, with the fields every part of a
message must have, so nbclient ignores it or shows that line, and the notebook is graded on.
`vaecourse.nbg.config.configure` sets `c.Session.unpacker` to `unpack`.
"""
import json

UNREADABLE_TEXT = "[an output nested too deeply to be read by the grader]"


def unreadable() -> dict:
    """What stands in for a header, parent header, metadata or content the grader cannot read."""
    return {"msg_id": "", "msg_type": "unreadable", "session": "", "username": "", "version": "5.3",
            "data": {"text/plain": UNREADABLE_TEXT}, "metadata": {}, "transient": {}}


def unpack(s: str | bytes):
    """jupyter_client's json_unpacker, except that JSON too deep to read gives `unreadable()`."""
    if isinstance(s, bytes):
        s = s.decode("utf8", "replace")
    try:
        return json.loads(s)
    except RecursionError:
        return unreadable()
