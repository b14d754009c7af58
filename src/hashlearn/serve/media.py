"""What shows an item and what turns an uploaded image into a query.

Thumbnails are PNG encodings of the bundle's stored images. An uploaded image becomes the
hasher's input the way the bundle's features were made (its ``featurizer``): ``"pixels"``
(the image resized to the stored shape and flattened, channels last, values 0-255) or
``"gist"`` (GIST-512 of the resized image, as ``cifar10-gist`` is computed).
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["FEATURIZERS", "ImageError", "featurize_image", "png_bytes"]

FEATURIZERS = ("pixels", "gist")
#: Largest uploaded image decoded (pixels): a bigger one is refused before decoding.
MAX_UPLOAD_PIXELS = 4096 * 4096


class ImageError(ValueError):
    """An uploaded file that is not a usable image (the message says why)."""


def png_bytes(image: np.ndarray) -> bytes:
    """PNG encoding of one uint8 image, ``(H, W)`` gray or ``(H, W, 3)`` RGB."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buffer, format="PNG")
    return buffer.getvalue()


def _decode(data: bytes, gray: bool) -> Any:
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise ImageError("the uploaded image is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > MAX_UPLOAD_PIXELS:
                raise ImageError(
                    f"the uploaded image has {width} x {height} pixels; at most "
                    f"{MAX_UPLOAD_PIXELS:,} are accepted"
                )
            image.load()
    except ImageError:
        raise
    except UnidentifiedImageError as exc:
        # Pillow's message names the in-memory file: a Python repr with an address
        raise ImageError("the upload is not a readable image (no format Pillow knows)") from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise ImageError(f"the upload is not a readable image ({exc})") from exc
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise ImageError(f"the uploaded image is too large to decode ({exc})") from exc
    return image.convert("L" if gray else "RGB")


def featurize_image(data: bytes, featurizer: Mapping[str, Any]) -> np.ndarray:
    """The hasher's input for one uploaded image: float32 of shape ``(1, n_features)``.

    Parameters
    ----------
    data : bytes
        An encoded image (PNG, JPEG, ... anything Pillow reads).
    featurizer : mapping
        ``{"kind": "pixels" | "gist", "image_shape": [H, W] or [H, W, 3]}``, and for
        ``"pixels"`` an optional ``"scale"`` the 0-255 values are multiplied by.

    Raises
    ------
    ImageError
        The bytes are not an image, or one too large to decode.
    ValueError
        An unknown featurizer.
    """
    kind = featurizer.get("kind")
    shape = tuple(int(size) for size in featurizer.get("image_shape", ()))
    if kind not in FEATURIZERS or len(shape) not in (2, 3):
        raise ValueError(f"unknown featurizer {dict(featurizer)!r}")
    gray = len(shape) == 2
    image = _decode(data, gray).resize((shape[1], shape[0]))
    pixels = np.asarray(image, dtype=np.uint8).reshape((1, *shape))
    if kind == "pixels":
        scale = float(featurizer.get("scale", 1.0))
        return pixels.reshape(1, -1).astype(np.float32) * np.float32(scale)
    from hashlearn.features.gist import gist_features

    return np.asarray(gist_features(pixels), dtype=np.float32)
