"""Figures the notebooks share: image grids on one grey scale, and loss curves.

The build copies this module into each student notebook.
"""
import matplotlib.pyplot as plt
import torch


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
