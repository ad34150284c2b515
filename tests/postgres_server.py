"""A real PostgreSQL server for the gradebook tests: the fixture `postgres_url` (a pytest plugin).

`postgres_url` is the SQLAlchemy URL (postgresql+psycopg://...) of a new, empty database,
made for the test and dropped after it. The server is, in this order:

- the one named by VAE_COURSE_TEST_POSTGRES (a SQLAlchemy URL of a role that may create
  databases, e.g. what .ci/start-postgres exports); it must answer, or the tests fail;
- otherwise a throwaway server started for the test session from Debian's binaries
  (/usr/lib/postgresql/<version>/bin): initdb and pg_ctl, run as an unprivileged user
  (`postgres` when the tests run as root), in a new temporary folder, trust authentication,
  127.0.0.1 only, a free port; stopped and its folder removed at the end of the session.

When neither can be had the tests are skipped, saying why, unless VAE_COURSE_REQUIRE_POSTGRES
is set (CI sets it): then they fail. Under pytest-xdist each worker that needs a server starts
its own, and database names carry the worker's id, so workers never share a database.
"""
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

ENV_URL = "VAE_COURSE_TEST_POSTGRES"
ENV_REQUIRE = "VAE_COURSE_REQUIRE_POSTGRES"
DEBIAN_BINARIES = "/usr/lib/postgresql/*/bin"
SERVER_USER = "postgres"  # who runs a server started as root (Debian's postgresql package creates it)
ROLE = "grader"  # the role the tests connect as: may create databases, not a superuser


class Unavailable(Exception):
    """No PostgreSQL server for the tests; the message says why and what to do."""


def conninfo(url: str) -> str:
    """A libpq connection string (for psycopg.connect) from a SQLAlchemy URL."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"{url!r} is not a PostgreSQL URL")
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def with_database(url: str, database: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=database).render_as_string(hide_password=False)


def connect(url: str):
    """An autocommit psycopg connection to `url` (CREATE/DROP DATABASE cannot run in a transaction)."""
    try:
        import psycopg
    except ImportError as error:
        raise Unavailable("the PostgreSQL driver psycopg (v3) is not installed: "
                          "pip install -e '.[dev]' (or '.[postgres]')") from error
    return psycopg.connect(conninfo(url), autocommit=True, connect_timeout=10)


def debian_bindir() -> Path | None:
    """The newest of Debian's PostgreSQL server folders that has initdb, pg_ctl and postgres."""
    import glob

    def version(path: str) -> tuple:
        return tuple(int(part) if part.isdigit() else 0 for part in Path(path).parent.name.split("."))

    for folder in sorted(glob.glob(DEBIAN_BINARIES), key=version, reverse=True):
        if all(os.access(Path(folder, tool), os.X_OK) for tool in ("initdb", "pg_ctl", "postgres")):
            return Path(folder)
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ThrowawayServer:
    """initdb + pg_ctl in a temporary folder, as an unprivileged user, on 127.0.0.1 and a free port."""

    def __init__(self, bindir: Path, name: str = "session"):
        self.bindir = bindir
        self.name = name
        self.folder: Path | None = None
        self.port: int | None = None
        if os.geteuid() == 0:  # postgres refuses to run as root
            try:
                entry = pwd.getpwnam(SERVER_USER)
            except KeyError:
                raise Unavailable(f"the tests run as root and there is no `{SERVER_USER}` user to run PostgreSQL "
                                  "(install Debian's postgresql, or run .ci/start-postgres and export "
                                  f"{ENV_URL})") from None
            self.user = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        else:
            self.user = {}

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        env = {"PATH": f"{self.bindir}{os.pathsep}/usr/bin:/bin", "LC_ALL": "C", "TZ": "UTC"}
        return subprocess.run([str(self.bindir / args[0]), *args[1:]], cwd=self.folder, env=env,
                              capture_output=True, text=True, timeout=timeout, **self.user)

    def log_tail(self) -> str:
        log = self.folder / "server.log" if self.folder else None
        return "\n".join(log.read_text(errors="replace").splitlines()[-20:]) if log and log.is_file() else ""

    def start(self) -> str:
        """Start the server; return the SQLAlchemy URL of its `postgres` database for the role `grader`."""
        self.folder = Path(tempfile.mkdtemp(prefix=f"vaecourse-postgres-{self.name}-"))
        self.folder.chmod(0o755)  # the server user must reach data/ (which initdb makes 0700)
        if self.user:
            os.chown(self.folder, self.user["user"], self.user["group"])
        result = self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--encoding=UTF8",
                           "--no-locale", "--no-sync")
        if result.returncode != 0:
            raise Unavailable(f"initdb failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
        options = ("-c listen_addresses=127.0.0.1 -p {port} -k {folder} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        for _ in range(5):  # another process may take the port between choosing it and binding it
            port = free_port()
            result = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"), "-w",
                               "-t", "60", "start", "-o", options.format(port=port, folder=self.folder))
            if result.returncode == 0:
                self.port = port
                break
        else:
            raise Unavailable(f"pg_ctl could not start PostgreSQL:\n{result.stdout[-1000:]}{result.stderr[-1000:]}"
                              f"\n{self.log_tail()}")
        with connect(f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres") as admin:
            admin.execute(f"CREATE ROLE {ROLE} LOGIN CREATEDB")
        return f"postgresql+psycopg://{ROLE}@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        if self.folder is None:
            return
        try:
            if self.data.is_dir():
                self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", timeout=60)
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _unavailable(reason: str):
    if os.environ.get(ENV_REQUIRE):
        pytest.fail(f"PostgreSQL is required ({ENV_REQUIRE} is set) but {reason}", pytrace=False)
    pytest.skip(f"no PostgreSQL server: {reason} (CI sets {ENV_REQUIRE}=1 so that this fails instead)")


@pytest.fixture(scope="session")
def postgres_server():
    """The SQLAlchemy URL of a database on a running server, for a role that may create databases."""
    url = os.environ.get(ENV_URL)
    if url:
        try:
            with connect(url) as connection:
                connection.execute("SELECT 1")
        except Exception as error:  # noqa: BLE001 (any failure: say which server and why)
            pytest.fail(f"{ENV_URL}={url} does not answer: {error}", pytrace=False)
        yield url
        return
    bindir = debian_bindir()
    if bindir is None:
        _unavailable(f"{ENV_URL} is not set and there are no server binaries in {DEBIAN_BINARIES} "
                     "(apt-get install postgresql, or run .ci/start-postgres and source the file it names)")
    server = ThrowawayServer(bindir, _worker())
    try:
        try:
            url = server.start()
        except (Unavailable, OSError, subprocess.SubprocessError) as error:
            _unavailable(f"a throwaway server from {bindir} did not start: {error}")
        yield url
    finally:
        server.stop()


@pytest.fixture()
def postgres_url(postgres_server):
    """A new, empty database for this test (dropped after it): its SQLAlchemy URL."""
    name = f"test_{_worker()}_{uuid.uuid4().hex[:10]}".lower()
    with connect(postgres_server) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(postgres_server, name)
    finally:
        # FORCE: a gradebook still holds pooled connections (nbgrader's Gradebook.close keeps its engine).
        with connect(postgres_server) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
