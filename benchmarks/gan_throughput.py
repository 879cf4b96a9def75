"""GAN training throughput: the PyTorch DCGAN tutorial loop vs xraygan's loop, on this machine.

Prints one table: image-steps/s of (a) a faithful re-implementation of the tutorial loop (ImageFolder +
DataLoader over the JPEG folder, same widths and batch) and (b) xraygan's loop on its uint8 cache (with
and without DiffAugment), the measured fp32 4096^2 matmul rate, achieved GFLOP/s (FLOPs counted with
torch.utils.flop_counter) and the ratios. Usage:
    python benchmarks/gan_throughput.py --data data/chest_xray [--steps 40] [--batch 64]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import torch
import torch.nn as nn
import torchvision.datasets as dset
import torchvision.transforms as T
from torch.utils.flop_counter import FlopCounterMode

from xraygan.config import DataConfig, GANConfig
from xraygan.data import load_splits
from xraygan.device import machine_name, pick_device
from xraygan.gan.training import train_gan
from xraygan.models import Discriminator, Generator


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize()


def matmul_gflops(dev: torch.device, n: int = 4096, reps: int = 5) -> float:
    a, b = torch.randn(n, n, device=dev), torch.randn(n, n, device=dev)
    a @ b
    sync(dev)
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    sync(dev)
    return 2 * n**3 * reps / (time.perf_counter() - t) / 1e9


def step_flops(ngf: int, ndf: int, nz: int, batch: int) -> float:
    """FLOPs of one tutorial-style step (D on real and fake, G through D), forward and backward."""
    G, D = Generator(nz, ngf), Discriminator(ndf)
    x = torch.randn(batch, 1, 64, 64)
    with FlopCounterMode(display=False) as fc:
        fake = G(torch.randn(batch, nz))
        (D(x).sum() + D(fake.detach()).sum()).backward()
        D(fake).sum().backward()
    return fc.get_total_flops()


def tutorial_loop(
    root: str, steps: int, batch: int, ngf: int, ndf: int, nz: int, dev: torch.device, workers: int
) -> float:
    """The tutorial's loop: ImageFolder + DataLoader from JPEGs, BCELoss on a sigmoid D. Returns images/s."""
    ds = dset.ImageFolder(
        f"{root}/train",
        transform=T.Compose(
            [T.Grayscale(1), T.Resize(64), T.CenterCrop(64), T.ToTensor(), T.Normalize((0.5,), (0.5,))]
        ),
    )
    loader = torch.utils.data.DataLoader(ds, batch_size=batch, shuffle=True, num_workers=workers, drop_last=True)
    G, D = Generator(nz, ngf).to(dev), Discriminator(ndf).to(dev)
    crit = nn.BCEWithLogitsLoss()
    og = torch.optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999))
    od = torch.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999))
    done, t0, warm = 0, None, 5
    while done < steps + warm:
        for x, _ in loader:
            if done == warm:
                sync(dev)
                t0 = time.perf_counter()
            x = x.to(dev)
            ones, zeros = torch.ones(batch, device=dev), torch.zeros(batch, device=dev)
            D.zero_grad()
            fake = G(torch.randn(batch, nz, device=dev))
            (crit(D(x), ones) + crit(D(fake.detach()), zeros)).backward()
            od.step()
            G.zero_grad()
            crit(D(fake), ones).backward()
            og.step()
            done += 1
            if done >= steps + warm:
                break
    sync(dev)
    return steps * batch / (time.perf_counter() - t0)


def xraygan_loop(train, steps: int, batch: int, ngf: int, ndf: int, nz: int, dev: torch.device, diffaug: str) -> float:
    """xraygan's train_gan on the cached uint8 tensors; rate between the first log line and the last."""
    log = max(5, steps // 4)
    cfg = GANConfig(
        nz=nz,
        ngf=ngf,
        ndf=ndf,
        batch_size=batch,
        steps=log + steps,
        log_every=log,
        sample_every=log * 100,
        ckpt_every=log * 100,
        diffaug=diffaug,
    )
    with tempfile.TemporaryDirectory() as d:
        run = train_gan(cfg, train, d, class_label=None, device=str(dev), progress=False)
        m = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    return (m[-1]["step"] - m[0]["step"]) * batch / (m[-1]["seconds"] - m[0]["seconds"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--ngf", type=int, default=64)
    ap.add_argument("--workers", type=int, default=2, help="DataLoader workers of the tutorial loop (tutorial: 2)")
    ap.add_argument("--device", default=None)
    a = ap.parse_args()
    dev = pick_device(a.device)
    nz, ngf = 100, a.ngf
    train = load_splits(DataConfig(root=a.data), progress=False).train
    flops = step_flops(ngf, ngf, nz, a.batch) / a.batch
    mm = matmul_gflops(dev)
    rows = [
        (
            "tutorial loop (ImageFolder+DataLoader, JPEG)",
            tutorial_loop(a.data, a.steps, a.batch, ngf, ngf, nz, dev, a.workers),
        ),
        ("xraygan loop, DiffAugment off", xraygan_loop(train, a.steps, a.batch, ngf, ngf, nz, dev, "off")),
        ("xraygan loop, DiffAugment on (default)", xraygan_loop(train, a.steps, a.batch, ngf, ngf, nz, dev, "on")),
    ]
    print(
        f"device: {machine_name(str(dev))}; torch {torch.__version__}; batch {a.batch}; ngf=ndf={ngf}; nz={nz}; 64 px"
    )
    print(
        f"FLOPs per image-step (fwd+bwd, fp32 count): {flops / 1e9:.2f} GFLOP; fp32 {4096}^2 matmul: {mm:.0f} GFLOP/s"
    )
    print(f"| {'loop':46s} | images/s | GFLOP/s | % of matmul | vs tutorial |")
    print(f"|{'-' * 48}|---------:|--------:|------------:|------------:|")
    base = rows[0][1]
    for label, ips in rows:
        print(
            f"| {label:46s} | {ips:8.0f} | {ips * flops / 1e9:7.0f} | {100 * ips * flops / 1e9 / mm:10.0f}% "
            f"| {ips / base:10.2f}x |"
        )


if __name__ == "__main__":
    main()
