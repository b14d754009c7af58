"""GRH training time on CIFAR-10 GIST-512: 2,000 labelled points, 16 to 64 bits.

Run: python benchmarks/bench_grh_training.py [--data-dir DIR] [--repeat 3]

The training set is 200 images per class drawn from the GIST features (L2-normalised,
centred on the training mean); times are the median of ``--repeat`` fits with the default
``n_jobs=None`` (bits learned one after another; ``n_jobs=2`` roughly halves the time on 2
cores because liblinear releases the GIL).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from _common import machine, now, write_json
from hashlearn.datasets import load_cifar10_gist, load_digits_dataset
from hashlearn.experiments import preprocess_tutorial
from hashlearn.hashers import GRH


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--dataset", choices=["cifar10-gist", "digits"], default="cifar10-gist")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--bits", default="16,32,48,64")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    data = load_digits_dataset() if args.dataset == "digits" else load_cifar10_gist(args.data_dir)
    rng = np.random.default_rng(0)
    per_class = [np.flatnonzero(data.y == c) for c in range(10)]
    train = np.concatenate([rng.choice(m, min(200, m.size), replace=False) for m in per_class])
    X, _ = preprocess_tutorial(data.X, train)
    X_train, y_train = X[train], data.y[train]
    facts = machine()
    print(f"date: {now()}; machine: {facts['cpu']}, {facts['cpus']} CPUs, BLAS {facts['blas']}")
    print("| bits | alpha | n_iter | median fit s | min | max |\n|---|---|---|---|---|---|")
    rows = []
    for n_bits in (int(b) for b in args.bits.split(",")):
        for alpha, n_iter in ((1.0, 1), (0.8, 2)):
            times = []
            for seed in range(args.repeat):
                start = time.perf_counter()
                GRH(n_bits, alpha=alpha, n_iter=n_iter, random_state=seed).fit(X_train, y_train)
                times.append(time.perf_counter() - start)
            rows.append({"n_bits": n_bits, "alpha": alpha, "n_iter": n_iter, "seconds": times})
            print(
                f"| {n_bits} | {alpha} | {n_iter} | {statistics.median(times):.2f} | "
                f"{min(times):.2f} | {max(times):.2f} |"
            )
    if args.json:
        write_json(
            args.json,
            {
                "benchmark": "grh_training",
                "date": now(),
                "machine": facts,
                "n_train": len(train),
                "rows": rows,
            },
        )


if __name__ == "__main__":
    main()
