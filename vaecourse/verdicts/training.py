"""The grader-side verdicts of 05_training (vaecourse/verdicts/core.py says how a verdict runs).

Both exercises are loops over a model, so the grader sends a model: the state of a seeded
TrainingVAE (vaecourse/verdicts/stand_ins.py: a small MLP VAE with the ConvVAE's interface, whose
source the kernel gets as it is; not an exercise's answer, not secret) drawn here (bright outputs,
codes far from the prior and a decoder that depends strongly on z, so that the loss depends
strongly on the image, on beta and on the draw of z), uneven batches of grey images whose last batch is dark (so that a mean of the batch means is
far from the mean per image), and a seed for the sampled z.
The probe runs the student's loop on a fresh copy of that model on the CPU with the seed set, and
sends back what it returned, the weights it left, and the mode and grad setting seen at each
forward pass. The judges replay the same loop here with the same TrainingVAE and the course's
vae_loss, the same draws of z and plain SGD (so that any scale error shows), and name the likely cause of a
difference by replaying the usual mistakes too. A short extra run on the notebook's device, the
batches on the CPU, checks that the loop moves each batch to the model.
"""
import contextlib

import numpy as np
import torch

from vaecourse.checking import fail
from vaecourse.reference.elbo import kl_divergence, reconstruction_loss, vae_loss
from vaecourse.verdicts.core import Part, PartFailed, Verdict, close, describe_meta, likely_cause, number
from vaecourse.verdicts.stand_ins import TRAINING, TRAINING_STATE as STATE, TrainingVAE, flat_weights

LR = 1e-4  # plain SGD in the probe and the replay: one step per batch moves the weights by lr * gradient

HELPERS = TRAINING  # the grader's model and the helpers that build it, as vaecourse/verdicts/stand_ins.py has them


def _distinct_model(rng) -> TrainingVAE:
    """A grader model with weights from rng whose losses depend strongly on the image, on beta and on z."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(rng.integers(2 ** 31)))
        model = TrainingVAE()
    with torch.no_grad():
        model.decoder.pixel_logits.bias.fill_(float(rng.uniform(1.8, 2.2)))  # bright outputs: a mean of 0.7 to 0.9
        model.encoder.to_mu.bias.fill_(float(rng.uniform(1.3, 1.7)))  # codes far from the prior: a large KL
        model.encoder.to_logvar.bias.fill_(float(rng.uniform(1.3, 1.7)))
        # The image must depend strongly on z: with the default scale, decoding z = mu came within EVAL_RTOL
        # of sampling z in about 1 draw in 200, and evaluating at z = mu kept its points.
        # Five times the weights from z: at least 5% apart on 200 draws (tests/test_verdicts_training.py).
        model.decoder.pixel_logits.weight.mul_(5.0)
    return model


def loop_inputs(rng, first: tuple[int, int], last: tuple[int, int]) -> dict:
    """A model's weights, uneven batches of grey images (the last one small and dark) and a seed."""
    size = int(rng.integers(*first))
    sizes = np.array([size, size, int(rng.integers(*last))])
    x = rng.random((int(sizes.sum()), 1, 28, 28)).astype(np.float32)
    x[2 * size:] *= 0.05  # a smaller, dark last batch: a plain mean of the batch means would be far off
    inputs = {"x": x, "sizes": sizes, "seed": int(rng.integers(2 ** 31))}
    for name, value in _distinct_model(rng).state_dict().items():
        inputs[STATE + name] = value.numpy().copy()
    return inputs


# ---------------------------------------------------------------- the replay in the grader

@contextlib.contextmanager
def _replaying(seed: int):
    """The grader's torch, seeded as the probe was, its random state and threads restored after."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model: one thread is fastest, and leaves the other cores alone
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            yield
    finally:
        torch.set_num_threads(threads)


def _replay_model(case) -> TrainingVAE:
    model = TrainingVAE()
    model.load_state_dict({k[len(STATE):]: v for k, v in case.inputs.items() if k.startswith(STATE)})
    return model


def _batches(case) -> list[torch.Tensor]:
    x, bounds = case.inputs["x"], np.cumsum([0] + case.inputs["sizes"].tolist())
    return [x[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def _mean_per_image(per_batch: torch.Tensor, sizes: torch.Tensor) -> float:
    """The mean over all images of per-batch mean losses: each batch weighted by its number of images."""
    return float((per_batch * sizes).sum() / sizes.sum())


def _cached(case, key, compute):
    """compute() once per judged case: the parts of one verdict share the grader's replays."""
    store = case.__dict__.setdefault("_replays", {})
    if key not in store:
        store[key] = compute()
    return store[key]


def _not_a_loss(case, name: str, value) -> None:
    """The loop returned no number (a one-element tensor is one: its type is judged elsewhere)."""
    fail(case.exercise, "a number", describe_meta(case.meta(name)), "return the mean negative ELBO per image as a float")


def _expect_float(case, name: str, cause: str) -> None:
    meta = case.meta(name)
    if meta.get("kind") != "number" or meta.get("type") not in ("float", "float64"):
        fail(case.exercise, "a Python float", describe_meta(meta), cause)


def _modes(case, name: str) -> torch.Tensor:
    """(gradients on?, train mode?) at each forward pass of the encoder, shape (passes, 2)."""
    seen = case.tensor(name, "the grader's record of the forward passes")
    if seen.dim() != 2 or seen.shape[1] != 2:
        raise PartFailed(f"{case.exercise}: the record of the forward passes came back malformed")
    if seen.shape[0] == 0:
        fail(case.exercise, "a forward pass per batch", "none", "compute x_hat, mu, logvar = model(x) for each batch")
    return seen.bool()


def _weight_difference(case, got: torch.Tensor, expected: torch.Tensor) -> str:
    """Which parameter differs most, for a message."""
    names, sizes = zip(*[(k[len(STATE):], v.numel()) for k, v in case.inputs.items() if k.startswith(STATE)])
    diffs = [d.abs().max().item() for d in torch.split((got.double() - expected.double()), list(sizes))]
    worst = int(np.nanargmax(np.nan_to_num(diffs, nan=np.inf)))
    return f"weights {names[worst]} off by up to {diffs[worst]:.3g}"


# ---------------------------------------------------------------- 5.1 train_one_epoch

TRAIN_BETAS = (1.0, 3.0)
TRAIN_RTOL = 1e-3  # how close train_one_epoch's returned value must come to the replay's


def train_inputs(rng):
    return loop_inputs(rng, first=(6, 10), last=(3, 6))


TRAIN_PROBE = f"""
with course_versions(device=torch.device("cpu")):  # the replay runs on the CPU: the same z as the grader's
    for beta in {TRAIN_BETAS!r}:
        b = int(beta)
        model = training_model(inputs, "eval")  # as evaluate() leaves it
        seen = watch_forward_passes(model)
        with attempt(f"loss_{{b}}", f"weights_{{b}}", f"modes_{{b}}", f"training_{{b}}"):
            torch.manual_seed(inputs["seed"])
            loss = train_one_epoch(model, training_batches(inputs), torch.optim.SGD(model.parameters(), lr={LR!r}),
                                   beta=beta)
            emit(f"loss_{{b}}", loss)
            emit(f"weights_{{b}}", flat_weights(model))
            emit(f"modes_{{b}}", torch.tensor(seen, dtype=torch.bool).reshape(-1, 2))
            emit(f"training_{{b}}", model.training)
model = training_model(inputs, "eval").to(device)  # where the notebook runs; the batches stay on the CPU
with attempt("device_loss", "device_moved", "device_training"):
    before = flat_weights(model)
    emit("device_loss", train_one_epoch(model, training_batches(inputs), torch.optim.SGD(model.parameters(), lr={LR!r})))
    emit("device_moved", bool((flat_weights(model) != before).any()))
    emit("device_training", model.training)
"""


UPDATES = {  # how a loop may update the weights: the course's, and two usual mistakes the value part forgives
    "sgd": "one SGD step per batch on fresh gradients",
    "accumulated": "gradients never cleared",
    "frozen": "no update at all",
}


def _train_replay(case, beta: float, update: str = "sgd"):
    """(weights after, per-batch losses) of the course's loop on the grader's model, z drawn as in the probe."""
    def compute():
        model = _replay_model(case)
        losses = []
        with _replaying(int(case.inputs["seed"])):
            model.train()
            for x in _batches(case):
                x_hat, mu, logvar = model(x)
                loss = vae_loss(x_hat, x, mu, logvar, beta=beta)
                losses.append(loss.item())
                if update == "frozen":
                    continue
                if update == "sgd":
                    model.zero_grad(set_to_none=True)
                loss.backward()
                with torch.no_grad():  # torch.optim.SGD's step, written out (torch.optim imports dynamo: seconds)
                    for p in model.parameters():
                        p.add_(p.grad, alpha=-LR)
        return flat_weights(model), losses
    return _cached(case, ("train", beta, update), compute)


def _same_weights(got: torch.Tensor, expected: torch.Tensor) -> bool:
    return got.shape == expected.shape and torch.allclose(got.float(), expected, atol=1e-5, rtol=1e-4)


def train_float_and_mode(case):
    cause = "accumulate loss.item() (a number), not the loss tensor, and return total / count"
    for beta in TRAIN_BETAS:
        _expect_float(case, f"loss_{int(beta)}", cause)
        seen = _modes(case, f"modes_{int(beta)}")
        if not seen[:, 1].all() or case[f"training_{int(beta)}"] is not True:
            fail(case.exercise, "the model in training mode", "the model still in eval mode (it came so from evaluate)",
                 "call model.train() at the start of the epoch")
    _expect_float(case, "device_loss", cause)
    if case["device_training"] is not True:
        fail(case.exercise, "the model in training mode", "eval mode", "call model.train() at the start of the epoch")


def train_weights(case):
    for beta in TRAIN_BETAS:
        got = case.tensor(f"weights_{int(beta)}", "the weights of the model")
        expected, _ = _train_replay(case, beta)
        if got.shape != expected.shape:
            raise PartFailed(f"{case.exercise}: the weights came back with the wrong shape")
        if _same_weights(got, expected):
            continue
        where = f"beta={beta}: after one epoch of plain SGD (lr={LR:g}) over {len(_batches(case))} batches"
        if torch.equal(got.float(), _train_replay(case, beta, "frozen")[0]):
            fail(case.exercise, f"weights changed by training ({where})", "the weights unchanged",
                 "call optimizer.step() once per batch, after loss.backward(), and optimizer.zero_grad() before "
                 "loss.backward(), not between backward and step")
        if _same_weights(got, _train_replay(case, beta, "accumulated")[0]):
            fail(case.exercise, f"fresh gradients at every step ({where})", "gradients added to those of the previous "
                 "batch", "gradients accumulate across batches unless cleared: call optimizer.zero_grad() before "
                 "loss.backward() in every step")
        if beta != 1.0 and _same_weights(got, _train_replay(case, 1.0)[0]):
            fail(case.exercise, f"the weights of training with beta={beta} ({where})", "those of training with beta=1",
                 "pass beta on: vae_loss(x_hat, x, mu, logvar, beta=beta)")
        fail(case.exercise, f"the weights of one SGD step per batch on vae_loss(..., beta=beta) ({where})",
             _weight_difference(case, got, expected),
             "per batch: x_hat, mu, logvar = model(x); loss = vae_loss(x_hat, x, mu, logvar, beta=beta); "
             "optimizer.zero_grad(); loss.backward(); optimizer.step() - and nothing else that changes the weights")
    if case["device_moved"] is not True:
        fail(case.exercise, "weights changed by training on the notebook's device", "the weights unchanged",
             "call loss.backward() then optimizer.step() for every batch")


def _update_of(case, beta: float) -> str:
    """Which way of updating the weights the student's loop took (the weights part judges it): the value part
    then expects the losses of that replay, so that a wrong update does not also cost the reported mean."""
    try:
        got = case.tensor(f"weights_{int(beta)}")
    except PartFailed:
        return "sgd"
    for update in UPDATES:
        if _same_weights(got, _train_replay(case, beta, update)[0]):
            return update
    return "sgd"


def train_values(case):
    sizes = case.inputs["sizes"].double()
    for beta in TRAIN_BETAS:
        got = number(case, f"loss_{int(beta)}", _not_a_loss)
        update = _update_of(case, beta)
        losses = torch.tensor(_train_replay(case, beta, update)[1], dtype=torch.float64)
        expected = _mean_per_image(losses, sizes)
        if close(got, expected, rtol=TRAIN_RTOL):
            continue
        wanted = f"{expected:.4f} nats per image (beta={beta}, batches of {sizes.long().tolist()})"
        likely = {
            "return the mean per image: divide the summed loss by the number of images, do not return the sum "
            "over the epoch": float((losses * sizes).sum()),
            "a mean of the batch means: weight each batch by its size (loss.item() * x.shape[0]), then divide by "
            "the number of images": float(losses.mean()),
        }
        if beta != 1.0:
            ones = torch.tensor(_train_replay(case, 1.0, update)[1], dtype=torch.float64)
            likely[f"beta={beta} gave the value of beta=1: pass beta on, vae_loss(x_hat, x, mu, logvar, beta=beta)"] = \
                _mean_per_image(ones, sizes)
        cause = likely_cause(likely, lambda value: close(got, value, rtol=TRAIN_RTOL))
        if cause is not None:
            fail(case.exercise, wanted, f"{got:.4f}", cause)
        fail(case.exercise, wanted, f"{got:.4f}", "the sum over batches of loss.item() * batch size, divided by the "
             "number of images (weight each batch by its size), with vae_loss(..., beta=beta); each batch's loss is "
             "the one computed before its own optimizer step")


TRAIN = Verdict(
    "test_train_one_epoch", "Exercise 5.1 train_one_epoch", train_inputs, TRAIN_PROBE, (
        Part("a Python float, the model in training mode, also on the notebook's device", 0.75, train_float_and_mode),
        Part("one SGD step per batch on vae_loss(beta), gradients cleared: the weights of the grader's replay, "
             "beta = 1 and 3", 1.25, train_weights),
        Part("the mean negative ELBO per image over uneven batches, beta = 1 and 3", 1.0, train_values),
    ), helpers=HELPERS)


# ---------------------------------------------------------------- 5.2 evaluate

EVAL_BETAS = (1.0, 2.0)
EVAL_RTOL = 1e-4  # how close evaluate's returned value must come to the replay's


def evaluate_inputs(rng):
    return loop_inputs(rng, first=(6, 10), last=(2, 5))


EVALUATE_PROBE = f"""
with course_versions(device=torch.device("cpu")):  # the replay runs on the CPU: the same z as the grader's
    model = training_model(inputs, "train")  # as train_one_epoch leaves it
    seen = watch_forward_passes(model)
    with attempt("loss_1", "loss_2", "weights", "modes", "training"):
        for beta in {EVAL_BETAS!r}:
            torch.manual_seed(inputs["seed"])
            emit(f"loss_{{int(beta)}}", evaluate(model, training_batches(inputs), beta=beta))
        emit("weights", flat_weights(model))
        emit("modes", torch.tensor(seen, dtype=torch.bool).reshape(-1, 2))
        emit("training", model.training)
model = training_model(inputs, "train").to(device)  # where the notebook runs; the batches stay on the CPU
with attempt("device_loss", "device_kept"):
    before = flat_weights(model)
    emit("device_loss", evaluate(model, training_batches(inputs)))
    emit("device_kept", bool((flat_weights(model) == before).all()))
"""


def _evaluate_replay(case, beta: float):
    """Per-batch mean losses: z sampled as model(x) samples it, and with z = mu, from the probe's seed."""
    def compute():
        model = _replay_model(case).eval()
        sampled, at_mean = [], []
        with _replaying(int(case.inputs["seed"])), torch.no_grad():
            for x in _batches(case):
                x_hat, mu, logvar = model(x)
                sampled.append(vae_loss(x_hat, x, mu, logvar, beta=beta).item())
                mu, logvar = model.encoder(x)
                at_mean.append((reconstruction_loss(model.decoder(mu), x) + beta * kl_divergence(mu, logvar)).mean().item())
        return torch.tensor(sampled, dtype=torch.float64), torch.tensor(at_mean, dtype=torch.float64)
    return _cached(case, ("evaluate", beta), compute)


def evaluate_float_and_weights(case):
    cause = "accumulate loss.item() and return total / count"
    for name in ("loss_1", "loss_2", "device_loss"):
        _expect_float(case, name, cause)
    got = case.tensor("weights", "the weights of the model").float()
    if not torch.equal(got, flat_weights(_replay_model(case))) or case["device_kept"] is not True:
        fail(case.exercise, "the weights untouched", "changed weights",
             "evaluate must not train: no optimizer, no backward(), do not call train_one_epoch")


def evaluate_modes(case):
    seen = _modes(case, "modes")
    if seen[:, 0].any():
        fail(case.exercise, "gradients off during evaluation", "gradients on", "wrap the loop in `with torch.no_grad():`")
    if seen[:, 1].any() or case["training"] is not False:
        fail(case.exercise, "the model in eval mode", "train mode (it came so from train_one_epoch)",
             "call model.eval() before the loop")


def evaluate_values(case):
    sizes = case.inputs["sizes"].double()
    for beta in EVAL_BETAS:
        got = number(case, f"loss_{int(beta)}", _not_a_loss)
        sampled, at_mean = _evaluate_replay(case, beta)
        expected = _mean_per_image(sampled, sizes)
        if close(got, expected, rtol=EVAL_RTOL):
            continue
        wanted = f"{expected:.4f} nats per image (beta={beta}, batches of {sizes.long().tolist()}, z sampled)"
        likely = {
            "sample z as in training (x_hat, mu, logvar = model(x)); do not decode z = mu":
                _mean_per_image(at_mean, sizes),
            "a mean of the batch means: weight each batch's mean by its number of images, do not average the batch "
            "means or sum them": float(sampled.mean()),
            "the sum over images: divide by the number of images (weight each batch's mean by its number of images, "
            "do not average the batch means or sum them)": float((sampled * sizes).sum()),
        }
        if beta != 1.0:
            ones, _ = _evaluate_replay(case, 1.0)
            likely[f"beta={beta} gave the value of beta=1: pass beta on, vae_loss(x_hat, x, mu, logvar, beta=beta)"] = \
                _mean_per_image(ones, sizes)
        cause = likely_cause(likely, lambda value: close(got, value, rtol=EVAL_RTOL))
        if cause is not None:
            fail(case.exercise, wanted, f"{got:.4f}", cause)
        fail(case.exercise, wanted, f"{got:.4f}", "the mean per image over all batches, with z sampled by model(x) "
             "and vae_loss(..., beta=beta): weight each batch's mean by its number of images, do not average the "
             "batch means or sum them, and do not change the model")


EVALUATE = Verdict(
    "test_evaluate", "Exercise 5.2 evaluate", evaluate_inputs, EVALUATE_PROBE, (
        Part("a Python float, also on the notebook's device; the weights untouched", 0.75, evaluate_float_and_weights),
        Part("eval mode and gradients off at every forward pass, eval mode after", 0.75, evaluate_modes),
        Part("the mean negative ELBO per image over uneven batches, z sampled, beta = 1 and 2", 1.5, evaluate_values),
    ), helpers=HELPERS)

VERDICTS = (TRAIN, EVALUATE)
