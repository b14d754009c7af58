"""Deep hashers' speed: training and encoding inputs per second, per backbone and device.

Trains DSH through the estimator (the product's own path: the one trainer, augmentation
on the device, validation each epoch) on ``--n`` synthetic CIFAR-10-sized images (uint8
32x32x3, ten classes) and, for the MLP, on ``--n`` 512-d vectors (GIST-sized), then
encodes them. Training speed is the median over epochs after the first of the trainer's
own ``images_per_second`` (training steps only; validation excluded); encoding speed is
``n / seconds`` of one ``encode`` call after a warm-up call.

    python benchmarks/bench_deep.py                       # CPU, every backbone
    python benchmarks/bench_deep.py --device cuda --n 50000 --epochs 3
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from _common import machine, now, write_json

BACKBONES = ("dsh-cnn", "fast-cnn", "mlp")


def synthetic(n: int, images: bool, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Ten classes whose mean colour (images) or mean vector differs."""
    y = rng.integers(0, 10, n)
    if images:
        X = rng.integers(0, 128, size=(n, 32, 32, 3), dtype=np.uint8)
        X += (y * 12).astype(np.uint8)[:, None, None, None]
        return X, y
    centres = rng.normal(size=(10, 512)).astype(np.float32)
    return centres[y] + rng.normal(size=(n, 512)).astype(np.float32), y


def measure(backbone: str, args: argparse.Namespace) -> dict[str, object]:
    import torch

    from hashlearn.hashers.deep import DSH

    torch.set_num_threads(args.threads)
    X, y = synthetic(args.n, backbone != "mlp", np.random.default_rng(0))
    hasher = DSH(
        n_bits=48,
        backbone=backbone,
        epochs=args.epochs,
        batch_size=args.batch_size,
        device=args.device,
        patience=None,
        random_state=0,
    )
    started = time.perf_counter()
    hasher.fit(X, y)
    fit_seconds = time.perf_counter() - started
    speeds = [row["images_per_second"] for row in hasher.training_curve_.epochs[1:]]
    hasher.encode(X[:256])  # warm-up
    started = time.perf_counter()
    hasher.encode(X)
    encode = args.n / (time.perf_counter() - started)
    return {
        "backbone": backbone,
        "device": hasher.training_curve_.device,
        "torch": torch.__version__,
        "threads": args.threads,
        "n": args.n,
        "epochs": args.epochs,
        "train_per_second": statistics.median(speeds) if speeds else None,
        "encode_per_second": encode,
        "fit_seconds": fit_seconds,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--backbones", nargs="+", default=list(BACKBONES))
    parser.add_argument("--json", default=None, help="write the results here")
    args = parser.parse_args(argv)
    rows = [measure(backbone, args) for backbone in args.backbones]
    print(f"{now()}  {machine()}")
    print("| backbone | device | training inputs/s | encoding inputs/s | fit s |")
    print("|---|---|---:|---:|---:|")
    for row in rows:
        train = row["train_per_second"]
        train_text = f"{train:,.0f}" if isinstance(train, float) else "-"
        print(
            f"| {row['backbone']} | {row['device']} | {train_text} | "
            f"{row['encode_per_second']:,.0f} | {row['fit_seconds']:.1f} |"
        )
    if args.json:
        write_json(args.json, {"date": now(), "machine": machine(), "results": rows})


if __name__ == "__main__":
    main()
