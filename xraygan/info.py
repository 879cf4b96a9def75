"""Dataset facts as data: sources, URLs, checksums, licences and expected counts."""

from __future__ import annotations

CLASSES = ("NORMAL", "PNEUMONIA")  # label 0, label 1

KAGGLE = {
    "dataset": "paultimothymooney/chest-xray-pneumonia",
    "api": "https://www.kaggle.com/api/v1",
    "page": "https://www.kaggle.com/datasets/paultimothymooney/chest-xray-pneumonia",
    "licence": "CC BY 4.0 (Kermany, Zhang, Goldbaum et al., Cell 2018; Mendeley Data v2)",
    # Expected image counts per split and class of the Kaggle upload (and its 224 px copy).
    "counts": {
        "train": {"NORMAL": 1341, "PNEUMONIA": 3875},
        "test": {"NORMAL": 234, "PNEUMONIA": 390},
        "val": {"NORMAL": 8, "PNEUMONIA": 8},
    },
}

# MedMNIST+ PneumoniaMNIST (Yang et al., Scientific Data 2023), from MedMNIST's own info table.
MEDMNIST = {
    "base_url": "https://zenodo.org/records/10519652/files",
    "licence": "CC BY 4.0",
    "files": {
        28: ("pneumoniamnist.npz", "28209eda62fecd6e6a2d98b1501bb15f"),
        64: ("pneumoniamnist_64.npz", "8f4eceb4ccffa70c672198ea285246c6"),
        128: ("pneumoniamnist_128.npz", "05b46931834c231683c68f40c47b2971"),
        224: ("pneumoniamnist_224.npz", "d6a3c71de1b945ea11211b03746c1fe1"),
    },
    "counts": {"train": 4708, "val": 524, "test": 624},
}
