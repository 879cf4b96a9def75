"""The augmentation study: fractions x conditions x seeds, each cell one trained classifier, one test read.

It takes one resolved Experiment and uses its GAN and classifier settings as they are. Finished cells are
appended to <results>/runs.jsonl as they complete, so an interrupted sweep resumes where it stopped; the
experiment is saved beside them, and a results folder made with other settings is refused. GANs are trained
per (fraction, subset) on exactly the real images the classifier of that subset sees, in run folders named by
what made them."""

from __future__ import annotations

import json
import multiprocessing as mp
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd
import torch

from xraygan.checkpoint import describe_diff, flat_diff
from xraygan.classifier import GuardedTest, TrainedClassifier, evaluate_test, train_classifier
from xraygan.classifier_stack import train_classifiers
from xraygan.config import ClassifierConfig, GANConfig, StudyConfig
from xraygan.data import ImageSet, Splits, load_splits
from xraygan.data.splits import fraction_subset
from xraygan.device import emulated_cpu_bf16, machine_name, pick_device, stacking_pays
from xraygan.experiment import Experiment
from xraygan.gan.export import export_synthetic, load_synthetic
from xraygan.gan.runs import gan_dir, per_class_runs, train_gans, train_per_class
from xraygan.gan.training import steps_done
from xraygan.info import CLASSES
from xraygan.paths import shown
from xraygan.progress import tqdm
from xraygan.study.conditions import added_counts, duplicate_real, parse_condition, pick_synthetic
from xraygan.study.estimate import estimate_seconds, measure_rates, progress_table, write_progress
from xraygan.study.protocol import PROTOCOL, SCHEDULE_QUESTION, Protocol

GAN_MODES = {"dcgan": "per_class", "cgan": "conditional"}  # condition's GAN kind -> train_gans mode


class StaleResultsError(RuntimeError):
    """A results folder holds models made with other settings than the experiment asked for."""


@dataclass(frozen=True)
class Cell:
    """One trained classifier of the grid."""

    fraction: float
    condition: str
    seed: int

    @property
    def key(self) -> str:
        return cell_key(self.fraction, self.condition, self.seed)


def cell_key(fraction: float, condition: str, seed: int) -> str:
    return f"{fraction:g}|{condition}|{seed}"


def planned_cells(exp: Experiment) -> list[Cell]:
    """Every model of the grid: each fraction x seed x condition, then the baseline at the curve fractions."""
    st = exp.study
    planned = [Cell(f, c, s) for f in st.fractions for s in st.seed_range(f) for c in st.conditions]
    return planned + [Cell(f, "baseline", s) for f in st.curve_fractions for s in st.seed_range(f)]


def subsets_at(exp: Experiment, fraction: float) -> int:
    """Replicates at a fraction: training subsets below 100 % (each with its own GANs); at 100 % the one full
    split with `replicates_full` independently seeded GAN sets."""
    return exp.study.replicates_full if fraction >= 1.0 else exp.study.subsets


def replicates_at(exp: Experiment, fraction: float) -> range:
    """The replicate numbers at a fraction: subsets_at(fraction) of them, from the study's first_replicate
    (each number seeds its training subset, validation subset and GANs)."""
    first = exp.study.first_replicate
    return range(first, first + subsets_at(exp, fraction))


def gan_for(exp: Experiment, fraction: float, replicate: int) -> GANConfig:
    """The GAN config of one replicate: the fraction's config, seeded by the replicate, so that replicates
    differ in their GANs as well as in their real images."""
    cfg = exp.gan_at(fraction)
    return replace(cfg, seed=cfg.seed + replicate) if exp.study.independent_gans else cfg


def needed_gans(exp: Experiment, cells: list[Cell] | None = None) -> set[str]:
    """The GAN kinds ("dcgan", "cgan") the grid's conditions use, or only the given cells' conditions: a grid
    extended by a condition trains only the GANs its new cells need."""
    names = exp.study.conditions if cells is None else {c.condition for c in cells}
    return {k for k in (parse_condition(c).gan for c in names) if k}


def subset_gan_dir(
    exp: Experiment, real: ImageSet, runs: Path, fraction: float, subset: int, create: bool = True
) -> Path:
    """The GAN folder of one (fraction, subset) whose training images are `real`: keyed by its GAN config
    and those exact images; create=False looks it up without making it (for readers, not trainers)."""
    return gan_dir(runs, gan_for(exp, fraction, subset), real, fraction, subset, create)


def validation_at(study: StudyConfig, splits: Splits, fraction: float, subset: int) -> ImageSet:
    """The validation images model selection sees at a fraction: all of them, or (val_scaled) the same
    stratified fraction of validation patients as of training patients, with a stated minimum per class."""
    if not study.val_scaled:
        return splits.val
    return fraction_subset(splits.val, fraction, subset, study.val_min_per_class)


def _pool_size(real: ImageSet) -> int:
    n0, n1 = (int((real.labels == c).sum()) for c in (0, 1))
    return max(n0, n1, abs(n1 - n0))


def replicate_of(exp: Experiment, cell: Cell) -> int:
    """The replicate (training subset, GAN set) a cell's classifier uses: its seed modulo the replicates,
    counted from the study's first_replicate."""
    first = exp.study.first_replicate
    return first + (cell.seed - first) % subsets_at(exp, cell.fraction)


def replicate_major(exp: Experiment, cells: list[Cell]) -> list[tuple[float, int, list[Cell]]]:
    """Cells grouped by (replicate, fraction), replicate 0 of every fraction first: a run stopped part way
    leaves whole replicates (their GANs and every condition's classifier), which the replicate-level analysis
    can use, rather than every GAN and few classifiers. Within a group the cells keep their order."""
    order = {f: i for i, f in enumerate((*exp.study.fractions, *exp.study.curve_fractions))}
    groups: dict[tuple[int, float], list[Cell]] = {}
    for cell in cells:
        groups.setdefault((replicate_of(exp, cell), cell.fraction), []).append(cell)
    keys = sorted(groups, key=lambda k: (k[0], order[k[1]]))
    return [(f, r, groups[(r, f)]) for r, f in keys]




def ready_replicates_first(
    exp: Experiment, splits: Splits, runs: Path, groups: list[tuple[float, int, list[Cell]]]
) -> list[tuple[float, int, list[Cell]]]:
    """The replicate groups with the replicates whose GANs are all trained (or that need none) first, each
    replicate kept whole and in its order: a run stopped while it trains GANs has not left waiting a classifier
    whose GANs were already there (e.g. a grid that reuses another's checkpoints, --runs, and lacks a few)."""
    waiting = {r for f, r, cells in groups if gan_steps_left(exp, splits, runs, [(f, r)], needed_gans(exp, cells))}
    return sorted(groups, key=lambda g: g[1] in waiting)


def prepare_gans(
    exp: Experiment,
    splits: Splits,
    runs: Path,
    device: str | None = None,
    progress: bool = True,
    jobs: list[tuple[float, int]] | None = None,
    kinds: set[str] | None = None,
) -> None:
    """Train (or resume) the GANs of the given (fraction, subset) pairs (default: all the grid needs) and
    export their synthetic pools; `kinds`: only these GAN kinds (default: every kind the grid uses)."""
    kinds = needed_gans(exp) if kinds is None else kinds
    if not kinds:
        return
    modes = tuple(GAN_MODES[k] for k in sorted(kinds, key=list(GAN_MODES).index))
    if jobs is None:
        jobs = [(f, s) for f in exp.study.fractions for s in replicates_at(exp, f)]
    if exp.study.workers > 1:  # GANs in parallel processes first (side by side on one GPU)
        gan_jobs = [(f, s, m) for f, s in jobs for m in modes]
        with mp.get_context("spawn").Pool(
            min(exp.study.workers, len(gan_jobs)), _worker_init, (exp, str(runs), device)
        ) as pool:
            for _ in tqdm(
                pool.imap_unordered(_gan_job, gan_jobs), total=len(gan_jobs), desc="GANs", disable=not progress
            ):
                pass
    elif "per_class" in modes and stacking_pays(device):  # every replicate's per-class GANs, stacked
        stacked = []
        for f, s in jobs:
            real = fraction_subset(splits.train, f, s)
            runs_f = per_class_runs(subset_gan_dir(exp, real, runs, f, s))
            stacked += [(gan_for(exp, f, s), real, run, label) for label, run in runs_f.items()]
        train_per_class(stacked, device, progress)
    one = len(jobs) == 1  # one replicate's GANs (serial study): show their steps instead of a bar of one
    for f, s in tqdm(jobs, desc="GANs per fraction and subset", disable=not progress or one):
        real = fraction_subset(splits.train, f, s)
        root = subset_gan_dir(exp, real, runs, f, s)
        got = train_gans(gan_for(exp, f, s), real, root, modes, device, progress=progress and one)
        n = _pool_size(real)
        sources = {"dcgan": got.per_class, "cgan": got.conditional}
        for kind in sorted(kinds):
            out = root / f"pool_{kind}"
            if not (out / "synthetic.pt").exists():
                export_synthetic(sources[kind], n, out, seed=s, device=device, pngs=False)


def gan_steps_left(
    exp: Experiment,
    splits: Splits,
    runs: Path,
    jobs: list[tuple[float, int]] | None = None,
    kinds: set[str] | None = None,
) -> dict[str, int]:
    """GAN steps still to train, per config name ("gan": the full split, "gan_subset": fractions below 1),
    from the step each run folder's log has reached; over the given (fraction, subset) pairs (default: all)
    and GAN kinds (default: every kind the grid uses)."""
    kinds = needed_gans(exp) if kinds is None else kinds
    left = {"gan": 0, "gan_subset": 0}
    if jobs is None:
        jobs = [(f, s) for f in exp.study.fractions for s in replicates_at(exp, f)]
    if kinds:
        for f, s in jobs:
            root = subset_gan_dir(exp, fraction_subset(splits.train, f, s), runs, f, s, create=False)
            folders = [root / c for c in CLASSES] if "dcgan" in kinds else []
            folders += [root / "conditional"] if "cgan" in kinds else []
            for run in folders:
                left["gan" if f >= 1 else "gan_subset"] += exp.gan_at(f).steps - steps_done(run)
    return {k: v for k, v in left.items() if v > 0}


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
    if c.kind == "pretrain" and not c.gan:  # pretrain_real: the same schedule on duplicated real images
        return real, duplicate_real(real, counts, seed), {0: 0, 1: 0}
    syn = pick_synthetic(pools[c.gan], counts, seed)
    if c.kind == "gan":
        return ImageSet.concat([real, syn], f"train+{c.gan}"), None, counts
    return real, syn, {0: 0, 1: 0}  # pretrain: synthetic first, then the real images


@dataclass
class CellPlan:
    """What one cell's classifier trains on, before it is trained."""

    cfg: ClassifierConfig
    train: ImageSet
    val: ImageSet
    pretrain: ImageSet | None
    pretrain_steps: int
    row: dict  # what the result row says about its training data

    @property
    def stacks(self) -> bool:
        """Can it train in a classifier stack (classifier_stack.train_classifiers)? No pretraining phase."""
        return self.pretrain is None and self.cfg.model == "simple"


def plan_cell(exp: Experiment, splits: Splits, runs: Path, cell: Cell, pools_cache: dict | None = None) -> CellPlan:
    """The classifier config, training, validation and pretraining sets of one (fraction, condition, seed)."""
    fraction, condition, seed = cell.fraction, cell.condition, cell.seed
    subset = replicate_of(exp, cell)
    real = fraction_subset(splits.train, fraction, subset)
    c = parse_condition(condition)
    pools: dict[str, ImageSet] = {}
    if c.gan:
        key = (fraction, subset, c.gan)
        cache = pools_cache if pools_cache is not None else {}
        if key not in cache:
            root = subset_gan_dir(exp, real, runs, fraction, subset, create=False)
            cache[key] = load_synthetic(root / f"pool_{c.gan}")
        pools[c.gan] = cache[key]
    train, pre, added = build_training_set(condition, real, pools, seed)
    cfg = replace(
        exp.classifier,
        seed=seed,
        augment=exp.classifier.augment or c.augment,
        class_weighted=exp.classifier.class_weighted or c.kind == "class_weighted",
    )
    share = exp.study.pretrain_share
    pre_steps = int(cfg.steps * share) // cfg.eval_every * cfg.eval_every if pre is not None else 0
    val = validation_at(exp.study, splits, fraction, subset)
    scaled = {"n_val": len(val)} if exp.study.val_scaled else {}  # rows of unscaled studies keep their shape
    row = {
        **scaled,
        "preset": exp.preset,
        "fraction": fraction,
        "condition": condition,
        "seed": seed,
        "subset": subset,
        "n_real_normal": int((real.labels == 0).sum()),
        "n_real_pneumonia": int((real.labels == 1).sum()),
        "n_added_normal": added[0],
        "n_added_pneumonia": added[1],
        "n_pretrain": len(pre) if pre is not None else 0,
    }
    return CellPlan(cfg, train, val, pre, pre_steps, row)


def _trained_row(plan: CellPlan, tc: TrainedClassifier) -> dict:
    """What a result row says about training: the cell, the selected step, the validation threshold and
    metrics, and the validation logits of the selected weights (5 decimals, as the test logits), from which
    any threshold rule that uses validation only can be recomputed without training again."""
    return {
        **plan.row,
        "best_step": tc.best_step,
        "threshold": tc.threshold,
        **tc.val,
        "val_logits": [round(float(x), 5) for x in tc.val_logits],
    }


def train_cell(
    exp: Experiment,
    splits: Splits,
    runs: Path,
    cell: Cell,
    device: str | None = None,
    pools_cache: dict | None = None,
) -> tuple[TrainedClassifier, dict]:
    """Train the classifier of one (fraction, condition, seed) with the model selection of the study (no
    test read); returns it and what the result row says about its training."""
    plan = plan_cell(exp, splits, runs, cell, pools_cache)
    tc = train_classifier(
        plan.cfg,
        plan.train,
        plan.val,
        device,
        pretrain=plan.pretrain,
        pretrain_steps=plan.pretrain_steps,
        progress=False,
    )
    return tc, _trained_row(plan, tc)


def _tested_row(tc: TrainedClassifier, row: dict, splits: Splits, seconds: float, device: str | None) -> dict:
    """The result row: training, one read of the test split, time and device."""
    test = GuardedTest(splits.test)
    return {
        **row,
        **evaluate_test(tc, test, device),
        "test_reads": test.reads,
        "seconds": round(seconds, 2),
        "device": str(pick_device(device)),
        "machine": machine_name(device),
    }


def run_cell(
    exp: Experiment,
    splits: Splits,
    runs: Path,
    cell: Cell,
    device: str | None = None,
    pools_cache: dict | None = None,
) -> dict:
    """Train one classifier for (fraction, condition, seed), read the test split once, return its result row."""
    t0 = time.time()
    tc, row = train_cell(exp, splits, runs, cell, device, pools_cache)
    return _tested_row(tc, row, splits, time.time() - t0, device)


def run_cells_stacked(
    exp: Experiment,
    splits: Splits,
    runs: Path,
    cells: list[Cell],
    device: str | None = None,
    pools_cache: dict | None = None,
) -> list[dict]:
    """The result rows of cells that share a validation set (one replicate of one fraction): those without a
    pretraining phase trained together as one classifier stack, the others one by one; each model reads the
    test split once. A row's `seconds` is its share of the stack's time."""
    plans = [plan_cell(exp, splits, runs, c, pools_cache) for c in cells]
    together = [i for i, p in enumerate(plans) if p.stacks]
    rows: dict[int, dict] = {}
    if len(together) > 1:
        t0 = time.time()
        tcs = train_classifiers(
            [plans[i].cfg for i in together], [plans[i].train for i in together], plans[together[0]].val, device
        )
        share = (time.time() - t0) / len(together)
        for i, tc in zip(together, tcs):
            rows[i] = _tested_row(tc, _trained_row(plans[i], tc), splits, share, device)
    for i, cell in enumerate(cells):
        if i not in rows:
            rows[i] = run_cell(exp, splits, runs, cell, device, pools_cache)
    return [rows[i] for i in range(len(cells))]


@dataclass
class _WorkerContext:
    """What a worker process of the pool holds: the experiment, its data, and the synthetic pools it loaded."""

    exp: Experiment
    splits: Splits
    runs: Path
    device: str | None
    pools: dict = field(default_factory=dict)


_ctx: _WorkerContext | None = None  # set once per worker process by _worker_init (a Pool initializer)


def _worker_init(exp: Experiment, runs: str, device: str | None) -> None:
    global _ctx
    torch.set_num_threads(1)
    _ctx = _WorkerContext(exp, load_splits(exp.data, progress=False), Path(runs), device)


def _gan_job(job: tuple[float, int, str]) -> None:
    assert _ctx is not None
    f, s, mode = job
    real = fraction_subset(_ctx.splits.train, f, s)
    root = subset_gan_dir(_ctx.exp, real, _ctx.runs, f, s)
    train_gans(gan_for(_ctx.exp, f, s), real, root, (mode,), _ctx.device, progress=False)


def _worker_run(cell: Cell) -> dict:
    assert _ctx is not None
    return run_cell(_ctx.exp, _ctx.splits, _ctx.runs, cell, device=_ctx.device, pools_cache=_ctx.pools)


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


# Settings that only say which cells to run (more seeds, other fractions or conditions extend a results folder).
_GRID_ONLY = ("fractions", "curve_fractions", "seeds", "conditions", "workers", "endpoint")
# Replicate counts: more replicates extend a folder too, as long as every finished row keeps its replicate
# (seed modulo the count), which check_results_folder verifies row by row.
_REPLICATE_COUNTS = ("subsets", "replicates_full")


def _row_shaping(saved: dict) -> dict:
    """The part of a results folder's config.json that decides what its rows hold. Read back through
    Experiment.from_dict, so a field added to a config since (whose default keeps the old behaviour) counts
    as its default rather than as a difference."""
    try:
        exp = json.loads(json.dumps(Experiment.from_dict(saved["experiment"]).to_dict()))
    except (KeyError, TypeError, ValueError) as e:
        raise StaleResultsError(
            f"the results folder's config.json cannot be read as an experiment ({e}); write to another results "
            "folder, or move its runs.jsonl away to start over."
        ) from e
    for k in _GRID_ONLY + _REPLICATE_COUNTS:
        exp.get("study", {}).pop(k, None)
    for k in ("root", "cache_dir", "source"):  # where the data lives; its fingerprint says what it is
        exp.get("data", {}).pop(k, None)
    for g in ("gan", "gan_subset"):
        for k in ("sample_every", "ckpt_every"):
            exp.get(g, {}).pop(k, None)
    return {"experiment": exp, "data_fingerprint": saved.get("data_fingerprint")}


def results_record(exp: Experiment, splits: Splits) -> dict:
    """What config.json says about a results folder: the experiment and the fingerprint of its data."""
    d = exp.to_dict()
    if d["data"]["root"]:
        d["data"]["root"] = shown(d["data"]["root"])  # no machine paths in committed files
    return {"experiment": d, "data_fingerprint": splits.fingerprint()}


def check_results_folder(results: Path, record: dict) -> None:
    """Refuse to add rows to a results folder whose existing rows were made with other settings."""
    cfg, store = results / "config.json", results / "runs.jsonl"
    rows = read_rows(store) if store.exists() else []
    if not (rows and cfg.exists()):
        return
    diff = flat_diff(_row_shaping(json.loads(cfg.read_text())), _row_shaping(record))
    if diff:
        raise StaleResultsError(
            f"{shown(results)} holds models made with other settings ({describe_diff(diff)}). Write to another "
            "results folder (--results, XRAYGAN_RESULTS), or move its runs.jsonl away to start over."
        )
    exp = Experiment.from_dict(record["experiment"])
    moved = [
        f"{r['fraction']:g},{r['condition']},{r['seed']} (replicate {r['subset']} there, {now} here)"
        for r in rows
        if r["subset"] != (now := replicate_of(exp, Cell(r["fraction"], r["condition"], r["seed"])))
    ]
    if moved:
        counts = {k: getattr(exp.study, k) for k in _REPLICATE_COUNTS}
        raise StaleResultsError(
            f"{shown(results)} holds models whose replicate would change with {counts}: {', '.join(moved[:5])}"
            f"{' ...' if len(moved) > 5 else ''}. Keep the replicate counts, or write to another results folder."
        )


def run_study(
    exp: Experiment,
    results: str | Path,
    runs: str | Path,
    device: str | None = None,
    progress: bool = True,
    estimate: bool | None = None,
    estimate_only: bool = False,
    train_fractions: tuple[float, ...] | None = None,
    max_replicates: int | None = None,
    rows_from: str | Path | None = None,
) -> pd.DataFrame:
    """Run (or resume) the sweep of `exp`; returns one row per trained model and writes runs.jsonl/runs.csv,
    config.json, PROGRESS.md and summary tables in `results`. Before training, prints how long what is
    left will take, from rates measured on this machine (`estimate`, default: when showing progress);
    `estimate_only`: print it and stop before training anything, writing nothing (the rows so far are
    returned; a results folder of other settings, which a run would refuse, counts as empty).
    `train_fractions`: train only the cells at these fractions (learning-curve fractions named like the
    others); the grid, its config.json and PROGRESS.md stay the whole of `exp`, so a later call resumes it.
    `max_replicates`: train at most this many of the replicates still to do (a replicate at one fraction: its
    GANs and its classifiers), in the order a full run takes them, then stop; a session's share of a long grid
    ends between replicates, with nothing half-trained left, and a later call resumes.
    `rows_from`: a results folder made with the same settings but for the GANs; its rows of conditions that use
    no GAN image are taken instead of trained again (study/reuse.py; recorded in rows_from.json)."""
    if max_replicates is not None and max_replicates < 1:
        raise ValueError(f"max_replicates {max_replicates}: train at least one replicate (or leave it unset)")
    results, runs = Path(results), Path(runs)
    splits = load_splits(exp.data, progress=progress)
    record = results_record(exp, splits)
    store = results / "runs.jsonl"
    if estimate_only:
        try:
            check_results_folder(results, record)
            finished = read_rows(store)
        except StaleResultsError as e:
            print(f"xraygan: a run would stop here: {e} The estimate counts every model as still to train.")
            finished = []
    else:
        results.mkdir(parents=True, exist_ok=True)
        check_results_folder(results, record)
        (results / "config.json").write_text(json.dumps(record, indent=2) + "\n")
        write_test_split(splits.test, results)
        write_val_split(exp, splits, results)
        finished = read_rows(store)
        if store.exists() and store.read_bytes()[-1:] not in (b"", b"\n"):  # drop a torn last line first
            store.write_text("".join(json.dumps(r) + "\n" for r in finished))
        if rows_from is not None:
            from xraygan.study.reuse import gan_free_rows, take_rows

            had = {cell_key(r["fraction"], r["condition"], r["seed"]) for r in finished}
            todo = [c for c in planned_cells(exp) if c.key not in had]
            taken = gan_free_rows(Path(rows_from), record, todo, lambda c: replicate_of(exp, c))
            take_rows(results, Path(rows_from), taken)
            print(f"xraygan: took {len(taken)} rows without GAN images from {shown(Path(rows_from))}", flush=True)
            finished = read_rows(store)
    done = {cell_key(r["fraction"], r["condition"], r["seed"]) for r in finished}
    st = exp.study
    planned = planned_cells(exp)
    if train_fractions is not None:
        unknown = sorted(set(train_fractions) - {c.fraction for c in planned})
        if unknown:
            known = sorted({c.fraction for c in planned})
            raise ValueError(f"train_fractions {unknown}: the grid {exp.preset!r} has the fractions {known}")
    cells = [c for c in planned if c.key not in done and (train_fractions is None or c.fraction in train_fractions)]
    counts: dict[tuple[float, str], int] = {}
    for cell in planned:
        counts[(cell.fraction, cell.condition)] = counts.get((cell.fraction, cell.condition), 0) + 1
    note = f"Study `{exp.preset}`: `python -m xraygan study --preset {exp.preset}` resumes it (finished models kept)."

    kept = list(finished)  # the rows of runs.jsonl, kept in memory as cells finish (not re-read per cell)

    def report_progress() -> None:
        write_progress(results / "PROGRESS.md", progress_table(pd.DataFrame(kept), counts), note)

    # only the replicates with models left train GANs (serially each just before its cells; with workers or
    # on a GPU all of them first); a finished replicate's GANs are not made again on a fresh machine
    groups = ready_replicates_first(exp, splits, runs, replicate_major(exp, cells))
    share = ""
    if max_replicates is not None:  # this call's share: the first replicates a full run would take
        now = min(max_replicates, len(groups))
        share = f" (this call: {now} of the {len(groups)} replicates left, {len(cells)} models)"
        groups = groups[:max_replicates]
        cells = [c for _, _, group in groups for c in group]
    pending = [(f, r) for f, r, group in groups if needed_gans(exp, group)]
    pending_kinds = needed_gans(exp, cells)  # the GAN kinds the models left use (an extended grid: the new ones)
    if estimate_only or (estimate if estimate is not None else progress):
        left = gan_steps_left(exp, splits, runs, pending, pending_kinds)
        if left or cells:
            rates = measure_rates(exp, splits.train, splits.val, device, gans=tuple(left))
            secs = estimate_seconds(left, len(cells) * exp.classifier.steps, rates)
            print(
                f"xraygan: study {exp.preset}: {sum(left.values())} GAN steps and {len(cells)} of {len(planned)} "
                f"models to train{share}; estimate {secs / 3600:.1f} h on {pick_device(device)} ({rates.describe()})",
                flush=True,
            )
            if emulated_cpu_bf16(device, exp.classifier.cpu_bf16):
                print(
                    f"xraygan: study {exp.preset}: its classifier trains in bf16 autocast (cpu_bf16), which this CPU "
                    "emulates (no AVX512-BF16 or AMX instructions): about 2x slower than fp32 here. The grid's rows "
                    "need the recipe unchanged; a CPU with those instructions, or a GPU, runs it several times faster.",
                    flush=True,
                )
    if estimate_only:
        return pd.DataFrame(finished)
    # with workers the GANs come first, side by side; on a GPU first too, as stacks
    if pending and (st.workers > 1 or stacking_pays(device)):
        prepare_gans(exp, splits, runs, device, progress, jobs=pending, kinds=pending_kinds)
    report_progress()
    bar = tqdm(total=len(cells), desc=f"study {exp.preset}", disable=not progress)
    with open(store, "a") as out:

        def keep(row: dict) -> None:
            out.write(json.dumps(row) + "\n")
            out.flush()
            kept.append(row)
            bar.update(1)
            bar.set_postfix(last=f"{row['condition']}@{row['fraction']:g}")
            report_progress()

        if st.workers > 1 and cells:
            with mp.get_context("spawn").Pool(st.workers, _worker_init, (exp, str(runs), device)) as pool:
                for row in pool.imap_unordered(_worker_run, cells):
                    keep(row)
        else:
            pools: dict = {}
            for f, r, group in groups:
                if kinds := needed_gans(exp, group):
                    bar.set_postfix_str(f"GANs of replicate {r} at {f:g}")
                    prepare_gans(exp, splits, runs, device, progress, jobs=[(f, r)], kinds=kinds)
                if stacking_pays(device):  # on a GPU: the replicate's classifiers as one stack
                    for row in run_cells_stacked(exp, splits, runs, group, device, pools):
                        keep(row)
                else:
                    for cell in group:
                        keep(run_cell(exp, splits, runs, cell, device=device, pools_cache=pools))
                pools.clear()  # a replicate's synthetic pools are not needed again
    bar.close()
    df = pd.DataFrame(read_rows(store))
    write_tables(df, results)
    return df


def write_test_split(test: ImageSet, results: Path) -> None:
    """test_split.json: the test labels and, per image, its patient as a number (first appearance order), so
    that the analysis can resample test patients from the stored logits without the images."""
    ids: dict[str, int] = {}
    groups = [ids.setdefault(p, len(ids)) for p in test.patients]
    record = {"labels": test.labels.tolist(), "groups": groups, "fingerprint": test.fingerprint()}
    (results / "test_split.json").write_text(json.dumps(record) + "\n")


def write_val_split(exp: Experiment, splits: Splits, results: Path) -> None:
    """val_split.json: the labels of the validation images each replicate's models select on ("fraction/subset"
    -> labels, in the order of a row's stored validation logits), so that a threshold rule on validation can be
    recomputed from the rows without the images."""
    st = exp.study
    record = {
        f"{f:g}/{r}": validation_at(st, splits, f, r).labels.tolist()
        for f in (*st.fractions, *st.curve_fractions)
        for r in replicates_at(exp, f)
    }
    (results / "val_split.json").write_text(json.dumps(record) + "\n")


def read_val_split(results: Path) -> dict[tuple[float, int], list[int]] | None:
    """val_split.json as {(fraction, subset): labels}, None where the folder has none (grids before it)."""
    path = Path(results) / "val_split.json"
    if not path.exists():
        return None
    return {(float(k.split("/")[0]), int(k.split("/")[1])): v for k, v in json.loads(path.read_text()).items()}


def read_test_split(results: Path) -> dict | None:
    path = Path(results) / "test_split.json"
    return json.loads(path.read_text()) if path.exists() else None


def saved_experiment(results: str | Path) -> Experiment | None:
    """The experiment a results folder's rows were made with (its config.json), or None without one."""
    cfg = Path(results) / "config.json"
    return Experiment.from_dict(json.loads(cfg.read_text())["experiment"]) if cfg.exists() else None


def protocol_for(exp: Experiment | None) -> Protocol:
    """The protocol a grid's verdicts are read by: PROTOCOL, with the primary endpoint the grid was written
    down with (its study.endpoint; no saved experiment: the protocol's), reading the schedule comparison where
    the grid was written down to ask it (protocol.SCHEDULE_QUESTION)."""
    if exp is None:
        return PROTOCOL
    return replace(PROTOCOL, endpoint=exp.study.endpoint, reads_schedule=exp.preset in SCHEDULE_QUESTION)


def planned_per_cell(exp: Experiment | None) -> dict[tuple[float, str], int] | None:
    """Models a grid plans per (fraction, condition); None without a saved experiment."""
    return None if exp is None else dict(Counter((c.fraction, c.condition) for c in planned_cells(exp)))


@dataclass(frozen=True)
class Grid:
    """A grid's models with what its tables are computed from: the test and validation labels it was read
    on, the protocol its verdicts are read by and the models it plans per (fraction, condition)."""

    df: pd.DataFrame
    test: dict | None = None
    val: dict | None = None
    protocol: Protocol = PROTOCOL
    planned: dict[tuple[float, str], int] | None = None

    def tables(self) -> dict[str, pd.DataFrame]:
        from xraygan.study.analysis import compute_tables

        return compute_tables(self.df, self.test, self.protocol, val=self.val)


def read_grid(results: str | Path, df: pd.DataFrame | None = None) -> Grid:
    """A results folder's grid, each file read once: its rows (runs.jsonl; or `df`, rows a run has just
    made), test and validation labels, and config.json (protocol, planned models)."""
    exp = saved_experiment(results)
    rows = load_results(results) if df is None else df
    return Grid(rows, read_test_split(results), read_val_split(results), protocol_for(exp), planned_per_cell(exp))


def write_tables(df: pd.DataFrame, results: str | Path) -> dict[str, pd.DataFrame]:
    """runs.csv (one row per model) and the tables of analysis.compute_tables beside it (save_tables); returns
    the tables."""
    tables = read_grid(results, df).tables()
    save_tables(df, tables, results)
    return tables


def save_tables(df: pd.DataFrame, tables: dict[str, pd.DataFrame], results: str | Path) -> None:
    """runs.csv (one row per model, without logits) and the tables beside it: summary.csv, paired.csv,
    answer.csv, verdict.csv, learning_curve.csv (+ _auc), exchange.csv (+ _auc) and, where the rows keep
    validation logits, threshold_rules.csv and threshold_rise.csv."""
    from xraygan.study.analysis import answer_table

    results = Path(results)
    logits = ["test_probs", "test_logits", "val_logits"]
    df.drop(columns=logits, errors="ignore").to_csv(results / "runs.csv", index=False)
    digits = {"summary": 3, "paired": 4, "verdict": 4, "learning_curve": 3, "learning_curve_auc": 4}
    for name, t in tables.items():
        if len(t) or name in ("summary", "paired"):
            exact = ("fraction", "from", "to")  # fractions keep their digits (0.02 is not 0.0)
            rounded = t.round({c: digits.get(name, 1) for c in t.columns if c not in exact})
            rounded.to_csv(results / f"{name}.csv", index=False)
    if len(tables["paired"]):
        answer_table(tables["paired"]).to_csv(results / "answer.csv", index=False)


def load_results(results: str | Path) -> pd.DataFrame:
    """All finished models of a results folder (runs.jsonl), with test probabilities."""
    rows = read_rows(Path(results) / "runs.jsonl")
    if not rows:
        raise FileNotFoundError(f"no finished models in {results}/runs.jsonl: run 'python -m xraygan study' first")
    return pd.DataFrame(rows)
