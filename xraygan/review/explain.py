"""What the networks look at: Grad-CAM of the classifier and the discriminator's most active feature maps."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from xraygan.data.imageset import to_unit
from xraygan.models import Discriminator, SimpleCNN


def grad_cam(model: SimpleCNN, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Grad-CAM maps (B, H, W) in [0, 1] for the last conv block of a SimpleCNN. target[i] = 1 explains the
    PNEUMONIA logit, 0 the NORMAL evidence (the negated logit). x is float in [-1, 1], (B, 1, H, W)."""
    model.eval()
    layer = model.features[-2]  # last ReLU before the final pooling: (B, C, H/8, W/8)
    store: dict[str, torch.Tensor] = {}
    h = layer.register_forward_hook(lambda m, i, o: store.__setitem__("a", o))
    try:
        x = x.clone().requires_grad_(True)
        logit = model(x)
        sign = target.float().to(logit.device) * 2 - 1
        a = store["a"]
        (grads,) = torch.autograd.grad((logit * sign).sum(), a)
    finally:
        h.remove()
    w = grads.mean(dim=(2, 3), keepdim=True)  # (B, C, 1, 1)
    cam = F.relu((w * a).sum(1, keepdim=True))  # (B, 1, h, w)
    cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    peak = cam.flatten(1).max(1).values.clamp(min=1e-12).view(-1, 1, 1)
    return (cam / peak).detach().clamp(0, 1)


def mean_grad_cam(
    model: SimpleCNN, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 128
) -> dict[int, torch.Tensor]:
    """Per class, the Grad-CAM map averaged over all its images, each explained for its own class: where the
    classifier looks on average (H, W), in [0, 1] per image before averaging. `images` uint8 (N, 1, H, W)."""
    dev = next(model.parameters()).device
    sums: dict[int, torch.Tensor] = {}
    for i in range(0, len(images), batch_size):
        x = to_unit(images[i : i + batch_size]).to(dev)
        y = labels[i : i + batch_size]
        cam = grad_cam(model, x, y).cpu()
        for c in y.unique().tolist():
            sums[c] = sums.get(c, 0) + cam[y == c].sum(0)
    return {c: sums[c] / int((labels == c).sum()) for c in sorted(sums)}


@torch.no_grad()
def discriminator_maps(
    D: Discriminator, x: torch.Tensor, block: int = 1, top: int = 4, y: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The `top` most active channels (by mean activation over the batch) after the discriminator's
    `block`-th downsampling stage: (maps (B, top, h, w), channel indices). A packing D (PacGAN) sees each
    image as a pack of copies of itself."""
    D.eval()
    if D.pack > 1:
        x = x.repeat_interleave(D.pack, dim=0)
    acts = [m for m in D.features if isinstance(m, torch.nn.LeakyReLU)]
    store: dict[str, torch.Tensor] = {}
    h = acts[block].register_forward_hook(lambda m, i, o: store.__setitem__("a", o))
    try:
        D(x, y)
    finally:
        h.remove()
    a = store["a"]
    ch = a.mean(dim=(0, 2, 3)).topk(top).indices
    return a[:, ch], ch
