"""Augmentation on tensor batches (CPU or CUDA): classic augmentation for the classifier, and
DiffAugment-style differentiable augmentation for the GAN discriminator. Random numbers come from a
CPU torch.Generator (a few per image), so results do not depend on the device and resume exactly."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def _u(n: int, g: torch.Generator, lo: float, hi: float, device: torch.device) -> torch.Tensor:
    return (torch.rand(n, generator=g) * (hi - lo) + lo).to(device)


def classic_augment(
    x: torch.Tensor,
    g: torch.Generator,
    flip: bool = True,
    rotate_deg: float = 7.0,
    translate: float = 0.06,
    scale: float = 0.08,
    brightness: float = 0.1,
    contrast: float = 0.15,
) -> torch.Tensor:
    """Random flip, small affine (rotate/translate/scale) and brightness/contrast on x in [-1, 1]."""
    b, dev = x.shape[0], x.device
    ang = _u(b, g, -rotate_deg, rotate_deg, dev) * math.pi / 180
    sc = _u(b, g, 1 - scale, 1 + scale, dev)
    tx, ty = _u(b, g, -translate, translate, dev) * 2, _u(b, g, -translate, translate, dev) * 2
    fl = (torch.rand(b, generator=g) < 0.5).to(dev) if flip else torch.zeros(b, dtype=torch.bool, device=dev)
    sx = torch.where(fl, -1.0, 1.0) / sc
    cos, sin = torch.cos(ang), torch.sin(ang)
    theta = torch.stack([torch.stack([cos * sx, -sin / sc, tx], 1), torch.stack([sin * sx, cos / sc, ty], 1)], 1).to(
        x.dtype
    )  # (B, 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    br = _u(b, g, -brightness, brightness, dev).view(-1, 1, 1, 1).to(x.dtype)
    ct = _u(b, g, 1 - contrast, 1 + contrast, dev).view(-1, 1, 1, 1).to(x.dtype)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return ((x - mean) * ct + mean + br).clamp(-1, 1)


def diff_augment(x: torch.Tensor, g: torch.Generator, policy: str = "color,translation,cutout") -> torch.Tensor:
    """DiffAugment (Zhao et al. 2020): differentiable w.r.t. x; apply the same call to real and fake."""
    b, _, h, w = x.shape
    dev = x.device
    if "color" in policy:  # brightness and contrast
        x = x + _u(b, g, -0.25, 0.25, dev).view(-1, 1, 1, 1).to(x.dtype)
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = (x - mean) * _u(b, g, 0.6, 1.4, dev).view(-1, 1, 1, 1).to(x.dtype) + mean
    if "translation" in policy:  # shift by up to 1/8 of the side, zero padding
        sh, sw = int(h * 0.125), int(w * 0.125)
        ty = torch.randint(-sh, sh + 1, (b, 1, 1), generator=g).to(dev)
        tx = torch.randint(-sw, sw + 1, (b, 1, 1), generator=g).to(dev)
        gy, gx = torch.meshgrid(torch.arange(h, device=dev), torch.arange(w, device=dev), indexing="ij")
        gy = (gy[None] + ty).clamp(-1, h)  # (B, H, W), -1 and h index the padding
        gx = (gx[None] + tx).clamp(-1, w)
        xp = F.pad(x, [1, 1, 1, 1])
        x = xp.permute(0, 2, 3, 1)[torch.arange(b, device=dev)[:, None, None], gy + 1, gx + 1].permute(0, 3, 1, 2)
    if "cutout" in policy:  # one square hole of half the side
        ch, cw = h // 2, w // 2
        oy = torch.randint(0, h - ch + 1, (b, 1, 1), generator=g).to(dev)
        ox = torch.randint(0, w - cw + 1, (b, 1, 1), generator=g).to(dev)
        gy, gx = torch.meshgrid(torch.arange(h, device=dev), torch.arange(w, device=dev), indexing="ij")
        hole = (gy[None] >= oy) & (gy[None] < oy + ch) & (gx[None] >= ox) & (gx[None] < ox + cw)
        x = x * (~hole).unsqueeze(1).to(x.dtype)
    return x.contiguous(memory_format=torch.channels_last) if x.is_cuda else x
