"""DCGAN generator and discriminator (1 channel, 32, 64 or 128 px, optionally class-conditional) and the
classifier CNNs."""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torchvision


def _mults(image_size: int) -> list[int]:
    """Channel multipliers from the 4x4 stage up: 32 px -> [4, 2, 1] (the test suite's size), 64 px ->
    [8, 4, 2, 1] (the DCGAN of Radford et al.), 128 px -> [8, 8, 4, 2, 1]."""
    n = int(math.log2(image_size)) - 2  # blocks that double the side, 4 px -> image_size
    if 2 ** (n + 2) != image_size or n < 3:
        raise ValueError(f"image_size={image_size}: DCGAN needs a power of two >= 32 (32, 64 or 128)")
    return [8] * (n - 4) + [8, 4, 2, 1][max(4 - n, 0) :]


def dcgan_init(m: nn.Module) -> None:
    """DCGAN weight init: conv N(0, 0.02), batch-norm weight N(1, 0.02) and bias 0."""
    if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
        spectral = nn.utils.parametrize.is_parametrized(m, "weight")  # init the weight before normalisation
        nn.init.normal_(m.parametrizations.weight.original if spectral else m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.BatchNorm2d) and m.affine:  # class batch norm holds its own scale and shift
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


class ClassBatchNorm2d(nn.Module):
    """Class-conditional batch norm (de Vries et al. 2017; as in SN-GAN's and BigGAN's generators): batch norm
    without its own affine, then a scale and shift looked up per class, so every block of the generator, not
    only its input, knows which class it draws. Starts as plain batch norm (scale 1, shift 0)."""

    def __init__(self, channels: int, n_classes: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.scale = nn.Embedding(n_classes, channels)
        self.shift = nn.Embedding(n_classes, channels)
        nn.init.ones_(self.scale.weight)
        nn.init.zeros_(self.shift.weight)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.bn(x) * self.scale(y)[:, :, None, None] + self.shift(y)[:, :, None, None]


class Generator(nn.Module):
    """z (B, nz) [+ class] -> image (B, 1, S, S) in [-1, 1]. A conditional generator sees the class as an
    embedding beside z, and with `class_bn` also in every batch norm (ClassBatchNorm2d)."""

    def __init__(
        self, nz: int = 100, ngf: int = 64, image_size: int = 64, n_classes: int = 0, class_bn: bool = False
    ) -> None:
        super().__init__()
        if class_bn and not n_classes:
            raise ValueError("Generator(class_bn=True) needs n_classes: class batch norm is for a conditional GAN")
        self.nz, self.n_classes, self.image_size = nz, n_classes, image_size
        self.embed = nn.Embedding(n_classes, nz) if n_classes else None
        m = _mults(image_size)
        cin = nz * (2 if n_classes else 1)

        def norm(c: int) -> nn.Module:
            return ClassBatchNorm2d(c, n_classes) if class_bn else nn.BatchNorm2d(c)

        layers: list[nn.Module] = [  # (B, cin, 1, 1) -> (B, ngf*m0, 4, 4)
            nn.ConvTranspose2d(cin, ngf * m[0], 4, 1, 0, bias=False),
            norm(ngf * m[0]),
            nn.ReLU(True),
        ]
        for a, b in zip(m[:-1], m[1:]):  # each block doubles the side: (B, ngf*a, s, s) -> (B, ngf*b, 2s, 2s)
            layers += [
                nn.ConvTranspose2d(ngf * a, ngf * b, 4, 2, 1, bias=False),
                norm(ngf * b),
                nn.ReLU(True),
            ]
        layers += [nn.ConvTranspose2d(ngf * m[-1], 1, 4, 2, 1, bias=False), nn.Tanh()]  # (B, 1, S, S)
        self.net = nn.Sequential(*layers)
        self.class_bn = class_bn
        self.apply(dcgan_init)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            if y is None:
                raise ValueError("a conditional generator needs class labels y")
            z = torch.cat([z, self.embed(y)], 1)  # (B, 2*nz)
        if not self.class_bn:
            return self.net(z[:, :, None, None])  # (B, 1, S, S)
        x = z[:, :, None, None]
        for layer in self.net:
            x = layer(x, y) if isinstance(layer, ClassBatchNorm2d) else layer(x)
        return x


class MinibatchStd(nn.Module):
    """Appends one channel: the standard deviation of each feature across a group of images, averaged
    (Karras et al. 2018, ProGAN). A discriminator that sees it can tell a batch of near-copies from a batch of
    varied images, which pushes the generator away from repeating one image. With `models` = K the channels
    are K models' blocks side by side (gan/stack.py): each block gets its own statistic channel after it."""

    def __init__(self, group: int = 4, models: int = 1) -> None:
        super().__init__()
        self.group, self.models = group, models

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        k = self.models
        g = min(self.group, b)
        if b % g:  # a batch that does not split into groups uses one group
            g = b
        y = x.float().view(g, b // g, k, c // k, h, w)  # images i, i + b/g, ... form a group
        std = (y.var(0, unbiased=False) + 1e-8).sqrt().mean(dim=(2, 3, 4))  # (b/g, k)
        std = std.to(x.dtype).repeat(g, 1)[:, :, None, None, None].expand(b, k, 1, h, w)
        return torch.cat([x.view(b, k, c // k, h, w), std], 2).view(b, c + k, h, w)


class Discriminator(nn.Module):
    """image (B, 1, S, S) [+ class] -> logit (B,). Conditional via a projection term (Miyato & Koyama 2018).
    Options against mode collapse: `mbstd` adds a minibatch-standard-deviation channel before the head;
    `spectral_norm` normalises every convolution (Miyato et al. 2018) and drops batch norm, as SN-GANs do;
    `pack` > 1 judges that many images at once (PacGAN, Lin et al. 2018)."""

    def __init__(
        self,
        ndf: int = 64,
        image_size: int = 64,
        n_classes: int = 0,
        mbstd: bool = False,
        spectral_norm: bool = False,
        pack: int = 1,
    ) -> None:
        super().__init__()
        m = _mults(image_size)[::-1]  # [1, 2, 4, 8] at 64 px
        sn = nn.utils.parametrizations.spectral_norm if spectral_norm else (lambda mod: mod)
        self.pack = pack  # images judged together (PacGAN), stacked as input channels
        layers: list[nn.Module] = [sn(nn.Conv2d(pack, ndf * m[0], 4, 2, 1, bias=False)), nn.LeakyReLU(0.2, True)]
        for a, b in zip(m[:-1], m[1:]):  # each block halves the side: (B, ndf*a, s, s) -> (B, ndf*b, s/2, s/2)
            layers += [
                sn(nn.Conv2d(ndf * a, ndf * b, 4, 2, 1, bias=False)),
                nn.Identity() if spectral_norm else nn.BatchNorm2d(ndf * b),
                nn.LeakyReLU(0.2, True),
            ]
        self.features = nn.Sequential(*layers)  # (B, ndf*8, 4, 4)
        self.mbstd = MinibatchStd() if mbstd else None
        self.head = sn(nn.Conv2d(ndf * m[-1] + int(mbstd), 1, 4, 1, 0, bias=False))  # (B, 1, 1, 1)
        self.embed = nn.Embedding(n_classes, ndf * m[-1]) if n_classes else None
        self.apply(dcgan_init)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, 1, S, S) -> (B // pack,) logits: with packing, images i*pack .. i*pack+pack-1 are one input."""
        if self.pack > 1:
            x = x.reshape(x.shape[0] // self.pack, self.pack, *x.shape[2:])
        h = self.features(x)  # (B, ndf*8, 4, 4)
        out = self.head(self.mbstd(h) if self.mbstd is not None else h).flatten()  # (B,)
        if self.embed is not None:
            if y is None:
                raise ValueError("a conditional discriminator needs class labels y")
            y = y[:: self.pack]  # a pack's label: the caller draws packs of one label
            out = out + (self.embed(y) * h.sum(dim=(2, 3))).sum(1)  # projection: <e_y, pooled h>
        return out


class SimpleCNN(nn.Module):
    """The original plan's classifier: conv-BN-ReLU-pool blocks, global average pooling, linear head."""

    def __init__(self, width: int = 32, n_blocks: int = 4, dropout: float = 0.2) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 1
        for i in range(n_blocks):  # (B, cin, s, s) -> (B, width*2^i, s/2, s/2)
            cout = width * 2**i
            layers += [
                nn.Conv2d(cin, cout, 3, padding=1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(True),
                nn.Conv2d(cout, cout, 3, padding=1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(True),
                nn.MaxPool2d(2),
            ]
            cin = cout
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(cin, 1))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features (B, C): the X-ray feature space used by the review metrics."""
        return self.features(x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x)).flatten()  # (B,) logit of PNEUMONIA


def imagenet_resnet18_state() -> dict[str, torch.Tensor]:
    """torchvision's ImageNet ResNet-18 weights (downloaded once to ~/.cache/torch/hub/checkpoints)."""
    return torchvision.models.ResNet18_Weights.IMAGENET1K_V1.get_state_dict(progress=True)


class ResNet18(nn.Module):
    """torchvision ResNet-18 for 1-channel input, single logit; from scratch, or from ImageNet weights with
    the first convolution's RGB filters summed into one gray filter (a gray image repeated on R, G and B
    gives the same response)."""

    def __init__(self, imagenet: bool = False) -> None:
        super().__init__()
        net = torchvision.models.resnet18(weights=None, num_classes=1)
        if imagenet:
            try:
                state = imagenet_resnet18_state()
            except Exception as e:  # noqa: BLE001 - no network, blocked download, corrupt cache file ...
                raise RuntimeError(
                    f"ImageNet weights for ResNet-18 could not be loaded ({type(e).__name__}: {e}). Offline, use "
                    "ClassifierConfig(model='resnet18') (from scratch), or copy resnet18-f37072fd.pth into "
                    "~/.cache/torch/hub/checkpoints/ on a machine without network."
                ) from e
            state = {k: v for k, v in state.items() if not k.startswith("fc.")}
            state["conv1.weight"] = state["conv1.weight"].sum(1, keepdim=True)
            net.conv1 = nn.Conv2d(1, 64, 7, 2, 3, bias=False)
            missing, unexpected = net.load_state_dict(state, strict=False)
            assert set(missing) == {"fc.weight", "fc.bias"} and not unexpected, (missing, unexpected)
        else:
            net.conv1 = nn.Conv2d(1, 64, 7, 2, 3, bias=False)
        self.net = net

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        n = self.net
        x = n.maxpool(n.relu(n.bn1(n.conv1(x))))
        x = n.layer4(n.layer3(n.layer2(n.layer1(x))))
        return torch.flatten(n.avgpool(x), 1)  # (B, 512)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.fc(self.embed(x)).flatten()


def build_classifier(name: str, width: int = 32) -> nn.Module:
    if name == "simple":
        return SimpleCNN(width)
    if name in ("resnet18", "resnet18_imagenet"):
        return ResNet18(imagenet=name == "resnet18_imagenet")
    raise ValueError(f"classifier {name!r}: use 'simple', 'resnet18' or 'resnet18_imagenet'")
