"""numba kernels of the indexes, one module per structure; the index classes orchestrate them.

* :mod:`~hashlearn.index._kernels.scan`: exhaustive k-NN and range scans (every index's
  exact fallback, and :class:`~hashlearn.index.LinearScanIndex`);
* :mod:`~hashlearn.index._kernels.table`: key-table build and bucket probing
  (:class:`~hashlearn.index.HashTableIndex`);
* :mod:`~hashlearn.index._kernels.mih`: substring keys and the multi-index hashing searches
  (:class:`~hashlearn.index.MultiIndexHashing`);
* :mod:`~hashlearn.index._kernels.counting`: the counting sort that builds those tables in
  bounded memory, chunk by chunk (:func:`~hashlearn.index.build_index_folder`);
* :mod:`~hashlearn.index._kernels.multi_table`: sub-code keys and the probe / verify pass of
  :class:`~hashlearn.index.MultiTableIndex`.

Every kernel is a pure function (arrays in, arrays out) whose module docstring states its
formula; the primitives they share (popcount, threads, serial and threaded compilations)
are in :mod:`hashlearn._numba`. Compilation happens on first use (then cached on disk by
numba), never at ``import hashlearn``.
"""
