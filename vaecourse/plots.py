"""Figures the notebooks share: image grids on one grey scale, and loss curves.

The build copies this module into each student notebook. In the Japanese edition it makes
Matplotlib draw Japanese first (use_japanese_font): Colab has no Japanese font, and a label
drawn in a font without the glyphs shows empty boxes (tofu).
"""
import subprocess
import sys
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import torch

from vaecourse.runtime import COURSE_LANGUAGE

# Installed fonts with Japanese glyphs, tried when matplotlib-fontja (IPAexGothic) is missing and
# cannot be installed: Debian's fonts-noto-cjk, macOS and Windows fonts.
JAPANESE_FONTS = ("IPAexGothic", "Noto Sans CJK JP", "Noto Sans JP", "Hiragino Sans", "Yu Gothic", "IPAGothic",
                  "TakaoGothic")


def use_japanese_font() -> str | None:
    """Draw text in a font with Japanese glyphs, Latin and maths falling back to DejaVu Sans; its name.

    matplotlib-fontja (the maintained successor of japanize-matplotlib, which no longer imports
    on Python 3.12) is installed with pip where it is missing (Colab); offline, an installed
    Japanese font is used. None, with a warning, when there is neither.
    """
    from matplotlib import font_manager

    try:
        import matplotlib_fontja  # noqa: F401  (registers IPAexGothic with Matplotlib on import)
    except ImportError:
        installed = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "matplotlib-fontja"],
                                   capture_output=True, text=True)
        if installed.returncode == 0:
            import matplotlib_fontja  # noqa: F401
    names = {font.name for font in font_manager.fontManager.ttflist}
    if not names & set(JAPANESE_FONTS):  # installed after Matplotlib cached its font list: add them now
        for path in font_manager.findSystemFonts():
            if any(part in Path(path).name for part in ("NotoSansCJK", "ipaexg", "ipag", "Hiragino", "YuGoth")):
                font_manager.fontManager.addfont(path)
        names = {font.name for font in font_manager.fontManager.ttflist}
    name = next((font for font in JAPANESE_FONTS if font in names), None)
    if name is None:
        warnings.warn("no Japanese font for Matplotlib: `pip install matplotlib-fontja`, or install fonts-noto-cjk; "
                      "Japanese labels will show as empty boxes")
        return None
    plt.rcParams["font.family"] = "sans-serif"
    plt.rcParams["font.sans-serif"] = [name, "DejaVu Sans"]
    return name


def missing_glyphs(fig) -> dict[str, str]:
    """Text of a drawn figure -> the characters its font has no glyph for (empty: no tofu)."""
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    fig.canvas.draw()
    missing = {}
    for artist in fig.findobj(lambda a: hasattr(a, "get_text") and hasattr(a, "get_fontproperties")):
        text = artist.get_text()
        if not text.strip():
            continue
        paths = [font_manager.findfont(font_manager.FontProperties(family=family))
                 for family in plt.rcParams["font.sans-serif"]] if artist.get_fontproperties().get_family() == [
            "sans-serif"] else [font_manager.findfont(artist.get_fontproperties())]
        charmaps = [FT2Font(path).get_charmap() for path in paths]
        lost = "".join(sorted({c for c in text if not c.isspace() and not any(ord(c) in m for m in charmaps)}))
        if lost:
            missing[text] = lost
    return missing


if COURSE_LANGUAGE == "ja":
    use_japanese_font()


def show_images(images, titles=None, ncols: int = 10, size: float = 1.2, suptitle: str | None = None):
    """Show images (N, 1, 28, 28) or (N, 28, 28) in a grid on one shared grey scale.

    vmin=0 and vmax=1 for every tile: a faint digit must look faint, not be stretched
    to full contrast as matplotlib's per-image autoscaling would do.
    Returns the figure.
    """
    images = torch.as_tensor(images).detach().cpu().float()
    if images.dim() == 4:
        images = images[:, 0]  # (N, 1, 28, 28) -> (N, 28, 28)
    images = images.numpy()  # matplotlib warns (on stderr) when handed torch tensors
    n = images.shape[0]
    ncols = max(1, min(ncols, n))
    nrows = (n + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.4 if suptitle else 0)),
                             squeeze=False)
    for index, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if index >= n:
            ax.axis("off")
            continue
        ax.imshow(images[index], cmap="gray", vmin=0.0, vmax=1.0)
        if titles is not None:
            ax.set_title(str(titles[index]), fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def image_grid(images, nrow: int) -> torch.Tensor:
    """Tile images (N, 1, H, W) into one (nrow * H, ncol * W) tensor, row-major."""
    images = torch.as_tensor(images).detach().cpu()
    n, _, h, w = images.shape
    ncol = (n + nrow - 1) // nrow
    canvas = torch.zeros(nrow * h, ncol * w, dtype=images.dtype)
    for index in range(n):
        row, col = divmod(index, ncol)
        canvas[row * h:(row + 1) * h, col * w:(col + 1) * w] = images[index, 0]
    return canvas


def plot_curves(history: dict, xlabel: str = "epoch", ylabel: str = "nats per image", title: str | None = None):
    """One line per named series in history ({name: [values]}); returns the figure."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, values in history.items():
        ax.plot(range(1, len(values) + 1), values, marker="o", label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
