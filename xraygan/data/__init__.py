"""The data layer: sources (folder, Kaggle, MedMNIST, phantom), the decoded-tensor cache, patient splits."""

from xraygan.data.imageset import ImageSet
from xraygan.data.loading import (
    NoDataError,
    Splits,
    describe,
    load_folder,
    load_medmnist,
    load_splits,
    resolve_source,
)

__all__ = [
    "ImageSet",
    "NoDataError",
    "Splits",
    "describe",
    "load_folder",
    "load_medmnist",
    "load_splits",
    "resolve_source",
]
