"""Hashers: scikit-learn estimators that learn ``X -> binary codes``."""

from hashlearn.hashers._base import BaseHasher, LinearHasherMixin

__all__ = ["BaseHasher", "LinearHasherMixin"]
