"""Helpers for tests/test_browser.py: a JupyterLab server of our own and headless Chromium.

The server listens on 127.0.0.1 only, on a free port, with a random token; it runs in its
own process group and is stopped with it. Chromium is Debian's (/usr/bin/chromium, which
.ci/run installs), driven by Playwright through its executable path: Playwright's own
browser download needs a network this course's CI does not have.
"""
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

CHROMIUM_CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-dev-shm-usage",
    # Without these Chromium keeps trying to reach Google, and a closed network refuses it.
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
# JupyterLab user settings for the test: every cell stays in the page (no windowing), so
# that the test sees all outputs; no news or update checks (no network).
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false", "checkForUpdates": False},
}


def chromium_path() -> str | None:
    """The system Chromium ($VAE_COURSE_CHROMIUM first), or None."""
    for candidate in [os.environ.get("VAE_COURSE_CHROMIUM"), *CHROMIUM_CANDIDATES]:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LabServer:
    """`jupyter lab` on 127.0.0.1: started by start(), stopped (whole process group) by stop().

    app="server": `jupyter server`, without the lab front end: formgrader's pages and REST API
    (nbgrader's server extension) answer all the same, and it starts sooner.
    """

    def __init__(self, root_dir: Path, cwd: Path, state_dir: Path, env: dict, app: str = "lab"):
        self.root_dir, self.cwd, self.state_dir, self.app = Path(root_dir), Path(cwd), Path(state_dir), app
        self.port, self.token = free_port(), secrets.token_hex(16)
        self.env = dict(env)
        self.process: subprocess.Popen | None = None
        self.log_path = self.state_dir / "jupyter-lab.log"

    def url(self, path: str = "") -> str:
        separator = "&" if "?" in path else "?"
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}{separator}token={self.token}"

    def start(self, timeout: float = 180) -> "LabServer":
        settings = self.state_dir / "lab-settings"
        for name, values in LAB_SETTINGS.items():
            path = settings / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        env = {key: value for key, value in self.env.items() if not key.startswith("JUPYTER")}
        env.update(
            JUPYTER_CONFIG_DIR=str(self.state_dir / "config"),
            JUPYTER_RUNTIME_DIR=str(self.state_dir / "runtime"),
            JUPYTERLAB_SETTINGS_DIR=str(settings),
            JUPYTERLAB_WORKSPACES_DIR=str(self.state_dir / "workspaces"),
            PATH=os.pathsep.join([str(Path(sys.executable).parent), self.env.get("PATH", "")]),
        )
        args = [sys.executable, "-m", "jupyter", self.app, "--no-browser", "--ip=127.0.0.1",
                f"--port={self.port}", "--port-retries=0", f"--IdentityProvider.token={self.token}",
                f"--ServerApp.root_dir={self.root_dir}"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.append("--allow-root")
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(args, cwd=self.cwd, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(self.url("api/status"), timeout=5) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter {self.app} exited with {self.process.returncode}:\n{self.log_text()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"jupyter {self.app} did not answer in {timeout:.0f} s:\n{self.log_text()}")
            time.sleep(0.5)

    def log_text(self) -> str:
        return self.log_path.read_text()[-5000:] if self.log_path.is_file() else ""

    def api(self, path: str):
        return self.call("GET", f"api/{path}")

    def call(self, method: str, path: str, body: dict | None = None, as_json: bool = True):
        """One request with the token (token-authenticated requests need no XSRF cookie); the JSON
        answer, or the text when not as_json."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url(path), data=data, method=method,
                                         headers={"Content-Type": "application/json"} if data else {})
        with urllib.request.urlopen(request, timeout=60) as response:
            text = response.read().decode()
        return json.loads(text) if as_json else text

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)  # the server and its kernels
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.log.close()


def launch_chromium(playwright, executable: str, profile_dir: Path):
    """Headless Chromium with a fresh profile: (context, page)."""
    shutil.rmtree(profile_dir, ignore_errors=True)
    context = playwright.chromium.launch_persistent_context(
        str(profile_dir), executable_path=executable, headless=True, args=CHROMIUM_ARGS,
        viewport={"width": 1400, "height": 1000})
    page = context.pages[0] if context.pages else context.new_page()
    return context, page
