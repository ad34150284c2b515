"""Train the same ConvVAE on the same data two ways and compare: the classic loader and the course's fast path.

    python benchmarks/train_speed.py                  # 1 epoch each, on DATA_DIR (see vaecourse.runtime)
    python benchmarks/train_speed.py --epochs 10      # the test negative ELBO after 10 epochs, both ways
    python benchmarks/train_speed.py --device cuda    # on a GPU, where the difference is large

The two runs differ only in how batches reach the model:
  classic  torchvision MNIST with ToTensor (a PIL image per item), DataLoader(batch_size, shuffle=True)
  fast     the whole split decoded once into one tensor on the device (vaecourse.data.mnist_tensors),
           batches cut by index from a shuffled permutation (vaecourse.data.TensorBatches)
Both start from the same seeded weights and use the course's reference train_one_epoch and evaluate
(exported from solutions/05_training.ipynb). Their epochs alternate (classic 1, fast 1, classic 2, ...)
so that other work on a shared machine slows both alike. Images per second count the whole training epoch
(feeding + forward + backward + update); the test negative ELBO is measured the same way for
both (z sampled, as the paper reports it), on the full test split.

This is a benchmark, not a test: it prints figures and asserts nothing.
"""
import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a clone without installing

from vaecourse.data import TensorBatches, is_offline_subset, load_mnist, mnist_tensors  # noqa: E402
from vaecourse.reference.decoder import ConvVAE  # noqa: E402
from vaecourse.reference.training import evaluate, train_one_epoch  # noqa: E402
from vaecourse.runtime import DATA_DIR, SEED, pick_device  # noqa: E402


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def classic_loader(args, device):
    dataset = load_mnist(train=True, root=args.data)
    if args.limit:
        dataset = torch.utils.data.Subset(dataset, range(min(args.limit, len(dataset))))
    return torch.utils.data.DataLoader(dataset, batch_size=args.batch_size, shuffle=True,
                                       num_workers=args.num_workers, pin_memory=device.type == "cuda")


def fast_loader(args, device):
    x, y = mnist_tensors(train=True, root=args.data, limit=args.limit, device=device)
    return TensorBatches(x, y, batch_size=args.batch_size, shuffle=True, seed=SEED)


def run(ways: list[str], args, device, test_loader) -> list[dict]:
    """Train one model per way, interleaving their epochs so that a busy machine slows both alike."""
    runs = []
    for way in ways:
        torch.manual_seed(SEED)  # the same initial weights and the same random draws for both ways
        model = ConvVAE(latent_dim=args.latent_dim).to(device)
        start = time.perf_counter()
        loader = classic_loader(args, device) if way == "classic" else fast_loader(args, device)
        runs.append({"way": way, "model": model, "loader": loader,
                     "optimizer": torch.optim.Adam(model.parameters(), lr=args.lr),
                     "setup_s": time.perf_counter() - start, "train_s": 0.0, "images": 0, "train_losses": [],
                     "generator_state": torch.get_rng_state()})
    for epoch in range(1, args.epochs + 1):
        for run_ in runs:
            torch.set_rng_state(run_["generator_state"])  # each way continues its own random stream
            synchronize(device)
            start = time.perf_counter()
            run_["train_losses"].append(train_one_epoch(run_["model"], run_["loader"], run_["optimizer"]))
            synchronize(device)
            seconds = time.perf_counter() - start
            run_["generator_state"] = torch.get_rng_state()
            run_["train_s"] += seconds
            run_["images"] += len(run_["loader"].dataset) if run_["way"] == "classic" else run_["loader"].x.shape[0]
            print(f"  {run_['way']:7s} epoch {epoch:2d}: train loss {run_['train_losses'][-1]:8.2f} nats/image, "
                  f"{seconds:7.1f} s", flush=True)
    results = []
    for run_ in runs:
        torch.manual_seed(SEED + 1)
        test_nelbo = evaluate(run_["model"], test_loader)
        results.append({"way": run_["way"], "setup_s": run_["setup_s"], "train_s": run_["train_s"],
                        "images": run_["images"], "images_per_s": run_["images"] / run_["train_s"],
                        "train_losses": run_["train_losses"], "test_nelbo": test_nelbo})
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default: the course's choice)")
    parser.add_argument("--epochs", type=int, default=1, help="training epochs for each way (default 1)")
    parser.add_argument("--limit", type=int, default=None, help="use only the first LIMIT training images")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--latent-dim", type=int, default=2)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--num-workers", type=int, default=0, help="DataLoader workers of the classic way")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--data", type=Path, default=DATA_DIR, help=f"MNIST folder (default {DATA_DIR})")
    parser.add_argument("--only", choices=["classic", "fast"], default=None, help="run one way only")
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this file")
    args = parser.parse_args(argv)
    device = torch.device(args.device) if args.device else pick_device()
    if args.threads:
        torch.set_num_threads(args.threads)

    x_test, y_test = mnist_tensors(train=False, root=args.data, device=device)
    test_loader = TensorBatches(x_test, y_test, batch_size=512, shuffle=False)
    n_train = len(load_mnist(train=True, root=args.data))
    used = min(args.limit, n_train) if args.limit else n_train
    data_name = "offline set (5,000 real MNIST digits)" if is_offline_subset(args.data) else "MNIST"
    print(f"device {device} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else platform.processor() or platform.machine()}), "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs")
    print(f"data {args.data}: {data_name}, {used:,} training images, {len(x_test):,} test images")
    print(f"ConvVAE latent_dim {args.latent_dim}, Adam lr {args.lr:g}, batch {args.batch_size}, {args.epochs} epoch(s) each way\n")

    results = run([way for way in ("classic", "fast") if args.only in (None, way)], args, device, test_loader)
    print(f"\n{'way':8s} {'images/s':>10s} {'train s':>9s} {'test -ELBO':>11s}")
    for r in results:
        print(f"{r['way']:8s} {r['images_per_s']:10,.0f} {r['train_s']:9.1f} {r['test_nelbo']:11.2f}")
    if len(results) == 2:
        print(f"\nfast / classic speed ratio: {results[1]['images_per_s'] / results[0]['images_per_s']:.2f}x "
              f"on {device}")
        print(f"test negative ELBO after {args.epochs} epoch(s): classic {results[0]['test_nelbo']:.2f}, "
              f"fast {results[1]['test_nelbo']:.2f} nats per image (z sampled)")
    if args.json:
        args.json.write_text(json.dumps({"device": str(device), "torch": torch.__version__, "data": str(args.data),
                                         "offline": is_offline_subset(args.data), "train_images": used,
                                         "args": {k: str(v) for k, v in vars(args).items()}, "results": results},
                                        indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
