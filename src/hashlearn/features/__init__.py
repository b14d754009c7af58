"""Features: descriptors computed from raw data (GIST for images)."""

from hashlearn.features.gist import GIST, GIST_VERSION, gabor_filters, gist_features

__all__ = ["GIST", "GIST_VERSION", "gabor_filters", "gist_features"]
