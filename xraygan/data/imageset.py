"""The one item contract every source returns."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from xraygan.info import CLASSES


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """uint8 images (any device) to float in [-1, 1]: the GAN and classifier input range."""
    if images.dtype != torch.uint8:  # a float input would be scaled in place
        raise TypeError(f"to_unit expects uint8 images, got {images.dtype}")
    return images.float().div_(127.5).sub_(1.0)


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """Float images in [-1, 1] (clamped) back to uint8, on the same device."""
    return ((x.float().clamp(-1, 1) + 1) * 127.5).round().byte()


@dataclass
class ImageSet:
    """Images of one split: uint8 (N, 1, S, S), labels (0 NORMAL, 1 PNEUMONIA), patient ids, origins."""

    images: torch.Tensor  # (N, 1, S, S) uint8
    labels: torch.Tensor  # (N,) int64
    patients: list[str]
    sources: list[str]  # file path or "medmnist:train:17" etc.
    name: str = ""
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> count, from decoding

    def __post_init__(self) -> None:
        n = len(self.labels)
        if self.images.dtype != torch.uint8 or self.images.ndim != 4 or self.images.shape[1] != 1:
            raise ValueError(
                f"ImageSet images must be uint8 (N, 1, S, S), got {self.images.dtype} {tuple(self.images.shape)}"
            )
        if not (len(self.images) == n == len(self.patients) == len(self.sources)):
            raise ValueError("ImageSet fields have different lengths")

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict:
        return {
            "image": self.images[i],
            "label": int(self.labels[i]),
            "patient": self.patients[i],
            "source": self.sources[i],
        }

    @property
    def image_size(self) -> int:
        return int(self.images.shape[-1])

    def subset(self, idx: Sequence[int] | torch.Tensor, name: str | None = None) -> ImageSet:
        """The items at `idx`, in that order."""
        idx = torch.as_tensor(idx, dtype=torch.long)
        il = idx.tolist()
        return ImageSet(
            self.images[idx],
            self.labels[idx],
            [self.patients[i] for i in il],
            [self.sources[i] for i in il],
            name or self.name,
            dict(self.skipped),
        )

    def of_class(self, label: int) -> ImageSet:
        """Only the items of one class."""
        return self.subset(torch.nonzero(self.labels == label).flatten(), f"{self.name}/{CLASSES[label]}")

    def class_counts(self) -> dict[str, int]:
        return {c: int((self.labels == i).sum()) for i, c in enumerate(CLASSES)}

    def patient_counts(self) -> dict[str, int]:
        return {
            c: len({p for p, y in zip(self.patients, self.labels.tolist()) if y == i}) for i, c in enumerate(CLASSES)
        }

    @staticmethod
    def concat(sets: Sequence[ImageSet], name: str = "") -> ImageSet:
        skipped: dict[str, int] = {}
        for s in sets:
            for k, v in s.skipped.items():
                skipped[k] = skipped.get(k, 0) + v
        return ImageSet(
            torch.cat([s.images for s in sets]),
            torch.cat([s.labels for s in sets]),
            [p for s in sets for p in s.patients],
            [o for s in sets for o in s.sources],
            name,
            skipped,
        )

    def fingerprint(self) -> str:
        """A hash of the pixels and labels: the same images in the same order give the same value."""
        h = hashlib.sha256(self.images.contiguous().numpy().tobytes())
        h.update(self.labels.numpy().astype("int64").tobytes())
        return h.hexdigest()[:16]
