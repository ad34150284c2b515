"""The figures of 05_training and 06_latent_space exist, with the right shapes, orientation and labelled axes.

Each notebook is executed once (module-scoped), as a student would run it: the generated student
version with its exercises filled in from the master, in quick mode, on the offline set. A final
injected cell describes the named figures (`fig_curves`, `fig_grid`, ...) as JSON; the tests read
that description. The run time of each notebook is printed (`pytest -s`), not asserted.
"""
import nbformat
import pytest

from harness import filled_student
from vaecourse.notebook_run import course_env, printed_json, run_notebook

MARKER = "FIGURES-JSON:"

DESCRIBE = r'''
import json as _json
import matplotlib.image as _mimage


def _axes(ax):
    images = [im for im in ax.get_children() if isinstance(im, _mimage.AxesImage)]
    return {
        "xlabel": ax.get_xlabel(), "ylabel": ax.get_ylabel(), "title": ax.get_title(),
        "lines": [list(map(float, line.get_ydata())) for line in ax.get_lines()],
        "line_xy": [[list(map(float, line.get_xdata())), list(map(float, line.get_ydata()))] for line in ax.get_lines()],
        "collections": [len(c.get_offsets()) for c in ax.collections],
        "legend": ([t.get_text() for t in ax.get_legend().get_texts()] if ax.get_legend() else None),
        "legend_title": (ax.get_legend().get_title().get_text() if ax.get_legend() else None),
        "images": [{"shape": list(im.get_array().shape), "extent": list(map(float, im.get_extent())),
                    "origin": im.origin} for im in images],
    }


def _figure(fig):
    return {"axes": [_axes(ax) for ax in fig.axes if ax.get_visible()]}
'''

DESCRIBE_05 = DESCRIBE + r'''
_out = {name: _figure(globals()[name]) for name in ("fig_curves", "fig_montage")}
_out["num_epochs"] = num_epochs
_out["pngs"] = sorted(p.name for p in image_dir.glob("epoch_*.png"))
_reloaded, _info = load_checkpoint(checkpoint_path(latent_dim, quick=QUICK), "cpu")
_out["checkpoint_keys"] = sorted(_info)
_out["checkpoint_same"] = all(torch.equal(a.cpu(), b) for a, b in zip(model.state_dict().values(), _reloaded.state_dict().values()))
print("FIGURES-JSON:" + _json.dumps(_out))
'''

DESCRIBE_06 = DESCRIBE + r'''
import torch as _torch
_out = {name: _figure(globals()[name]) for name in ("fig_scatter", "fig_grid", "fig_grid_icdf", "fig_prior", "fig_interp")}
_out["n"], _out["limit"], _out["n_test"] = n, limit, len(mu)
with _torch.no_grad():  # the corner tiles of the grid figure must be the decoded corners of the latent square
    _corners = model.decoder(_torch.tensor([[-limit, limit], [limit, -limit]]).to(device)).cpu()
_canvas = fig_grid.axes[0].get_images()[0].get_array()
_out["top_left_matches"] = bool(abs(_canvas[:28, :28] - _corners[0, 0].numpy()).max() < 1e-5)
_out["bottom_right_matches"] = bool(abs(_canvas[-28:, -28:] - _corners[1, 0].numpy()).max() < 1e-5)
_out["path_start"] = path_z[0].tolist()
_out["mu_first_4"] = mu[labels == 4][0].tolist()
_out["mu_first_9"] = mu[labels == 9][0].tolist()
_sliders = [w for w in explorer.children[0].children]
_image = explorer.children[1]
_before = _image.value
_sliders[0].value, _sliders[1].value = 1.5, -2.0
_out["explorer"] = {"sliders": [[type(s).__name__, s.description, s.min, s.max] for s in _sliders],
                    "image": type(_image).__name__, "redrawn": _image.value != _before and len(_image.value) > 1000}
print("FIGURES-JSON:" + _json.dumps(_out))
'''


def execute(name: str, describe: str, env: dict, cwd) -> tuple[dict, float, "nbformat.NotebookNode"]:
    nb = filled_student(name)
    nb.cells.append(nbformat.v4.new_code_cell(describe))
    seconds = run_notebook(nb, env, cwd, timeout=120)
    print(f"\n{name}: quick mode, offline set, {seconds:.1f} s (nbclient, including kernel start)")
    figures = printed_json(nb.cells[-1], MARKER)
    assert figures, f"{name}: the describing cell printed no {MARKER} line"
    return figures, seconds, nb


def stderr_outputs(nb) -> list[str]:
    return [o.get("text", "")[:300] for cell in nb.cells if cell.cell_type == "code"
            for o in cell.get("outputs", []) if o.output_type == "stream" and o.name == "stderr"]


def png_count(nb) -> int:
    return sum("image/png" in o.get("data", {}) for cell in nb.cells if cell.cell_type == "code"
               for o in cell.get("outputs", []))


@pytest.fixture(scope="module")
def runs(tmp_path_factory, offline_data):
    env = course_env(data=offline_data, checkpoints=tmp_path_factory.mktemp("checkpoints"), quick=True)
    cwd = tmp_path_factory.mktemp("notebooks")
    return {"05": execute("05_training", DESCRIBE_05, env, cwd), "06": execute("06_latent_space", DESCRIBE_06, env, cwd)}


@pytest.mark.slow
@pytest.mark.parametrize("key", ["05", "06"])
def test_notebook_runs_quietly_with_its_figures_shown(runs, key):
    _, _, nb = runs[key]
    assert stderr_outputs(nb) == [], f"{key} wrote to stderr (nbgrader would zero a test cell that does)"
    assert png_count(nb) >= {"05": 2, "06": 5}[key], f"{key}: figures were not shown as images"


@pytest.mark.slow
def test_05_loss_curves_show_both_terms_on_train_and_test(runs):
    figures, _, _ = runs["05"]
    axes = figures["fig_curves"]["axes"]
    assert [ax["title"] for ax in axes] == ["negative ELBO", "reconstruction term", "KL term"]
    for ax in axes:
        assert ax["xlabel"] == "epoch" and ax["ylabel"] == "nats per image", ax
        assert ax["legend"] == ["training images", "test images"], ax["legend"]
        assert all(len(values) == figures["num_epochs"] for values in ax["lines"]), ax["lines"]


@pytest.mark.slow
def test_05_montage_has_a_row_per_epoch_and_pngs_and_checkpoint_are_saved(runs):
    figures, _, _ = runs["05"]
    (ax,) = figures["fig_montage"]["axes"]
    (image,) = ax["images"]
    assert image["shape"] == [28 * (1 + figures["num_epochs"]), 16 * 28], image
    assert ax["title"], "the montage needs a title"
    assert figures["pngs"] == [f"epoch_{k:02d}.png" for k in range(1, figures["num_epochs"] + 1)]
    assert {"model", "latent_dim", "history", "snapshots"} <= set(figures["checkpoint_keys"])
    assert figures["checkpoint_same"], "the reloaded checkpoint differs from the trained model"


@pytest.mark.slow
def test_06_scatter_of_mu_is_coloured_by_digit_with_a_legend(runs):
    figures, _, _ = runs["06"]
    (ax,) = figures["fig_scatter"]["axes"]
    assert ax["legend"] == [str(d) for d in range(10)] and ax["legend_title"] == "digit", ax["legend"]
    assert sum(ax["collections"]) == figures["n_test"], "every encoded test image must be plotted once"
    assert "z1" in ax["xlabel"] and "z2" in ax["ylabel"], (ax["xlabel"], ax["ylabel"])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["fig_grid", "fig_grid_icdf"])
def test_06_latent_grids_have_the_right_shape_and_labelled_axes(runs, name):
    figures, _, _ = runs["06"]
    (ax,) = figures[name]["axes"]
    (image,) = ax["images"]
    n = figures["n"]
    assert image["shape"] == [28 * n, 28 * n], image
    assert "z1" in ax["xlabel"] and "z2" in ax["ylabel"], (ax["xlabel"], ax["ylabel"])
    left, right, bottom, top = image["extent"]
    assert image["origin"] == "upper" and top > bottom and right > left, \
        f"{name}: the first row of the canvas must be drawn at the top with z2 increasing upwards: {image}"


@pytest.mark.slow
def test_06_grid_is_oriented_like_the_latent_plane(runs):
    figures, _, _ = runs["06"]
    (image,) = figures["fig_grid"]["axes"][0]["images"]
    limit, n = figures["limit"], figures["n"]
    half = limit / (n - 1)
    assert image["extent"] == pytest.approx([-limit - half, limit + half, -limit - half, limit + half])
    assert figures["top_left_matches"], "the top-left tile must decode (z1, z2) = (-limit, +limit)"
    assert figures["bottom_right_matches"], "the bottom-right tile must decode (z1, z2) = (+limit, -limit)"


@pytest.mark.slow
def test_06_prior_samples_and_interpolation_from_a_4_to_a_9(runs):
    figures, _, _ = runs["06"]
    assert len(figures["fig_prior"]["axes"]) == 30
    ax_map, ax_strip = figures["fig_interp"]["axes"]
    assert ax_map["xlabel"] == "z1" and ax_map["ylabel"] == "z2"
    (path_x, path_y), = ax_map["line_xy"]
    assert len(path_x) == 10
    assert [path_x[0], path_y[0]] == pytest.approx(figures["mu_first_4"], abs=1e-6)
    assert [path_x[-1], path_y[-1]] == pytest.approx(figures["mu_first_9"], abs=1e-6)
    (strip,) = ax_strip["images"]
    assert strip["shape"] == [28, 10 * 28], strip
    assert ax_strip["xlabel"], "the strip of decoded images needs an x label"


@pytest.mark.slow
def test_06_explorer_has_z1_z2_sliders_that_redraw(runs):
    figures, _, _ = runs["06"]
    explorer = figures["explorer"]
    assert [s[:2] for s in explorer["sliders"]] == [["FloatSlider", "z1"], ["FloatSlider", "z2"]]
    assert explorer["image"] == "Image"
    assert explorer["redrawn"], "moving the sliders must redraw the image"
