"""A five-minute tour of hashlearn on scikit-learn's digits (runs offline in seconds)."""

import tempfile
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import hashlearn
from hashlearn import codes
from hashlearn.evaluation import (
    mean_average_precision,
    precision_within_radius,
    tutorial_precision_at_k,
)
from hashlearn.hashers import GRH, LSH
from hashlearn.index import CosineReranker, HashTableIndex, LinearScanIndex

X, y = load_digits(return_X_y=True)
X = X / np.linalg.norm(X, axis=1, keepdims=True)
X_db, X_q, y_db, y_q = train_test_split(X, y, test_size=100, random_state=0)
X_db -= (mean := X_db.mean(axis=0))
X_q -= mean

# 1. Learn hash functions: scikit-learn estimators with fit / encode / transform.
lsh = LSH(n_bits=16, random_state=0).fit(X_db)
grh = GRH(n_bits=16, random_state=0).fit(X_db[:500], y_db[:500])  # supervised: 500 labels
db_codes, q_codes = grh.encode(X_db), grh.encode(X_q)
print(
    "packed codes:", db_codes.shape, db_codes.dtype, "first code bits:", grh.transform(X_q[:1])[0]
)
print("bit balance:", np.round(codes.bit_balance(db_codes, 16), 2))

# 2. Search: exact Hamming ranking, or a hash table probed within a Hamming radius.
scan = LinearScanIndex(16)
scan.add(db_codes)
distances, ids = scan.search(q_codes[:2], k=5)
print("5 nearest codes of 2 queries:\n", distances, "\n", ids)
table = HashTableIndex(16)
table.add(db_codes)
lims, dist, found = table.range_search(q_codes, radius=2)
print(f"radius 2: {np.diff(lims).mean():.0f} candidates per query on average")
_, top10 = CosineReranker(X_db).rerank(X_q, lims, found, k=10)  # exact cosine re-ranking
print("best 10 by cosine among the first query's candidates:", top10[0])
p10 = tutorial_precision_at_k(top10, y_q, y_db, k=10)
print(f"P@10 after re-ranking: {p10.empty_as_zero:.3f}")

# 3. Evaluate: metrics exactly as docs/metrics.md defines them.
for name, hasher in (("LSH", lsh), ("GRH", grh)):
    m = mean_average_precision(hasher.encode(X_q), hasher.encode(X_db), y_q, y_db)
    p = precision_within_radius(hasher.encode(X_q), hasher.encode(X_db), y_q, y_db, radius=2)
    print(f"{name}: mAP@all = {m.value:.3f}, P@r2 = {p.value:.3f} ({p.empty_fraction:.0%} empty)")

# 4. Save and load without pickle.
path = grh.save(Path(tempfile.mkdtemp()) / "grh-digits.hlz")
assert np.array_equal(hashlearn.load(path).encode(X_q), q_codes)
print("saved and reloaded:", path)
