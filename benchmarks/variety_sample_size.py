"""How much does the near-twin share of one generator move with the images it is measured on? A grid's variety
record (`--gan-variety`) measures each replicate's generator on as many fakes as the replicate has real images
of the class (121 NORMAL at 10 %), against those real images; the GAN screens measured 400 fakes against 400
real images of the whole training split. For each replicate's NORMAL generator of a grid and each of K draws
(fresh fakes, and fresh real images where they are drawn), three measures:

- `own_121`: n = 121 against the replicate's own real NORMAL images (the grid's record, fakes redrawn);
- `split_121`: n = 121 against 121 real NORMAL images drawn from the whole training split;
- `split_400`: n = 400 against 400 drawn from the whole training split (the screens').

One row per (replicate, measure, draw) in the CSV; the table printed (again from the CSV with --table-only)
is per replicate and measure: mean, range and the draws over the 5 % limit. It measures the instrument and
changes no grid's record or verdict.

    python benchmarks/variety_sample_size.py --results results/dcgan3_cw --runs runs/dcgan_fid --data DATA \
        --draws 10 --csv benchmarks/variety_sample_size_cpu.csv
    python benchmarks/variety_sample_size.py --table-only --csv benchmarks/variety_sample_size_cpu.csv
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import torch

from xraygan.data.splits import fraction_subset
from xraygan.gan.export import generate
from xraygan.gan.runs import load_generator, per_class_runs
from xraygan.review.diversity import NEAR_TWIN_MAX, class_diversity
from xraygan.study.reproduce import open_grid
from xraygan.study.run import replicates_at, subset_gan_dir

MEASURES = {"own_121": None, "split_121": None, "split_400": 400}  # n: None = the replicate's own count


def markdown_table(df: pd.DataFrame) -> str:
    """Per replicate and measure: the mean near-twin share over the draws, its range, and the draws over the
    limit (the table of benchmarks/README.md)."""
    head = "| replicate | own 121: mean [range], draws over 5 % | whole split 121 | whole split 400 (the screens') |"
    lines = [head, "|---:|---|---|---|"]
    for r, g in df.groupby("replicate"):
        cells = []
        for m in MEASURES:
            x = g[g.measure == m].near_twin_share
            cells.append(
                f"{100 * x.mean():.1f} % [{100 * x.min():.1f}–{100 * x.max():.1f}], "
                f"{int((x > NEAR_TWIN_MAX).sum())}/{len(x)}"
            )
        lines.append(f"| {r} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--results", help="a committed grid (its config.json names the GANs)")
    ap.add_argument("--runs", help="the grid's GAN run folders")
    ap.add_argument("--data", help="Kaggle-layout folder (chest_xray_224)")
    ap.add_argument("--fraction", type=float, default=0.1)
    ap.add_argument("--draws", type=int, default=10)
    ap.add_argument("--csv", default="benchmarks/variety_sample_size_cpu.csv")
    ap.add_argument("--table-only", action="store_true", help="print the table of an existing --csv, then stop")
    a = ap.parse_args()
    if a.table_only:
        print(markdown_table(pd.read_csv(a.csv)))
        return
    if not (a.results and a.runs and a.data):
        ap.error("--results, --runs and --data are required unless --table-only is given")

    exp, splits = open_grid(a.results, a.data)
    split_normal = splits.train.of_class(0).images
    rows = []
    for r in replicates_at(exp, a.fraction):
        real = fraction_subset(splits.train, a.fraction, r)
        own = real.of_class(0).images
        run = per_class_runs(subset_gan_dir(exp, real, Path(a.runs), a.fraction, r, create=False))[0]
        G = load_generator(run, "cpu")[0]
        for s in range(a.draws):
            fake = generate(G, None, 400, 1000 + s, torch.device("cpu"))  # draws the grid's record did not use
            for name, n in MEASURES.items():
                ref = own if name.startswith("own") else split_normal
                d = class_diversity(fake, ref, n=n or len(own), seed=s).numbers
                rows.append(
                    {"replicate": r, "measure": name, "draw": s, "n": d["n"]}
                    | {k: round(d[k], 4) for k in ("near_twin_share", "near_twin_threshold", "pairwise_ratio")}
                )
        print(f"replicate {r} measured", flush=True)
    df = pd.DataFrame(rows)
    df.to_csv(a.csv, index=False)
    print(markdown_table(df))


if __name__ == "__main__":
    main()
