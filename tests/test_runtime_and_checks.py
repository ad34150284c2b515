"""Runtime decisions (quick mode, device, data folder, seeds) and the teaching checks."""
import importlib

import matplotlib
import pytest
import torch

matplotlib.use("Agg")

from vaecourse import checking, plots, runtime  # noqa: E402


@pytest.mark.parametrize("env, quick", [
    ({}, False),
    ({"NBGRADER_EXECUTION": "autograde"}, True),
    ({"NBGRADER_EXECUTION": "validate"}, True),
    ({"VAE_COURSE_QUICK": "1"}, True),
    ({"VAE_COURSE_QUICK": "yes"}, True),
    ({"VAE_COURSE_QUICK": "0"}, False),
])
def test_quick_mode_follows_nbgrader_and_the_environment_variable(monkeypatch, env, quick):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.delenv("VAE_COURSE_QUICK", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert runtime.is_quick_mode() is quick


def test_data_dir_env_beats_colab_beats_course_root(monkeypatch, tmp_path):
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    monkeypatch.setenv("VAE_COURSE_DATA", str(tmp_path / "mine"))
    assert runtime.default_data_dir() == tmp_path / "mine"
    monkeypatch.delenv("VAE_COURSE_DATA")
    monkeypatch.setenv("COLAB_RELEASE_TAG", "release-colab-2026")
    assert str(runtime.default_data_dir()) == "/content/data"
    monkeypatch.delenv("COLAB_RELEASE_TAG")
    course = tmp_path / "repo"
    (course / "course").mkdir(parents=True)
    (course / "solutions").mkdir()
    monkeypatch.chdir(course / "course")
    assert runtime.default_data_dir() == course / "data"
    monkeypatch.chdir(tmp_path)
    assert runtime.default_data_dir() == tmp_path / "data"


def test_device_is_cpu_here_and_described_for_the_student(monkeypatch):
    assert runtime.pick_device().type in {"cpu", "cuda", "mps"}
    monkeypatch.setenv("COLAB_RELEASE_TAG", "x")
    text = runtime.describe_runtime(torch.device("cpu"), quick=True)
    assert "Google Colab" in text and "Change runtime type" in text and "Quick mode is on" in text
    monkeypatch.delenv("COLAB_RELEASE_TAG")
    assert "Change runtime type" not in runtime.describe_runtime(torch.device("cpu"), quick=False)


def test_quick_mode_on_the_cpu_uses_one_thread_and_full_mode_keeps_torchs_default():
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        runtime.limit_cpu_threads(quick=False, device=torch.device("cpu"))
        assert torch.get_num_threads() == 2
        runtime.limit_cpu_threads(quick=True, device=torch.device("cuda"))
        assert torch.get_num_threads() == 2
        runtime.limit_cpu_threads(quick=True, device=torch.device("cpu"))
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_seed_everything_repeats_random_numbers():
    runtime.seed_everything(3)
    first = torch.randn(5)
    runtime.seed_everything(3)
    assert torch.equal(first, torch.randn(5))


def test_failure_message_names_exercise_expected_got_and_cause():
    with pytest.raises(checking.CheckFailed) as error:
        checking.expect_shape("Exercise 4.2 kl_divergence", torch.zeros(()), (8,),
                              "return one value per image; do not sum over the batch")
    assert str(error.value) == ("Exercise 4.2 kl_divergence: expected shape (8,), got () - "
                                "return one value per image; do not sum over the batch")
    assert isinstance(error.value, AssertionError)


def test_expect_close_reports_the_worst_entry_and_tolerance():
    got = torch.tensor([1.0, 2.0, 3.5])
    with pytest.raises(checking.CheckFailed) as error:
        checking.expect_close("Ex", got, torch.tensor([1.0, 2.0, 3.0]), "cause", atol=1e-3, rtol=0)
    message = str(error.value)
    assert "expected 3 at index (2,)" in message and "got 3.5" in message
    assert "1 of 3 values differ" in message and "max abs difference 0.5" in message
    checking.expect_close("Ex", got, got + 1e-7, "cause")  # within tolerance: no error


def test_expect_close_catches_nan_and_non_tensors():
    with pytest.raises(checking.CheckFailed):
        checking.expect_close("Ex", torch.tensor([float("nan")]), torch.tensor([0.0]), "cause")
    with pytest.raises(checking.CheckFailed, match="expected a torch.Tensor, got 3"):
        checking.expect_tensor("Ex", 3)
    with pytest.raises(checking.CheckFailed, match="dtype torch.int64"):
        checking.expect_dtype("Ex", torch.zeros(2), torch.int64, "cause")
    with pytest.raises(checking.CheckFailed, match="2 NaN or infinite"):
        checking.expect_finite("Ex", torch.tensor([1.0, float("inf"), float("nan")]), "cause")


def test_expect_close_prints_a_single_value_as_a_number():
    with pytest.raises(checking.CheckFailed) as error:
        checking.expect_close("Ex", torch.tensor(-0.806853), torch.tensor(544.927), "cause")
    assert str(error.value) == "Ex: expected 544.927, got -0.806853 (difference 545.7, tolerance 0.0545) - cause"
    with pytest.raises(checking.CheckFailed) as error:  # a one-element tensor and a plain float alike
        checking.expect_close("Ex", torch.tensor([2.5]), [2.0], "cause", atol=0.1, rtol=0)
    assert str(error.value) == "Ex: expected 2, got 2.5 (difference 0.5, tolerance 0.1) - cause"
    with pytest.raises(checking.CheckFailed) as error:
        checking.expect_close("Ex", float("nan"), 1.0, "cause")
    assert "got nan (not a number" in str(error.value)
    for message in ("index", "of 1 values"):
        assert message not in str(error.value)


def test_expect_equal_shortens_long_tensors_and_lists_and_says_where_they_differ():
    expected = torch.arange(50)
    got = expected.clone()
    got[7] = 99
    with pytest.raises(checking.CheckFailed) as error:
        checking.expect_equal("Ex", got, expected, "cause")
    assert str(error.value) == ("Ex: expected [0, 1, 2, 3, 4, 5, ... 50 items], got [0, 1, 2, 3, 4, 5, ... 50 items] "
                                "(first difference at index 7: expected 7, got 99) - cause")
    with pytest.raises(checking.CheckFailed) as error:
        checking.expect_equal("Ex", torch.zeros(4, 10), torch.ones(4, 10) / 3, "cause")
    assert "[0.3333, 0.3333, 0.3333, 0.3333, 0.3333, 0.3333, ... 40 items of shape (4, 10)]" in str(error.value)
    assert "first difference at index (0, 0)" in str(error.value)
    with pytest.raises(checking.CheckFailed) as error:  # short tensors keep every value
        checking.expect_equal("Ex", torch.tensor([1, 1, 0, 2]), torch.tensor([1, 1, 0, 3]), "cause")
    assert str(error.value) == "Ex: expected [1, 1, 0, 3], got [1, 1, 0, 2] - cause"
    with pytest.raises(checking.CheckFailed) as error:
        checking.expect_equal("Ex", list(range(1, 31)), list(range(30)), "cause")
    assert str(error.value) == ("Ex: expected [0, 1, 2, 3, 4, 5, ... 30 items], got [1, 2, 3, 4, 5, 6, ... 30 items] "
                                "(first difference at index 0: expected 0, got 1) - cause")
    with pytest.raises(checking.CheckFailed, match=r"expected \[1, 2\], got \(1, 2\)"):
        checking.expect_equal("Ex", (1, 2), [1, 2], "cause")
    checking.expect_equal("Ex", torch.arange(50), torch.arange(50), "cause")  # equal: no error


@pytest.mark.parametrize("loss, shown, cause", [
    (float("nan"), "got nan", "logvar exploded"),
    (torch.tensor(float("inf")), "got inf", "log of 0"),
    (-12.5, "got -12.5", "never negative"),
    (torch.tensor(-0.8, requires_grad=True) * 1, "got -0.8", "Exercises 4.1, 4.2"),
])
def test_stop_on_bad_loss_names_where_the_value_and_the_cause(loss, shown, cause):
    with pytest.raises(checking.TrainingStopped) as error:
        checking.stop_on_bad_loss(loss, "epoch 3")
    message = str(error.value)
    assert message.startswith("Training stopped at epoch 3: ") and shown in message and cause in message
    assert isinstance(error.value, AssertionError)  # a test cell that trains fails like any check


def test_stop_on_bad_loss_lets_a_sensible_loss_through_as_a_float():
    assert checking.stop_on_bad_loss(torch.tensor(181.6), "batch 1") == pytest.approx(181.6)
    assert checking.stop_on_bad_loss(0.0, "batch 1") == 0.0
    assert checking.stop_on_bad_loss(-1e-6, "batch 1") == -1e-6  # rounding of a KL near 0 is not an error


def test_checks_write_nothing_to_stderr(capsys):
    checking.passed("Exercise 1.1 count_per_class", "all good")
    captured = capsys.readouterr()
    assert captured.err == "" and "\u2713 Exercise 1.1 count_per_class: all good" in captured.out


def test_show_images_uses_one_grey_scale_for_every_tile():
    images = torch.rand(12, 1, 28, 28) * 0.2  # faint images must stay faint
    fig = plots.show_images(images, titles=list(range(12)), ncols=5)
    shown = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(shown) == 12 and len(fig.axes) == 15
    assert all(im.get_clim() == (0.0, 1.0) for im in shown)
    assert [ax.get_title() for ax in fig.axes if ax.images][:3] == ["0", "1", "2"]


def test_image_grid_is_row_major():
    images = torch.arange(6, dtype=torch.float32).view(6, 1, 1, 1).expand(6, 1, 2, 2)
    grid = plots.image_grid(images, nrow=2)
    assert tuple(grid.shape) == (4, 6)
    assert grid[0, 0] == 0 and grid[0, 2] == 1 and grid[2, 0] == 3


def test_runtime_module_reloads_cleanly():
    assert importlib.reload(runtime).SEED == 0
