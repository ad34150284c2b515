"""nbgrader's Gradebook, opened without a lasting change to this process's environment."""
import os
import threading

from vaecourse.nbg.run import tool_env

_PATH_LOCK = threading.Lock()


def open_gradebook(db_url: str, env: dict | None = None):
    """nbgrader's Gradebook for db_url, used as `with open_gradebook(url) as gb:`.

    Opening a new gradebook runs `alembic` from PATH. PATH is taken from `env` (default
    `tool_env()`, this interpreter's bin folder first, so that it works when the virtual
    environment is not activated) while the gradebook opens, and put back afterwards.
    """
    from nbgrader.api import Gradebook

    path = (env or tool_env())["PATH"]
    with _PATH_LOCK:
        before = os.environ.get("PATH")
        os.environ["PATH"] = path
        try:
            return Gradebook(db_url)
        finally:
            if before is None:
                del os.environ["PATH"]
            else:
                os.environ["PATH"] = before
