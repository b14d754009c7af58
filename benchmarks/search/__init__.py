"""The search benchmark: every hashlearn index beside faiss's binary indexes, in one run.

Run it from the repository root::

    python -m benchmarks search --out results/bench-search      # the full grid (~20 min)
    python -m benchmarks search --quick --out /tmp/bs           # a tiny grid, in seconds
    python -m benchmarks.search --help                          # the same command

For each kind of data (``uniform``, ``clustered``), code length, database size ``N`` and
task (k-NN for each ``k``; range search for each radius), every *contender* answers the
same ``n_queries`` queries in one batch call, and every answer is checked against the
exact scan. One role per module:

* :mod:`~benchmarks.search.config`: what a run measures (:class:`SearchBenchmarkConfig`,
  ``QUICK_CONFIG`` for ``--quick``);
* :mod:`~benchmarks.search.data`: the codes (uniform; clustered from CIFAR-10 GIST-512 or
  a synthetic mixture);
* :mod:`~benchmarks.search.contenders`: the indexes, hashlearn's and faiss's, and how each
  is built and set;
* :mod:`~benchmarks.search.identity`: the checks that every contender returns the exact
  scan's results;
* :mod:`~benchmarks.search.run`: timing and the run loop, writing ``records.jsonl`` and
  ``run.json`` (read back with :func:`hashlearn.records.read_search_records`);
* :mod:`~benchmarks.search.report`: the pivot table, ``results.md`` and the plots;
* :mod:`~benchmarks.search.__main__`: the command line.

Nothing is imported here, so that the command can set ``OMP_WAIT_POLICY`` before any
OpenMP runtime loads (see :func:`benchmarks.search.run.passive_openmp`).
"""
