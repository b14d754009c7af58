"""The search service: bundles, the FastAPI app and the explorer page.

Needs ``pip install 'hashlearn[web]'`` for serving (building a bundle does not).

``import hashlearn`` never imports this package's web dependencies: FastAPI and uvicorn
are imported only when an app is created or served.
"""
