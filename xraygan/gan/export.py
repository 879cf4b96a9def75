"""Export synthetic images from trained GANs: PNGs in the Kaggle layout, manifest.csv, and a uint8 tensor
file for the classifier. Image i of class c is made from its own seed, so the same seed gives the same image."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import torch
from PIL import Image

from xraygan.checkpoint import atomic_save, load_checkpoint
from xraygan.data.imageset import ImageSet, to_uint8
from xraygan.device import pick_device
from xraygan.gan.runs import load_generator
from xraygan.info import CLASSES
from xraygan.progress import tqdm


def image_seed(seed: int, label: int, i: int) -> int:
    return seed * 10_000_000 + label * 1_000_000 + i


@torch.no_grad()
def generate(
    G: torch.nn.Module, label: int | None, n: int, seed: int, device: torch.device, batch: int = 256
) -> torch.Tensor:
    """n images (n, 1, S, S) uint8; image i comes from noise seeded by image_seed(seed, label, i)."""
    out = []
    lab = 0 if label is None else label
    for s in range(0, n, batch):
        ids = range(s, min(n, s + batch))
        z = torch.stack(
            [torch.randn(G.nz, generator=torch.Generator().manual_seed(image_seed(seed, lab, i))) for i in ids]
        ).to(device)
        y = torch.full((len(ids),), lab, device=device) if G.n_classes else None
        x = G(z, y).float()
        out.append(to_uint8(x).cpu())
    return torch.cat(out) if out else torch.zeros(0, 1, G.image_size, G.image_size, dtype=torch.uint8)


def export_synthetic(
    runs: dict[int, str | Path] | str | Path,
    n_per_class: int,
    out_dir: str | Path,
    seed: int = 0,
    device: torch.device | str | None = None,
    pngs: bool = True,
) -> ImageSet:
    """Export n_per_class images per class. `runs` is {label: run_dir} for per-class GANs, or one
    conditional run folder. Writes out_dir/{NORMAL,PNEUMONIA}/*.png, manifest.csv and synthetic.pt."""
    dev = pick_device(str(device) if device else None)
    out = Path(out_dir)
    sources = {0: runs, 1: runs} if isinstance(runs, str | Path) else runs
    images, labels, rows = [], [], []
    for label in (0, 1):
        G, meta = load_generator(sources[label], dev)
        if meta.get("class_label") not in (None, label):
            raise ValueError(f"{sources[label]} is a GAN for {CLASSES[meta['class_label']]}, not {CLASSES[label]}")
        x = generate(G, label if G.n_classes else None, n_per_class, seed, dev)
        images.append(x)
        labels += [label] * n_per_class
        if pngs:
            (out / CLASSES[label]).mkdir(parents=True, exist_ok=True)
        for i in tqdm(range(n_per_class), desc=f"export {CLASSES[label]}", disable=not pngs):
            name = f"{CLASSES[label]}/synthetic_{CLASSES[label].lower()}_{i:05d}.png"
            if pngs:
                Image.fromarray(x[i, 0].numpy()).save(out / name)
            rows.append(
                {
                    "file": name,
                    "class": CLASSES[label],
                    "seed": image_seed(seed, label, i),
                    "checkpoint": meta["checkpoint"],
                    "step": meta["step"],
                }
            )
    ds = ImageSet(
        torch.cat(images),
        torch.tensor(labels),
        [f"synthetic-{r['seed']}" for r in rows],
        [r["file"] for r in rows],
        "synthetic",
    )
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "manifest.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    atomic_save({"images": ds.images, "labels": ds.labels, "seeds": [r["seed"] for r in rows]}, out / "synthetic.pt")
    (out / "export.json").write_text(
        json.dumps(
            {"n_per_class": n_per_class, "seed": seed, "runs": {CLASSES[k]: str(v) for k, v in sources.items()}},
            indent=2,
        )
    )
    return ds


def load_synthetic(out_dir: str | Path) -> ImageSet:
    """The synthetic.pt written by export_synthetic, as an ImageSet."""
    st = load_checkpoint(Path(out_dir) / "synthetic.pt")
    n = len(st["labels"])
    return ImageSet(
        st["images"],
        st["labels"],
        [f"synthetic-{s}" for s in st["seeds"]],
        [f"{out_dir}:{i}" for i in range(n)],
        "synthetic",
    )
