"""Links in the README, the docs and the notebooks: Colab and Binder links point at the right
paths for the configured repository (vaecourse/links.py), and every relative link resolves.
No network: what a link points at is checked against this repository's files.
"""
import re
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import nbformat
import pytest

from vaecourse import links

ROOT = Path(__file__).resolve().parents[1]
COLAB_PREFIX = f"https://colab.research.google.com/github/{links.REPO_SLUG}/blob/{links.BRANCH}/"
BINDER_PREFIX = f"https://mybinder.org/v2/gh/{links.REPO_SLUG}/{links.BRANCH}"
GITHUB_PREFIXES = [f"https://github.com/{links.REPO_SLUG}/{kind}/{links.BRANCH}/" for kind in ("blob", "tree")]

_FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.S | re.M)
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_INLINE = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+[\"'][^)]*[\"'])?\s*\)")  # [text](target "title")
_REFERENCE = re.compile(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.M)  # [name]: target
_HTML = re.compile(r"""<(?:a|img)\b[^>]*?\b(?:href|src)\s*=\s*["']([^"']+)["']""", re.I)


def markdown_links(text: str) -> list[str]:
    """Targets of Markdown and HTML links and images, outside code blocks and code spans."""
    text = _CODE_SPAN.sub("", _FENCE.sub("", text))
    return [*_INLINE.findall(text), *_REFERENCE.findall(text), *_HTML.findall(text)]


def documents() -> list[tuple[str, Path, str]]:
    """(label, folder the links are relative to, markdown text) for every doc and notebook."""
    docs = []
    for path in sorted(ROOT.glob("*.md")) + sorted(ROOT.glob("*/*.md")):
        if any(part.startswith(".") for part in path.relative_to(ROOT).parts) or path.parts[-2] in {
                "build", "data"}:
            continue
        docs.append((str(path.relative_to(ROOT)), path.parent, path.read_text()))
    for folder in ("course", "solutions"):
        for path in sorted((ROOT / folder).glob("[0-9][0-9]_*.ipynb")):
            nb = nbformat.read(path, as_version=4)
            text = "\n\n".join(cell.source for cell in nb.cells if cell.cell_type == "markdown")
            docs.append((str(path.relative_to(ROOT)), path.parent, text))
    return docs


DOCUMENTS = documents()
STUDENT_NOTEBOOKS = sorted((ROOT / "course").glob("[0-9][0-9]_*.ipynb"))


def repo_path_of(url: str) -> str | None:
    """The repository path a Colab, Binder or GitHub link opens ('' for the repository itself);
    None for other URLs. Fails on a link to the course's hosts with the wrong slug or branch."""
    if url.startswith("https://colab.research.google.com/github/"):
        assert url.startswith(COLAB_PREFIX), f"Colab link not for {links.REPO_SLUG}@{links.BRANCH}: {url}"
        return unquote(url[len(COLAB_PREFIX):].split("#")[0])
    if url.startswith("https://mybinder.org/v2/"):
        parsed = urlparse(url)
        assert parsed._replace(query="").geturl().rstrip("/") == BINDER_PREFIX, (
            f"Binder link not for {links.REPO_SLUG}@{links.BRANCH}: {url}")
        urlpath = parse_qs(parsed.query).get("urlpath", [""])[0]
        if not urlpath:
            return ""
        assert urlpath.startswith("lab/tree/"), f"Binder link should open JupyterLab (urlpath=lab/tree/...): {url}"
        return unquote(urlpath[len("lab/tree/"):])
    if url.startswith(f"https://github.com/{links.REPO_SLUG}/"):
        for prefix in GITHUB_PREFIXES:
            if url.startswith(prefix):
                return unquote(url[len(prefix):].split("#")[0])
        return None
    return None


@pytest.mark.parametrize("label,folder,text", DOCUMENTS, ids=[doc[0] for doc in DOCUMENTS])
def test_links_resolve(label, folder, text):
    """Relative links name existing files; Colab/Binder/GitHub links name existing repository paths."""
    broken = []
    for target in markdown_links(text):
        if target.startswith(("mailto:", "#", "data:")):
            continue
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
            path = repo_path_of(target)
            if path is not None and path and not (ROOT / path).exists():
                broken.append(f"{target} -> {path} does not exist in the repository")
            continue
        local = unquote(target.split("#")[0].split("?")[0])
        if local and not (folder / local).exists():
            broken.append(f"{target} -> {(folder / local).resolve()} does not exist")
    assert not broken, f"{label} has broken links:\n" + "\n".join(broken)


@pytest.mark.parametrize("path", STUDENT_NOTEBOOKS, ids=[p.name for p in STUDENT_NOTEBOOKS])
def test_student_notebook_links_to_itself_on_colab_and_binder(path):
    """The first cell of each student notebook opens that same notebook in Colab and on Binder."""
    nb = nbformat.read(path, as_version=4)
    rel = path.relative_to(ROOT).as_posix()
    first = next(cell for cell in nb.cells if cell.cell_type == "markdown").source
    targets = markdown_links(first)
    assert links.colab_url(rel) in targets, f"{rel}: the first cell lacks {links.colab_url(rel)}"
    assert links.binder_url(rel) in targets, f"{rel}: the first cell lacks {links.binder_url(rel)}"


def test_readme_links_every_student_notebook_on_colab_and_binder():
    """The README opens every student notebook in Colab and on Binder, and has a Binder section link."""
    readme = (ROOT / "README.md").read_text()
    targets = set(markdown_links(readme))
    for path in STUDENT_NOTEBOOKS:
        rel = path.relative_to(ROOT).as_posix()
        assert links.colab_url(rel) in targets, f"README lacks the Colab link of {rel}"
        assert links.binder_url(rel) in targets, f"README lacks the Binder link of {rel}"
    binder_section = readme.split("## Binder", 1)[1].split("\n## ", 1)[0]
    assert links.binder_url("course/01_mnist.ipynb") in markdown_links(binder_section)


def test_link_checker_catches_broken_links():
    """The checker itself: a missing relative file and a wrong slug are both reported."""
    assert "missing.md" in markdown_links("see [x](missing.md) and `[y](ignored.md)`")
    assert "ignored.md" not in markdown_links("see [x](missing.md) and `[y](ignored.md)`")
    with pytest.raises(AssertionError, match="not for"):
        repo_path_of("https://colab.research.google.com/github/someone/else/blob/main/course/01_mnist.ipynb")
    assert repo_path_of(links.binder_url("course/01_mnist.ipynb")) == "course/01_mnist.ipynb"
    assert repo_path_of(links.binder_url()) == ""
