"""The augmentation study: fractions x conditions x seeds, each cell one trained classifier, one test read.

Finished cells are appended to results/<preset>/runs.jsonl as they complete, so an interrupted sweep
resumes where it stopped. GANs are trained per (fraction, subset) on exactly the real images the
classifier of that subset sees."""

from __future__ import annotations

import dataclasses
import json
import multiprocessing as mp
import time
from pathlib import Path

import pandas as pd
import torch

from xraygan.classifier import GuardedTest, evaluate_test, train_classifier
from xraygan.conditions import added_counts, duplicate_real, parse_condition, pick_synthetic
from xraygan.config import DataConfig, StudyConfig, preset, to_dict
from xraygan.data import Splits, load_splits
from xraygan.device import pick_device
from xraygan.export import export_synthetic, load_synthetic
from xraygan.gan_runs import train_gans
from xraygan.imageset import ImageSet
from xraygan.paths import output_dir
from xraygan.progress import tqdm
from xraygan.splits import fraction_subset


def cell_key(fraction: float, condition: str, seed: int) -> str:
    return f"{fraction:g}|{condition}|{seed}"


def subsets_at(study: StudyConfig, fraction: float) -> int:
    """Training subsets drawn at a fraction: the full training split is one subset, however many are asked."""
    return 1 if fraction >= 1.0 else study.subsets


def gan_dir(runs: Path, fraction: float, subset: int) -> Path:
    return runs / "gan" / f"f{fraction:g}_s{subset}"


def gan_config(preset_name: str, study: StudyConfig, fraction: float):
    cfg = preset(preset_name, "gan")
    if fraction < 1 and study.gan_steps:
        steps = study.gan_steps
        cfg = dataclasses.replace(
            cfg,
            steps=steps,
            sample_every=max(cfg.log_every, steps // 4 // cfg.log_every * cfg.log_every),
            ckpt_every=max(cfg.log_every, steps // 2 // cfg.log_every * cfg.log_every),
        )
    return cfg


def needed_gans(study: StudyConfig) -> set[str]:
    kinds = {parse_condition(c).gan for c in study.conditions}
    return {k for k in kinds if k}


def _pool_size(real: ImageSet) -> int:
    n0, n1 = (int((real.labels == c).sum()) for c in (0, 1))
    return max(n0, n1, abs(n1 - n0))


def prepare_gans(
    preset_name: str,
    study: StudyConfig,
    splits: Splits,
    runs: Path,
    device: str | None = None,
    progress: bool = True,
    data: DataConfig | None = None,
) -> None:
    """Train (or resume) the GANs each (fraction, subset) needs and export their synthetic pools."""
    kinds = needed_gans(study)
    if not kinds:
        return
    modes = tuple(m for m, k in (("per_class", "dcgan"), ("conditional", "cgan")) if k in kinds)
    jobs = [(f, s) for f in study.fractions for s in range(subsets_at(study, f))]
    if study.workers > 1 and data is not None:  # GANs in parallel processes first (side by side on one GPU)
        gan_jobs = [(preset_name, study, f, s, (m,), str(runs), device) for f, s in jobs for m in modes]
        with mp.get_context("spawn").Pool(
            min(study.workers, len(gan_jobs)), _worker_init, (preset_name, study, data, str(runs), device)
        ) as pool:
            for _ in tqdm(
                pool.imap_unordered(_gan_job, gan_jobs), total=len(gan_jobs), desc="GANs", disable=not progress
            ):
                pass
    for f, s in tqdm(jobs, desc="GANs per fraction and subset", disable=not progress):
        real = fraction_subset(splits.train, f, s)
        root = gan_dir(runs, f, s)
        got = train_gans(gan_config(preset_name, study, f), real, root, modes, device, progress=False)
        n = _pool_size(real)
        sources = {"dcgan": {0: got.get("NORMAL"), 1: got.get("PNEUMONIA")}, "cgan": got.get("conditional")}
        for kind, src in sources.items():
            out = root / f"pool_{kind}"
            if kind in kinds and not (out / "synthetic.pt").exists():
                export_synthetic(src, n, out, seed=s, device=device, pngs=False)


def build_training_set(
    cond_name: str,
    real: ImageSet,
    pools: dict[str, ImageSet],
    seed: int,
) -> tuple[ImageSet, ImageSet | None, dict]:
    """(training set, pretraining set or None, counts added per class) for one condition."""
    c = parse_condition(cond_name)
    if c.kind in ("baseline", "classic_aug", "class_weighted"):
        return real, None, {0: 0, 1: 0}
    counts = added_counts(real, c.ratio)
    if c.kind == "dup_real":
        return ImageSet.concat([real, duplicate_real(real, counts, seed)], "train+dup"), None, counts
    syn = pick_synthetic(pools[c.gan], counts, seed)
    if c.kind == "gan":
        return ImageSet.concat([real, syn], f"train+{c.gan}"), None, counts
    return real, syn, {0: 0, 1: 0}  # pretrain: synthetic first, then the real images


def run_cell(
    preset_name: str,
    study: StudyConfig,
    splits: Splits,
    runs: Path,
    fraction: float,
    condition: str,
    seed: int,
    device: str | None = None,
    pools_cache: dict | None = None,
) -> dict:
    """Train one classifier for (fraction, condition, seed) and return its result row."""
    t0 = time.time()
    subset = seed % subsets_at(study, fraction)
    real = fraction_subset(splits.train, fraction, subset)
    c = parse_condition(condition)
    pools: dict[str, ImageSet] = {}
    if c.gan:
        key = (fraction, subset, c.gan)
        cache = pools_cache if pools_cache is not None else {}
        if key not in cache:
            cache[key] = load_synthetic(gan_dir(runs, fraction, subset) / f"pool_{c.gan}")
        pools[c.gan] = cache[key]
    train, pre, added = build_training_set(condition, real, pools, seed)
    base = preset(preset_name, "classifier")
    cfg = dataclasses.replace(
        base, seed=seed, augment=c.kind == "classic_aug", class_weighted=c.kind == "class_weighted"
    )
    pre_steps = int(cfg.steps * study.pretrain_share) // cfg.eval_every * cfg.eval_every if pre is not None else 0
    tc = train_classifier(cfg, train, splits.val, device, pretrain=pre, pretrain_steps=pre_steps, progress=False)
    test = GuardedTest(splits.test)
    row = {
        "preset": preset_name,
        "fraction": fraction,
        "condition": condition,
        "seed": seed,
        "subset": subset,
        "n_real_normal": int((real.labels == 0).sum()),
        "n_real_pneumonia": int((real.labels == 1).sum()),
        "n_added_normal": added[0],
        "n_added_pneumonia": added[1],
        "n_pretrain": len(pre) if pre is not None else 0,
        "best_step": tc.best_step,
        "threshold": tc.threshold,
        **tc.val,
        **evaluate_test(tc, test, device),
        "test_reads": test.reads,
        "seconds": round(time.time() - t0, 2),
        "device": str(pick_device(device)),
    }
    return row


_W: dict = {}


def _worker_init(preset_name: str, study: StudyConfig, data: DataConfig, runs: str, device: str | None) -> None:
    torch.set_num_threads(1)
    _W.update(
        preset=preset_name,
        study=study,
        splits=load_splits(data, progress=False),
        runs=Path(runs),
        device=device,
        pools={},
    )


def _gan_job(job: tuple) -> None:
    preset_name, study, f, s, modes, runs, device = job
    real = fraction_subset(_W["splits"].train, f, s)
    train_gans(gan_config(preset_name, study, f), real, gan_dir(Path(runs), f, s), modes, device, progress=False)


def _worker_run(cell: tuple[float, str, int]) -> dict:
    return run_cell(
        _W["preset"], _W["study"], _W["splits"], _W["runs"], *cell, device=_W["device"], pools_cache=_W["pools"]
    )


def read_rows(path: str | Path) -> list[dict]:
    """The finished cells in a runs.jsonl; a torn last line (interrupted write) is ignored."""
    rows = []
    p = Path(path)
    if p.exists():
        for line in p.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows


def run_study(
    preset_name: str,
    data: DataConfig,
    results: str | Path,
    runs: str | Path,
    study: StudyConfig | None = None,
    device: str | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Run (or resume) the sweep; returns one row per trained model and writes runs.jsonl/runs.csv,
    config.json and summary tables in `results`."""
    study = study or preset(preset_name, "study")
    results, runs = Path(results), Path(runs)
    results.mkdir(parents=True, exist_ok=True)
    (results / "config.json").write_text(
        json.dumps(
            {
                "preset": preset_name,
                "study": to_dict(study),
                "data": to_dict(data),
                "classifier": to_dict(preset(preset_name, "classifier")),
                "gan": {f"{f:g}": to_dict(gan_config(preset_name, study, f)) for f in study.fractions},
            },
            indent=2,
        )
        + "\n"
    )
    splits = load_splits(data, progress=progress)
    prepare_gans(preset_name, study, splits, runs, device, progress, data)
    store = results / "runs.jsonl"
    finished = read_rows(store)
    if store.exists() and store.read_bytes()[-1:] not in (b"", b"\n"):  # drop a torn last line before appending
        store.write_text("".join(json.dumps(r) + "\n" for r in finished))
    done = {cell_key(r["fraction"], r["condition"], r["seed"]) for r in finished}
    cells = [
        (f, c, s)
        for f in study.fractions
        for s in range(study.seeds_at(f))
        for c in study.conditions
        if cell_key(f, c, s) not in done
    ]
    bar = tqdm(total=len(cells), desc=f"study {preset_name}", disable=not progress)
    with open(store, "a") as out:

        def keep(row: dict) -> None:
            out.write(json.dumps(row) + "\n")
            out.flush()
            bar.update(1)
            bar.set_postfix(last=f"{row['condition']}@{row['fraction']:g}")

        if study.workers > 1 and cells:
            ctx = mp.get_context("spawn")
            with ctx.Pool(study.workers, _worker_init, (preset_name, study, data, str(runs), device)) as pool:
                for row in pool.imap_unordered(_worker_run, cells):
                    keep(row)
        else:
            pools: dict = {}
            for cell in cells:
                keep(run_cell(preset_name, study, splits, runs, *cell, device=device, pools_cache=pools))
    bar.close()
    df = pd.DataFrame(read_rows(store))
    write_tables(df, results)
    return df


def write_tables(df: pd.DataFrame, results: str | Path) -> None:
    """runs.csv (one row per model), summary.csv, paired.csv and answer.csv beside the figures."""
    from xraygan.analysis import answer_table, paired_table, summary_table

    results = Path(results)
    df.drop(columns=["test_probs"]).to_csv(results / "runs.csv", index=False)
    summary_table(df).round(3).to_csv(results / "summary.csv", index=False)
    paired = paired_table(df)
    paired.round(4).to_csv(results / "paired.csv", index=False)
    if len(paired):
        answer_table(paired).to_csv(results / "answer.csv", index=False)


def results_dir(preset_name: str) -> Path:
    """XRAYGAN_RESULTS/<preset>, else the repository's results/<preset> (also when run from notebooks/)."""
    return output_dir("XRAYGAN_RESULTS", "results") / preset_name


def load_results(results: str | Path) -> pd.DataFrame:
    """All finished models of a results folder (runs.jsonl), with test probabilities."""
    rows = read_rows(Path(results) / "runs.jsonl")
    if not rows:
        raise FileNotFoundError(f"no finished models in {results}/runs.jsonl: run 'python -m xraygan study' first")
    return pd.DataFrame(rows)
