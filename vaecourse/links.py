"""Where the course is published: the one place that names the repository and branch.

Change REPO_SLUG or BRANCH here and run `make build`: every Colab badge, Binder link
and README link is regenerated from these two values.
"""
REPO_SLUG = "vaecourse/conv-vae-course"
BRANCH = "main"


def colab_url(path: str) -> str:
    """Open a notebook of the repository (path relative to its root) in Google Colab."""
    return f"https://colab.research.google.com/github/{REPO_SLUG}/blob/{BRANCH}/{path}"


def binder_url(path: str | None = None) -> str:
    """Launch the repository on mybinder.org in JupyterLab, opened on path if given."""
    base = f"https://mybinder.org/v2/gh/{REPO_SLUG}/{BRANCH}"
    return f"{base}?urlpath=lab/tree/{path}" if path else base


def github_url(path: str) -> str:
    """A file of the repository (path relative to its root) on GitHub."""
    return f"https://github.com/{REPO_SLUG}/blob/{BRANCH}/{path}"


COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
BINDER_BADGE = "https://mybinder.org/badge_logo.svg"
