"""Command line: python -m xraygan {data,gan,review,study} ... (argparse lives here only)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from xraygan.experiment import PRESETS


def _data_describe(a: argparse.Namespace) -> int:
    from xraygan.data import describe

    print(json.dumps(describe(a.root, a.cache_dir, a.size), indent=2))
    return 0


def _data_cfg(a: argparse.Namespace):
    from xraygan.config import DataConfig

    return DataConfig(source=a.source, root=a.data, image_size=a.size, seed=a.data_seed)


def _add_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data",
        default=None,
        help="Kaggle-layout folder or MedMNIST-format .npz (default: XRAYGAN_DATA, ./data, Kaggle, MedMNIST)",
    )
    p.add_argument("--source", default="auto", choices=["auto", "folder", "kaggle", "medmnist", "phantom"])
    p.add_argument("--size", type=int, default=64, help="image size in px (64 or 128)")
    p.add_argument("--data-seed", type=int, default=0, help="seed of the patient-grouped validation split")


def _experiment(a: argparse.Namespace, **overrides):
    """The one place the CLI turns a preset name and its flags into an Experiment."""
    from xraygan.experiment import build_experiment

    return build_experiment(a.preset, **overrides)


def _gan_train(a: argparse.Namespace) -> int:
    import dataclasses
    import shutil

    from xraygan.data import load_splits
    from xraygan.data.splits import fraction_subset
    from xraygan.gan.runs import train_gans
    from xraygan.info import CLASSES

    exp = _experiment(a, data=_data_cfg(a), gan={"image_size": a.size})
    cfg = dataclasses.replace(exp.gan_at(a.fraction), seed=a.seed, **({"steps": a.steps} if a.steps else {}))
    train = fraction_subset(load_splits(exp.data).train, a.fraction, a.subset_seed)
    modes = {"per_class": ("per_class",), "conditional": ("conditional",), "both": ("per_class", "conditional")}
    if not a.resume:
        for name in (*CLASSES, "conditional"):
            shutil.rmtree(f"{a.out}/{name}", ignore_errors=True)
    runs = train_gans(cfg, train, a.out, modes[a.mode], device=a.device)
    print(json.dumps({k: str(v) for k, v in runs.named().items()}, indent=2))
    return 0


def _gan_export(a: argparse.Namespace) -> int:
    from xraygan.gan.export import export_synthetic
    from xraygan.gan.runs import per_class_runs

    run = Path(a.run)
    runs = run if (run / "checkpoint.pt").exists() else per_class_runs(run)
    ds = export_synthetic(runs, a.n, a.out, seed=a.seed, device=a.device)
    print(json.dumps({"out": a.out, "counts": ds.class_counts()}))
    return 0


def _study(a: argparse.Namespace) -> int:
    import dataclasses

    from xraygan.paths import results_dir, runs_dir, shown
    from xraygan.study.run import run_study

    res = str(a.results or results_dir(a.preset))
    if a.reproduce:
        return _reproduce(a, res, str(a.runs or runs_dir(a.preset)))
    if a.attention is not None:  # the committed grid's seed-0 classifiers retrained, Grad-CAM saved and drawn
        from xraygan.study.attention import grid_attention
        from xraygan.study.figures import plot_attention

        record = grid_attention(res, str(a.runs or runs_dir(a.preset)), a.attention, a.data, device=a.device)
        name = f"04_attention_{Path(res).name}"  # named after the folder, as write_report names its figures
        plot_attention(record, name)
        print(json.dumps({"attention": str(shown(Path(res) / "attention.pt")), "figure": f"figures/{name}.png"}))
        return 0
    if a.gan_variety:  # every replicate's GANs checked against the variety limits
        from xraygan.study.variety import grid_gan_variety, variety_summary

        df, missing = grid_gan_variety(res, str(a.runs or runs_dir(a.preset)), data_root=a.data, device=a.device)
        for line in missing:
            print(f"xraygan: skipped {line} (run the study to train them)", file=sys.stderr)
        if len(df):
            print(variety_summary(df).round(3).to_string(index=False))
        print(
            json.dumps(
                {
                    "rows": len(df),  # the grid's record: kept rows and the ones measured now
                    "skipped": len(missing),
                    "csv": str(shown(Path(res) / "gan_variety.csv")) if len(df) else None,
                }
            )
        )
        return 0 if len(df) else 1
    if a.against:  # this grid's models against another grid's on the same replicates, condition by condition
        from xraygan.study.analysis import across_grids
        from xraygan.study.run import read_grid

        grid = read_grid(res)
        metrics = (grid.protocol.endpoint, "test_sensitivity", "test_specificity", "test_auc")
        table = across_grids(grid.df, read_grid(a.against).df, metrics)
        out = Path(res) / f"against_{Path(a.against).name}.csv"
        table.round(4).to_csv(out, index=False)
        print(table.round(3).to_string(index=False))
        print(json.dumps({"csv": str(shown(out))}))
        return 0
    if a.tables_only:  # tables, ANSWER.md, report figures and (--readme) the README's answer block
        from xraygan.study.report import write_report

        print(json.dumps(write_report(res, a.preset, readme=a.readme)))
        return 0
    exp = _experiment(a, data=_data_cfg(a))
    st = exp.study.with_fractions(tuple(a.fractions)) if a.fractions else exp.study
    over = {
        k: v
        for k, v in (
            ("seeds", a.seeds),
            ("conditions", tuple(a.conditions) if a.conditions else None),
            ("workers", a.workers),
            ("subsets", a.subsets),
        )
        if v is not None
    }
    exp = dataclasses.replace(exp, study=dataclasses.replace(st, **over))
    df = run_study(
        exp,
        res,
        a.runs or runs_dir(a.preset),
        device=a.device,
        estimate=False if a.no_estimate else None,
        estimate_only=a.estimate_only,
        train_fractions=tuple(a.train_fractions) if a.train_fractions else None,
        max_replicates=a.replicates,
        rows_from=a.rows_from,
    )
    print(json.dumps({"models": len(df), "results": res}))
    return 0


def _reproduce(a: argparse.Namespace, results: str, runs: str) -> int:
    from xraygan.study.reproduce import made_elsewhere, reproduce_cells
    from xraygan.study.run import Cell

    cells = []
    for spec in a.reproduce:
        parts = spec.split(",")
        if len(parts) != 3:
            raise SystemExit(f"xraygan: --reproduce {spec!r}: write FRACTION,CONDITION,SEED, e.g. 0.1,baseline,0")
        cells.append(Cell(float(parts[0]), parts[1], int(parts[2])))
    diffs = reproduce_cells(results, runs, cells, data_root=a.data, device=a.device)
    elsewhere = made_elsewhere(results, cells, a.device)
    if elsewhere:
        print(f"xraygan: {elsewhere}", file=sys.stderr)
    print(json.dumps({k: {f: list(v) for f, v in d.items()} or "identical" for k, d in diffs.items()}, indent=2))
    return 1 if any(diffs.values()) else 0


def _review(a: argparse.Namespace) -> int:
    from xraygan.config import DataConfig
    from xraygan.data import load_splits
    from xraygan.review.core import load_synthetic_folder, review
    from xraygan.review.diversity import warnings_for

    syn = load_synthetic_folder(a.synthetic)
    data = DataConfig(root=a.real, image_size=syn.image_size, seed=a.data_seed)
    exp = _experiment(a, data=data, gan={"image_size": syn.image_size})
    out = Path(a.out or Path(a.synthetic) / "review")
    res = review(load_splits(exp.data), syn, out, exp.classifier, device=a.device, feature_dir=a.feature_dir)
    print(json.dumps(res.headline() | {"json": str(out / "review.json")}, indent=2))
    for w in warnings_for(res.diversity):
        print(f"xraygan: warning: {w}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="xraygan", description="GAN augmentation for chest X-ray classification.")
    sub = p.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="inspect data sources").add_subparsers(dest="action", required=True)
    d = data.add_parser("describe", help="print image/patient counts and skipped files as JSON")
    d.add_argument(
        "--root", required=True, help="Kaggle-layout folder (train|test/NORMAL|PNEUMONIA) or MedMNIST-format .npz"
    )
    d.add_argument("--size", type=int, default=64, help="decode size in px (cached)")
    d.add_argument("--cache-dir", default=None, help="cache folder (default XRAYGAN_CACHE or ~/.cache/xraygan)")
    d.set_defaults(func=_data_describe)

    gan = sub.add_parser("gan", help="train GANs and export synthetic images").add_subparsers(
        dest="action", required=True
    )
    t = gan.add_parser("train", help="train (or resume) per-class and/or conditional DCGANs")
    _add_data_args(t)
    t.add_argument("--mode", default="per_class", choices=["per_class", "conditional", "both"])
    t.add_argument("--preset", default="cpu", choices=sorted(PRESETS), help="named settings (see README: Presets)")
    t.add_argument("--steps", type=int, default=None, help="override the preset's step count")
    t.add_argument("--fraction", type=float, default=1.0, help="train on this stratified fraction of train")
    t.add_argument("--subset-seed", type=int, default=0)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", default=None, help="cuda | cpu (default: cuda when present)")
    t.add_argument("--out", required=True, help="run folder (holds NORMAL/, PNEUMONIA/, conditional/)")
    t.add_argument(
        "--resume",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="resume from checkpoints in --out (default) or start over",
    )
    t.set_defaults(func=_gan_train)
    e = gan.add_parser("export", help="write N synthetic images per class (PNG, manifest.csv, synthetic.pt)")
    e.add_argument("--run", required=True, help="a run folder from 'gan train' (or one conditional run)")
    e.add_argument("--n", type=int, default=1000, help="images per class")
    e.add_argument("--out", required=True)
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--device", default=None)
    e.set_defaults(func=_gan_export)

    s = sub.add_parser("study", help="run (or resume) the augmentation sweep and write results/<preset>/")
    _add_data_args(s)
    s.add_argument(
        "--preset",
        default="cpu",
        choices=sorted(PRESETS),
        help="named settings: fractions, seeds, conditions, GAN and classifier",
    )
    s.add_argument("--fractions", type=float, nargs="+", default=None, help="override the preset's fractions")
    s.add_argument(
        "--train-fractions",
        type=float,
        nargs="+",
        default=None,
        help="train only these fractions' models now (curve fractions too); the grid stays the preset's, so "
        "a later call resumes the rest",
    )
    s.add_argument(
        "--replicates",
        type=int,
        default=None,
        metavar="N",
        help="train at most N of the replicates still to do (one fraction's GANs and classifiers of a replicate), "
        "then stop: a share of a long grid that ends between replicates; a later call resumes",
    )
    s.add_argument(
        "--rows-from",
        default=None,
        metavar="RESULTS",
        help="take the rows of conditions without GAN images (baseline, duplicated real images) from this results "
        "folder, made with the same settings but for the GANs, instead of training them again (rows_from.json "
        "records them)",
    )
    s.add_argument("--seeds", type=int, default=None)
    s.add_argument("--subsets", type=int, default=None)
    s.add_argument("--conditions", nargs="+", default=None, help="e.g. baseline dup_real_100 dcgan_100")
    s.add_argument("--workers", type=int, default=None, help="parallel training processes")
    s.add_argument(
        "--results", default=None, help="results folder (default XRAYGAN_RESULTS/<preset>, else results/<preset>)"
    )
    s.add_argument("--runs", default=None, help="GAN run folder (default XRAYGAN_RUNS/<preset>, else runs/<preset>)")
    s.add_argument("--device", default=None)
    s.add_argument(
        "--tables-only",
        action="store_true",
        help="rewrite the tables, ANSWER.md and the report figures from runs.jsonl only (no training)",
    )
    s.add_argument(
        "--estimate-only",
        action="store_true",
        help="print what is left and how long it will take on this machine (rates measured first), then stop",
    )
    s.add_argument(
        "--no-estimate",
        action="store_true",
        help="train without timing first (on a GPU the timing costs one to two minutes of a short lease: worker "
        "processes start and warm up; for a resumed grid whose rates are known)",
    )
    s.add_argument(
        "--readme", default=None, help="with --tables-only: also rewrite this README's answer block of the preset"
    )
    s.add_argument(
        "--attention",
        type=float,
        default=None,
        metavar="FRACTION",
        help="Grad-CAM of the results folder's seed-0 baseline and first GAN condition at FRACTION, retrained "
        "from its config.json (GANs from --runs): attention.pt beside the rows, and the figure",
    )
    s.add_argument(
        "--against",
        default=None,
        metavar="RESULTS",
        help="each condition of the results folder minus the same condition in RESULTS, paired by replicate "
        "(two recipes asked one question on the same replicates): against_<name>.csv beside the rows; decides "
        "nothing",
    )
    s.add_argument(
        "--gan-variety",
        action="store_true",
        help="check every replicate's GANs, per-class and conditional (from --runs), against the variety limits: "
        "gan_variety.csv beside the rows, a summary per fraction, GAN kind and class",
    )
    s.add_argument(
        "--reproduce",
        nargs="+",
        metavar="FRACTION,CONDITION,SEED",
        help="retrain these committed cells of the results folder (its config.json, the GANs in --runs) and "
        "print the fields that differ from their rows; exit 1 if any does",
    )
    s.set_defaults(func=_study)

    r = sub.add_parser("review", help="judge synthetic images against real ones; prints JSON")
    r.add_argument("--real", required=True, help="real data folder in the Kaggle layout")
    r.add_argument("--synthetic", required=True, help="folder written by 'xraygan gan export'")
    r.add_argument("--out", default=None, help="review folder (default SYNTHETIC/review)")
    r.add_argument(
        "--feature-dir", default=None, help="where the feature network is cached (default: the review folder)"
    )
    r.add_argument(
        "--preset", default="cpu", choices=sorted(PRESETS), help="preset whose classifier is the feature network"
    )
    r.add_argument("--data-seed", type=int, default=0)
    r.add_argument("--device", default=None)
    r.set_defaults(func=_review)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, RuntimeError, FileNotFoundError) as e:  # config, data and checkpoint errors say the fix
        print(f"xraygan: error: {e}", file=sys.stderr)
        return 2
