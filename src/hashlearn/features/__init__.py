"""Features: descriptors computed from raw data (GIST for images, CNN embeddings).

The CNN features (:mod:`hashlearn.features.cnn`) need the ``deep`` extra (torch and
torchvision), imported only when they are used.
"""

from hashlearn.features.cnn import CNN_MODELS, CNNFeatureExtractor, extract_features
from hashlearn.features.gist import GIST, GIST_VERSION, gabor_filters, gist_features

__all__ = [
    "CNN_MODELS",
    "GIST",
    "GIST_VERSION",
    "CNNFeatureExtractor",
    "extract_features",
    "gabor_filters",
    "gist_features",
]
