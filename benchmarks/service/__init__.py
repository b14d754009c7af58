"""The load benchmark of the search service: ``hashlearn serve`` under concurrent clients.

Run it from the repository root::

    python -m benchmarks service                          # CIFAR-10 GIST ITQ 32 bits, 10 s a row
    python -m benchmarks service --quick --out /tmp/bsv   # digits, 1 s a row, 1 and 2 clients
    python -m benchmarks.service --help                   # the same command

It starts ``hashlearn serve`` on 127.0.0.1 in a subprocess (uvicorn, one worker), sends
k-NN requests from 1, 8 and 32 concurrent clients for a fixed time each, one query per
request and then batches of 100, and measures requests/s, queries/s, latency and errors.
Beside each row it times the same queries on the same bundle in the benchmark process,
through :class:`~hashlearn.serve.engine.BundleService` (the service without HTTP) and
through the bare index: the ratio of the two throughputs is what the HTTP layer costs.
One role per module:

* :mod:`~benchmarks.service.setup`: the bundle (built with ``hashlearn build`` into a
  cache folder, or given) and the server subprocess;
* :mod:`~benchmarks.service.workload`: the queries (one seeded set of stored ids), the
  request bodies, and the in-process timings;
* :mod:`~benchmarks.service.client`: the load clients (threads, one keep-alive
  connection each) and what one row measures;
* :mod:`~benchmarks.service.report`: the Markdown table and the acceptance check;
* :mod:`~benchmarks.service.uvicorn_app`: a server with a chosen uvicorn HTTP parser and
  event loop (``--http``, ``--loop``), for comparing them;
* :mod:`~benchmarks.service.__main__`: the command line.
"""
