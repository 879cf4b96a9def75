"""Did the GANs a grid trained keep their variety? For every replicate's per-class GANs and conditional GAN at
a fraction: fresh samples of each class against that replicate's real images of the class, by the stated limits
(near-twin share, pairwise spread; `xraygan.review.diversity`), the check the GAN recipes were chosen by, now
run on each GAN a grid used."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from xraygan.data.splits import fraction_subset
from xraygan.gan.runs import per_class_runs
from xraygan.gan.training import steps_done
from xraygan.paths import shown
from xraygan.review.diversity import NEAR_TWIN_MAX, PAIRWISE_MIN, generator_diversity
from xraygan.study.reproduce import open_grid
from xraygan.study.run import gan_for, needed_gans, replicates_at, subset_gan_dir

MIN_REAL = 10  # class_diversity needs at least this many images on each side
COLUMNS = ["near_twin_share", "near_twin_share_real", "pairwise_ratio", "ms_ssim", "ms_ssim_real", "collapsed"]
ORDER = ["fraction", "replicate", "gan", "class"]  # the record's row order
KINDS = {"dcgan": "per-class GANs", "cgan": "conditional GANs"}  # a grid's GAN kinds, as the answer names them


def finished_gans(root: Path, kind: str, steps: int) -> dict[int, Path]:
    """{label: run folder} of one replicate's finished GANs of a kind: the per-class pair, or the conditional
    GAN once per label (it draws both classes); {} where any is missing or unfinished."""
    if kind == "dcgan":
        found = {c: run for c, run in per_class_runs(root).items() if steps_done(run) >= steps}
        return found if len(found) == 2 else {}
    run = root / "conditional"
    return {0: run, 1: run} if steps_done(run) >= steps else {}


def grid_gan_variety(
    results: str | Path,
    runs: str | Path,
    fractions: tuple[float, ...] | None = None,
    data_root: str | None = None,
    n: int = 400,
    device: str | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """The variety of the grid's GANs, one row per (fraction, replicate, GAN kind, class) (default: every
    fraction of the grid), and one line per replicate and kind that has no row and whose GANs are not in `runs`.
    `results/gan_variety.csv` is the grid's record and grows: a replicate is measured once, the first time its
    finished GANs are found in `runs`, and its rows are kept from then on (GAN run folders are not committed,
    and a grid made over several sessions may lose them; retrained on another kind of machine they would be
    other GANs). A kept row whose GAN seed is not the grid's is refused. To measure again, delete the file.
    Samples are drawn with seed 0, as `benchmarks/gan_recipes.py --screen` draws them."""
    results = Path(results)
    exp, splits = open_grid(results, data_root)  # other images than the grid's: refused
    kinds = [k for k in KINDS if k in needed_gans(exp)]
    if not kinds:
        raise ValueError(f"{results}: the grid trains no GANs (conditions {exp.study.conditions})")
    csv = results / "gan_variety.csv"
    columns = ["fraction", "replicate", "gan_seed", "gan", "class", *COLUMNS]
    whole = pd.read_csv(csv) if csv.exists() else pd.DataFrame(columns=columns)
    if list(whole.columns) != columns:
        raise ValueError(f"{shown(csv)}: columns {list(whole.columns)}, expected {columns}; delete it to measure again")
    asked = fractions or exp.study.fractions
    record = whole[whole.fraction.isin(asked)]
    rows, missing = [], []
    for f in asked:
        if f not in exp.study.fractions:
            raise ValueError(f"fraction {f}: the grid in {results} has fractions {exp.study.fractions}")
        for r in replicates_at(exp, f):
            cfg = gan_for(exp, f, r)
            kept = record[(record.fraction == f) & (record.replicate == r)]
            if len(kept) and set(kept.gan_seed) != {cfg.seed}:
                raise ValueError(
                    f"{shown(csv)}: fraction {f:g}, replicate {r} has GAN seed {sorted(set(kept.gan_seed))}, the "
                    f"grid {cfg.seed}; the file is another grid's: delete it to measure again"
                )
            todo = [k for k in kinds if k not in set(kept.gan)]  # each kind measured once, then kept
            if not todo:
                continue
            real = fraction_subset(splits.train, f, r)
            if min(real.class_counts().values()) < MIN_REAL:
                missing.append(f"fraction {f:g}, replicate {r}: fewer than {MIN_REAL} real images of a class")
                continue
            root = subset_gan_dir(exp, real, Path(runs), f, r, create=False)
            for kind in todo:
                found = finished_gans(root, kind, cfg.steps)
                if not found:
                    missing.append(f"fraction {f:g}, replicate {r}: no finished {KINDS[kind]} in {shown(root)}")
                    continue
                for name, d in generator_diversity(found, real, n=n, seed=0, device=device).items():
                    row = {"fraction": f, "replicate": r, "gan_seed": cfg.seed, "gan": kind, "class": name}
                    rows.append(row | {k: d[k] for k in COLUMNS})
    new = pd.DataFrame(rows, columns=columns)
    if len(new):
        grown = pd.concat([whole, new.round(4)]) if len(whole) else new.round(4)
        grown.sort_values(ORDER).to_csv(csv, index=False)
    parts = [d for d in (record, new) if len(d)]
    df = pd.concat(parts).sort_values(ORDER) if parts else new
    return df.reset_index(drop=True), missing


def variety_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Per fraction, GAN kind and class: replicates checked, how many lost their variety, and the range of
    each measure (the table the README quotes)."""
    g = df.groupby(["fraction", "gan", "class"])
    out = g.agg(
        replicates=("replicate", "nunique"),
        collapsed=("collapsed", "sum"),
        near_twin_min=("near_twin_share", "min"),
        near_twin_max=("near_twin_share", "max"),
        spread_min=("pairwise_ratio", "min"),
        spread_max=("pairwise_ratio", "max"),
        near_twin_real_max=("near_twin_share_real", "max"),
    )
    return out.reset_index()


def variety_text(df: pd.DataFrame) -> str:
    """A grid's variety record (gan_variety.csv) as the paragraph that ends its answer block: per fraction the
    GANs measured and how many are outside the limits, per class the ranges of variety_summary. '' if empty."""
    if not len(df):
        return ""

    def span(lo: float, hi: float, fmt: str) -> str:
        return format(lo, fmt) if format(lo, fmt) == format(hi, fmt) else f"{lo:{fmt}}–{hi:{fmt}}"

    parts = []
    summary = variety_summary(df)
    for (f, kind), s in summary.groupby(["fraction", "gan"], sort=False):
        if kind == "dcgan":
            parts.append(
                f"At {f * 100:g} %: {s.replicates.sum()} per-class GANs of {s.replicates.max()} replicates, "
                f"{int(s.collapsed.sum())} outside the limits."
            )
        else:  # one GAN per replicate, measured on each class
            rows = df[(df.fraction == f) & (df.gan == kind)]
            out = int(rows.groupby("replicate").collapsed.any().sum())
            parts.append(
                f"At {f * 100:g} %: {s.replicates.max()} conditional GANs, one per replicate, measured on each "
                f"class; {out} outside the limits on a class."
            )
        parts += [
            f"{k['class']}: near-twins {span(100 * k.near_twin_min, 100 * k.near_twin_max, '.1f')} % (real images: "
            f"at most {100 * k.near_twin_real_max:.1f} %), spread {span(k.spread_min, k.spread_max, '.2f')}."
            for _, k in s.iterrows()
        ]
    kinds = " and ".join(KINDS[k] for k in KINDS if k in set(summary.gan))
    return (
        f"GAN variety (`gan_variety.csv`: each replicate's {kinds}, measured once after they trained, on "
        "fresh images against that replicate's real images of the class; no replicate is dropped for it). The "
        f"limits: at most {100 * NEAR_TWIN_MAX:g} % near-twins (fakes whose nearest other fake is closer than the "
        f"closest 1 % of real neighbours) and a median pairwise spread at least {PAIRWISE_MIN:g} of the real "
        "images'. " + " ".join(parts) + "\n"
    )
