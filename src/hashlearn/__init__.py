"""hashlearn: learning to hash.

Turn vectors into short binary codes whose Hamming distances preserve similarity,
and search those codes fast. The package is laid out along the data flow
``features -> hasher -> codes -> index -> results -> metrics -> report``:

* :mod:`hashlearn.codes`: the code format (packed uint8, bit j least-significant first);
* :mod:`hashlearn.hashers`: scikit-learn estimators that learn hash functions;
* :mod:`hashlearn.index`: structures that store codes and answer queries;
* :mod:`hashlearn.evaluation`: retrieval metrics, exactly defined;
* :mod:`hashlearn.datasets` and :mod:`hashlearn.features`: real data and GIST features;
* :mod:`hashlearn.experiments` and :mod:`hashlearn.report`: protocols, records, plots.

``import hashlearn`` never imports optional heavy dependencies (torch, faiss, dask).
"""

from hashlearn._version import __version__
from hashlearn.persistence import FileFormatError, load, save

__all__ = ["FileFormatError", "__version__", "load", "save"]
