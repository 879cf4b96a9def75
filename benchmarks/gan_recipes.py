"""GAN recipes against mode collapse, measured at one preset's budget: per recipe, train the GANs (per class or
conditional) on a stratified fraction of the real training split, export synthetic images and review them
(variety, FD/KID in the feature network's space, label fidelity, memorisation, minutes). Rows are appended
to a CSV as recipes finish (a rerun skips rows already there, and trained GANs resume from their folders).

    python benchmarks/gan_recipes.py --data ../chest_xray_224 --preset cpu --fraction 1 --seeds 0 \
        --recipes dcgan mbstd mbstd_r1 --csv benchmarks/gan_recipes_cpu.csv

The table in benchmarks/README.md is this CSV; the chosen recipe is the preset's `gan` config. One recipe's
seeds as a Markdown table, judged by the screens' rule (both classes within the variety limits, NORMAL label
fidelity at least 0.80, PNEUMONIA's at least 0.95):

    python benchmarks/gan_recipes.py --csv benchmarks/gan_recipes_paper_cw_cpu.csv \
        --table pac2_cutout_mbstd_w24_ms2_4x_sub"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import time
from pathlib import Path

from csv_rows import append, finished  # benchmarks/csv_rows.py (scripts run from benchmarks/)

from xraygan.data import load_splits
from xraygan.data.splits import fraction_subset
from xraygan.experiment import ORIGINAL_CPU_GAN, PRESETS, build_experiment, subset_gan
from xraygan.gan.export import export_synthetic
from xraygan.gan.runs import gan_dir, train_gans
from xraygan.gan.training import read_metrics, train_gan
from xraygan.info import CLASSES
from xraygan.review.core import review
from xraygan.review.diversity import generator_diversity

PAC24 = {"mbstd": True, "diffaug_policy": "cutout", "pack": 2, "ngf": 24, "ndf": 24}  # the packed width-24 recipe

# name -> (GAN mode, GANConfig fields changed from the preset's GAN)
RECIPES: dict[str, tuple[str, dict]] = {
    "dcgan": ("per_class", {}),  # the original plan's per-class DCGAN (base_gan)
    "mbstd": ("per_class", {"mbstd": True}),
    "mbstd_r1": ("per_class", {"mbstd": True, "r1_gamma": 0.1}),
    "sn_hinge_mbstd": ("per_class", {"spectral_norm": True, "loss": "hinge", "mbstd": True}),
    "ttur_mbstd": ("per_class", {"mbstd": True, "lr_d": 4e-4, "lr_g": 1e-4}),
    "cgan_mbstd": ("conditional", {"mbstd": True}),
    # DiffAugment's colour and translation make D blind to brightness, contrast and framing, which leaves G
    # free to draw one exposure and one framing: keep only cutout, or no augmentation at all
    "cutout_mbstd": ("per_class", {"mbstd": True, "diffaug_policy": "cutout"}),
    "noaug_mbstd": ("per_class", {"mbstd": True, "diffaug": "off"}),
    # PacGAN: D judges pairs of images, so near-copies are easy to tell from pairs of real chests
    "pac2_cutout_mbstd": ("per_class", {"mbstd": True, "diffaug_policy": "cutout", "pack": 2}),
    "pac4_cutout_mbstd": ("per_class", {"mbstd": True, "diffaug_policy": "cutout", "pack": 4}),
    # the packed D keeps structure varied but narrows exposure (per-image mean brightness): try it without
    # DiffAugment, without the minibatch-std channel, and with twice the steps
    "pac2_noaug_mbstd": ("per_class", {"mbstd": True, "diffaug": "off", "pack": 2}),
    "pac2_cutout": ("per_class", {"diffaug_policy": "cutout", "pack": 2}),
    "pac2_cutout_mbstd_2x": ("per_class", {"mbstd": True, "diffaug_policy": "cutout", "pack": 2, "steps": 2400}),
    # more steps at a smaller width, in about the same minutes
    "pac2_cutout_mbstd_w24_2x": (
        "per_class",
        {"mbstd": True, "diffaug_policy": "cutout", "pack": 2, "ngf": 24, "ndf": 24, "steps": 2400},
    ),
    # the same on CPU in channels-last tensors with bf16 autocast (about 1.65x the image-steps/s on 2 cores)
    "pac2_cutout_mbstd_w24_2x_fast": (
        "per_class",
        {**PAC24, "steps": 2400, "channels_last": True, "cpu_bf16": True},
    ),
    "pac2_cutout_mbstd_w24_2x_sub": (  # the same for fractions below 1: twice the subset GAN's 600 steps
        "per_class",
        {"mbstd": True, "diffaug_policy": "cutout", "pack": 2, "ngf": 24, "ndf": 24, "steps": 1200},
    ),
    # at 10 % (about 120 NORMAL images) the packed width-24 recipe still draws near-twins: vary its budget
    # (600 = the subset GAN's steps, 2400), the pack, the width, and DiffAugment's policy
    "pac2_cutout_mbstd_w24_sub": (
        "per_class",
        {"mbstd": True, "diffaug_policy": "cutout", "pack": 2, "ngf": 24, "ndf": 24},
    ),
    "pac2_cutout_mbstd_w24_4x_sub": (
        "per_class",
        {"mbstd": True, "diffaug_policy": "cutout", "pack": 2, "ngf": 24, "ndf": 24, "steps": 2400},
    ),
    "pac4_cutout_mbstd_w24_2x_sub": (
        "per_class",
        {"mbstd": True, "diffaug_policy": "cutout", "pack": 4, "ngf": 24, "ndf": 24, "steps": 1200},
    ),
    "pac2_cutout_mbstd_w16_2x_sub": (
        "per_class",
        {"mbstd": True, "diffaug_policy": "cutout", "pack": 2, "ngf": 16, "ndf": 16, "steps": 1200},
    ),
    "pac2_tc_mbstd_w24_2x_sub": (  # translation + cutout
        "per_class",
        {"mbstd": True, "diffaug_policy": "translation,cutout", "pack": 2, "ngf": 24, "ndf": 24, "steps": 1200},
    ),
    "pac2_full_mbstd_w24_2x_sub": (  # DiffAugment's full policy (colour, translation, cutout)
        "per_class",
        {"mbstd": True, "pack": 2, "ngf": 24, "ndf": 24, "steps": 1200},
    ),
    "pac4_cutout_mbstd_w24_sub": (
        "per_class",
        {"mbstd": True, "diffaug_policy": "cutout", "pack": 4, "ngf": 24, "ndf": 24},
    ),
    "pac2_cutout_mbstd_w24_lr1e4_2x_sub": (  # half the learning rates, twice the steps
        "per_class",
        {
            "mbstd": True,
            "diffaug_policy": "cutout",
            "pack": 2,
            "ngf": 24,
            "ndf": 24,
            "steps": 1200,
            "lr_g": 1e-4,
            "lr_d": 1e-4,
        },
    ),
    "pac2_cutout_mbstd_w24_b32_2x_sub": (  # half the batch, twice the steps: the same images seen
        "per_class",
        {"mbstd": True, "diffaug_policy": "cutout", "pack": 2, "ngf": 24, "ndf": 24, "steps": 1200, "batch_size": 32},
    ),
    "cgan_cutout_mbstd_2x_sub": (  # one conditional GAN sees both classes' images (3x NORMAL's alone)
        "conditional",
        {"mbstd": True, "diffaug_policy": "cutout", "steps": 1200},
    ),
    # a shared start: the packed width-24 GANs first train on both classes' images of the subset (NORMAL's GAN
    # sees three times its own images), then on the class alone, as small-data GANs are fine-tuned from a
    # pretrained one; the split of a 1,200-step budget (600/600, 900/300) and of the subset's 600 (300/300)
    "pac2_cutout_mbstd_w24_shared600_2x_sub": ("per_class", {**PAC24, "steps": 1200, "shared_steps": 600}),
    "pac2_cutout_mbstd_w24_shared900_2x_sub": ("per_class", {**PAC24, "steps": 1200, "shared_steps": 900}),
    "pac2_cutout_mbstd_w24_shared300_sub": ("per_class", {**PAC24, "shared_steps": 300}),
    # mode seeking (MSGAN): G pays for drawing near-copies from distinct noise; weight 1 as in the paper
    "pac2_cutout_mbstd_w24_ms1_2x_sub": ("per_class", {**PAC24, "steps": 1200, "mode_seeking": 1.0}),
    "pac2_cutout_mbstd_w24_ms1_sub": ("per_class", {**PAC24, "mode_seeking": 1.0}),
    # the same per-class pair at four and eight times the subset budget: 2,400 steps per class is the
    # compute of the conditional GAN's 4,800 steps (cgan2_cw's), whose NORMAL label fidelity rose with steps
    "pac2_cutout_mbstd_w24_ms1_4x_sub": ("per_class", {**PAC24, "steps": 2400, "mode_seeking": 1.0}),
    "pac2_cutout_mbstd_w24_ms1_8x_sub": ("per_class", {**PAC24, "steps": 4800, "mode_seeking": 1.0}),
    # at 2,400 steps per class NORMAL keeps its label but repeats chests on some seeds: twice the mode seeking
    "pac2_cutout_mbstd_w24_ms2_4x_sub": ("per_class", {**PAC24, "steps": 2400, "mode_seeking": 2.0}),
    "noaug": ("per_class", {"diffaug": "off"}),
    "cgan": ("conditional", {}),
    # the conditional GAN with the subset recipe of paper_cw (--preset paper_cw: width 24, cutout, mbstd, mode
    # seeking over pairs of one label, each label its own ratio), unpacked; with a D that judges packs of two
    # images of one label; and the same with five times the mode-seeking weight
    "cgan_w24_ms1_sub": ("conditional", {}),
    "cgan_pac2_w24_ms1_sub": ("conditional", {"cgan_pack": 2}),
    "cgan_pac2_w24_ms5_sub": ("conditional", {"cgan_pack": 2, "mode_seeking": 5.0}),
    # chosen on label fidelity and FD as well as variety (after cgan_cw found ms5's NORMAL images read as
    # pneumonia): a lower mode-seeking weight; with class-conditional batch norm in G; with batches of as many
    # NORMAL as PNEUMONIA images; both
    "cgan_pac2_w24_ms2_sub": ("conditional", {"cgan_pack": 2, "mode_seeking": 2.0}),
    "cgan_pac2_w24_ms2_cbn_sub": ("conditional", {"cgan_pack": 2, "mode_seeking": 2.0, "cgan_class_bn": True}),
    "cgan_pac2_w24_ms2_bal_sub": ("conditional", {"cgan_pack": 2, "mode_seeking": 2.0, "cgan_balanced": True}),
    "cgan_pac2_w24_ms2_cbn_bal_sub": (
        "conditional",
        {"cgan_pack": 2, "mode_seeking": 2.0, "cgan_class_bn": True, "cgan_balanced": True},
    ),
    "cgan_pac2_w24_ms5_cbn_bal_sub": (
        "conditional",
        {"cgan_pack": 2, "mode_seeking": 5.0, "cgan_class_bn": True, "cgan_balanced": True},
    ),
    # the same with the projection embedding of D started at N(0, 0.02) ("pi"): the recipes above start it at
    # N(0, 1), PyTorch's default, which makes the conditional D's logits about 100x an unconditional D's
    "cgan_pac2_w24_ms1_pi_sub": ("conditional", {"cgan_pack": 2, "cgan_proj_init": "dcgan"}),
    "cgan_pac2_w24_ms2_pi_sub": ("conditional", {"cgan_pack": 2, "mode_seeking": 2.0, "cgan_proj_init": "dcgan"}),
    "cgan_pac2_w24_ms1_cbn_bal_pi_sub": (
        "conditional",
        {"cgan_pack": 2, "cgan_class_bn": True, "cgan_balanced": True, "cgan_proj_init": "dcgan"},
    ),
    # twice the steps (the compute of the per-class pair, 600 steps each), four and eight times
    "cgan_pac2_w24_ms1_cbn_bal_pi_2x_sub": (
        "conditional",
        {"cgan_pack": 2, "cgan_class_bn": True, "cgan_balanced": True, "cgan_proj_init": "dcgan", "steps": 1200},
    ),
    "cgan_pac2_w24_ms1_cbn_bal_pi_4x_sub": (
        "conditional",
        {"cgan_pack": 2, "cgan_class_bn": True, "cgan_balanced": True, "cgan_proj_init": "dcgan", "steps": 2400},
    ),
    # the full split's conditional GAN of `full` (--preset full --fraction 1: the packed recipe unpacked, 2,400
    # steps), with D's projection embedding as `full` trained it and started at N(0, 0.02)
    "cgan_pi": ("conditional", {"cgan_proj_init": "dcgan"}),
    "cgan_pac2_w24_ms1_cbn_bal_pi_8x_sub": (
        "conditional",
        {"cgan_pack": 2, "cgan_class_bn": True, "cgan_balanced": True, "cgan_proj_init": "dcgan", "steps": 4800},
    ),
}


def base_gan(preset: str, exp, fraction: float):
    """What the recipes change: for `cpu`, the original plan's DCGAN at that budget (the preset itself now
    trains the packed recipe), with the subset budget below 100 %; else the preset's GAN."""
    if preset != "cpu":
        return exp.gan_at(fraction)
    return ORIGINAL_CPU_GAN if fraction >= 1 else subset_gan(ORIGINAL_CPU_GAN, PRESETS["cpu"]["gan_subset_steps"])


def minutes(run: Path) -> float:
    m = read_metrics(run)
    return m[-1]["seconds"] / 60 if m else float("nan")


def row_for(name: str, fraction: float, seed: int, res, mins: float) -> dict:
    row = {"recipe": name, "fraction": fraction, "seed": seed, "minutes": round(mins, 2)}
    for c in CLASSES:
        d = res.diversity[c]
        row |= {
            f"{c}_near_twin": round(d["near_twin_share"], 3),
            f"{c}_pairwise_ratio": round(d["pairwise_ratio"], 3),
            f"{c}_ms_ssim": round(d["ms_ssim"], 3),
            f"{c}_ms_ssim_real": round(d["ms_ssim_real"], 3),
            f"{c}_collapsed": d["collapsed"],
            f"{c}_fd": round(res.per_class[c]["synthetic"]["fd"], 3),
            f"{c}_label_fidelity": round(res.label_fidelity[c], 3),
        }
    return row | {
        "fd": round(res.fd, 3),
        "kid": round(res.kid, 4),
        "memorised_pixel": res.memorisation["pixel_l2"]["flagged"],
        "memorised_feature": res.memorisation["feature_cosine"]["flagged"],
    }


FIDELITY_MIN = {"NORMAL": 0.80, "PNEUMONIA": 0.95}  # the screens' rule (benchmarks/README.md), with the variety limits


def qualifies(row: dict) -> bool:
    """The screens' rule on one full-review row: both classes within the variety limits and keeping their label."""
    return all(
        row[f"{c}_collapsed"] == "False" and float(row[f"{c}_label_fidelity"]) >= FIDELITY_MIN[c] for c in CLASSES
    )


def seed_table(csv_path: Path, recipe: str) -> str:
    """One recipe's full-review rows, one per seed, as the Markdown table of benchmarks/README.md."""
    with open(csv_path, newline="") as f:
        rows = sorted((r for r in csv.DictReader(f) if r["recipe"] == recipe), key=lambda r: int(r["seed"]))
    if not rows or "NORMAL_fd" not in rows[0]:
        raise SystemExit(f"{csv_path}: no full-review rows for recipe {recipe!r}")
    head = ["seed"]
    for c in CLASSES:
        head += [f"{c} near-twin / spread", f"{c} FD", f"{c} label fidelity"]
    head += ["memorised (pixel / feature)", "qualifies", "minutes"]
    lines = [
        "| " + " | ".join(head) + " |",
        "|---:|" + "|".join("---:" if "FD" in h or "fid" in h else "---" for h in head[1:-1]) + "|---:|",
    ]
    for r in rows:
        cells = [r["seed"]]
        for c in CLASSES:
            cells += [
                f"{float(r[f'{c}_near_twin']):.3f} / {float(r[f'{c}_pairwise_ratio']):.3f}",
                f"{float(r[f'{c}_fd']):.1f}",
                f"{float(r[f'{c}_label_fidelity']):.3f}",
            ]
        cells += [f"{r['memorised_pixel']} / {r['memorised_feature']}", "yes" if qualifies(r) else "**no**"]
        lines.append("| " + " | ".join(cells + [f"{float(r['minutes']):.1f}"]) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", help="Kaggle-layout folder (chest_xray_224); not needed with --table")
    ap.add_argument("--table", metavar="RECIPE", help="print RECIPE's rows in --csv as a Markdown table, then stop")
    ap.add_argument("--preset", default="cpu")
    ap.add_argument("--fraction", type=float, default=1.0)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0], help="GAN seeds (each on its own subset below 1)")
    ap.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    ap.add_argument("--runs", default="runs/recipes")
    ap.add_argument("--csv", default="benchmarks/gan_recipes.csv")
    ap.add_argument("--n", type=int, default=1000, help="synthetic images per class for the review")
    ap.add_argument("--device", default=None)
    ap.add_argument(
        "--screen", action="store_true", help="NORMAL only (the class that collapses), variety only: a quick first pass"
    )
    a = ap.parse_args()
    if a.table:
        print(seed_table(Path(a.csv), a.table))
        return
    if not a.data:
        ap.error("--data is required (the Kaggle-layout folder) unless --table is given")

    exp = build_experiment(a.preset, data={"root": a.data})
    splits = load_splits(exp.data)
    out_csv = Path(a.csv)
    done = finished(out_csv)
    for seed in a.seeds:
        real = fraction_subset(splits.train, a.fraction, seed) if a.fraction < 1 else splits.train
        for name in a.recipes:
            if (name, a.fraction, seed) in done:
                continue
            mode, fields = RECIPES[name]
            cfg = dataclasses.replace(base_gan(a.preset, exp, a.fraction), **fields, seed=seed)
            root = gan_dir(a.runs, cfg, real, a.fraction, seed)
            t0 = time.time()
            if a.screen:
                row = screen(name, cfg, mode, real, root, a, seed)
                print(json.dumps(row), flush=True)
                append(out_csv, row)
                continue
            got = train_gans(cfg, real, root, (mode,), a.device, progress=True)
            runs = got.per_class if mode == "per_class" else got.conditional
            mins = sum(minutes(r) for r in got.per_class.values()) if mode == "per_class" else minutes(got.conditional)
            syn = export_synthetic(runs, a.n, root / "pool", seed=seed, device=a.device, pngs=False)
            res = review(splits, syn, root / "review", exp.classifier, a.device, feature_dir=Path(a.runs))
            row = row_for(name, a.fraction, seed, res, mins)
            print(json.dumps(row | {"wall_minutes": round((time.time() - t0) / 60, 2)}), flush=True)
            append(out_csv, row)


def screen(name: str, cfg, mode: str, real, root: Path, a, seed: int) -> dict:
    """NORMAL only: train its GAN (the conditional one sees both classes) and measure its variety."""
    if mode == "per_class":
        run = train_gan(cfg, real, root / "NORMAL", class_label=0, device=a.device, progress=True)
    else:
        run = train_gans(cfg, real, root, (mode,), a.device, progress=True).conditional
    d = generator_diversity({0: run}, real, n=400, seed=0, device=a.device)["NORMAL"]
    return {
        "recipe": name,
        "fraction": a.fraction,
        "seed": seed,
        "minutes": round(minutes(run), 2),
        "NORMAL_near_twin": round(d["near_twin_share"], 3),
        "NORMAL_pairwise_ratio": round(d["pairwise_ratio"], 3),
        "NORMAL_ms_ssim": round(d["ms_ssim"], 3),
        "NORMAL_ms_ssim_real": round(d["ms_ssim_real"], 3),
        "NORMAL_collapsed": d["collapsed"],
    }


if __name__ == "__main__":
    main()
