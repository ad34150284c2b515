"""Training stops on a loss that cannot be right: the course's train_one_epoch (exported from
05's master, used by 06, 09 and 10) checks every batch, and 05's training cell checks the value
the student's own train_one_epoch returns after every epoch."""
import sys
import time

import pytest
import torch

from vaecourse import checking, masters
from vaecourse.reference import training
from vaecourse.reference.decoder import ConvVAE
from vaecourse.reference.elbo import vae_loss


def _batches(count=3, size=4):
    torch.manual_seed(0)
    return [(torch.rand(size, 1, 28, 28), torch.zeros(size)) for _ in range(count)]


def test_course_train_one_epoch_stops_at_the_first_negative_batch(monkeypatch):
    """A sign error in the loss (here: vae_loss negated) stops training at batch 1, with the cause."""
    monkeypatch.setattr(training, "vae_loss", lambda *args, **kwargs: -vae_loss(*args, **kwargs))
    model = ConvVAE(latent_dim=2)
    with pytest.raises(checking.TrainingStopped) as error:
        training.train_one_epoch(model, _batches(), torch.optim.Adam(model.parameters(), lr=1e-3))
    message = str(error.value)
    assert message.startswith("Training stopped at batch 1 of train_one_epoch: ")
    assert "never negative" in message and "reconstruction_loss or kl_divergence" in message


def test_course_train_one_epoch_stops_when_logvar_explodes():
    """logvar near 100: exp(logvar) overflows float32, the KL term is infinite, training stops at batch 1."""
    model = ConvVAE(latent_dim=2)
    with torch.no_grad():
        model.encoder.fc_logvar.bias.fill_(100.0)
    with pytest.raises(checking.TrainingStopped, match=r"^Training stopped at batch 1 of train_one_epoch: .*got (nan|inf)"):
        training.train_one_epoch(model, _batches(), torch.optim.Adam(model.parameters(), lr=1e-3))


def test_course_train_one_epoch_still_trains_a_sound_model():
    model = ConvVAE(latent_dim=2)
    value = training.train_one_epoch(model, _batches(), torch.optim.Adam(model.parameters(), lr=1e-3))
    assert isinstance(value, float) and 100 < value < 1000


@pytest.mark.parametrize("returned, shown", [(-42.0, "got -42"), (float("nan"), "got nan")])
def test_05_training_cell_stops_on_what_the_students_function_returns(returned, shown, tmp_path):
    """The training cell of 05 (run from the master, quick mode) stops after epoch 1 when the student's
    train_one_epoch returns a negative or NaN loss, before anything is plotted or saved."""
    nb = masters.read_master("05_training")
    cells = [cell for cell in nb.cells if "train_one_epoch(model, progress, optimizer)" in cell.source]
    assert len(cells) == 1
    from tqdm.auto import tqdm

    namespace = {
        "QUICK": True, "num_epochs": 1, "latent_dim": 2, "device": torch.device("cpu"), "torch": torch,
        "sys": sys, "time": time, "tqdm": tqdm, "ConvVAE": ConvVAE, "seed_everything": lambda: None,
        "checkpoint_path": lambda *args, **kwargs: tmp_path / "none.pt", "train_loader": _batches(1),
        "train_one_epoch": lambda model, loader, optimizer: returned,
        "stop_on_bad_loss": checking.stop_on_bad_loss,
    }
    with pytest.raises(checking.TrainingStopped) as error:
        exec(cells[0].source, namespace)
    assert str(error.value).startswith("Training stopped at epoch 1: ") and shown in str(error.value)
