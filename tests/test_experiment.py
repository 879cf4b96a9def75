"""One resolved Experiment passed down: presets resolved once, overrides reach the study, unknown names refused,
run and results folders keyed by what made them."""

from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path

import pytest

import xraygan.experiment as experiment_mod
from tests.conftest import TEST_SIZE, phantom_experiment
from xraygan.checkpoint import CheckpointError, keyed_dir
from xraygan.config import ClassifierConfig, DataConfig, GANConfig, StudyConfig
from xraygan.experiment import Experiment, build_experiment
from xraygan.study.run import StaleResultsError, run_study

PHANTOM = DataConfig(source="phantom", phantom_per_class=24)


def test_overrides_reach_every_stage_and_round_trip() -> None:
    exp = build_experiment("cpu", data=PHANTOM, gan={"ngf": 16}, classifier={"steps": 100}, study={"seeds": 2})
    assert exp.gan.ngf == 16 and exp.gan_subset.ngf == 16  # a GAN override reaches the subset GANs too
    assert exp.gan.steps == 2400 and exp.gan_subset.steps == 600 and exp.gan_at(0.1) is exp.gan_subset
    assert exp.classifier.steps == 100 and exp.study.seeds == 2 and exp.data == PHANTOM
    assert Experiment.from_dict(json.loads(json.dumps(exp.to_dict()))) == exp


def test_unknown_names_sizes_and_fields_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown condition 'typo'.*dcgan_R"):
        StudyConfig(conditions=("baseline", "typo"))
    with pytest.raises(ValueError, match="once"):
        StudyConfig(conditions=("baseline", "baseline"))
    with pytest.raises(ValueError, match=r"image_size=48: use one of \(28, 32, 64, 128, 224\)"):
        DataConfig(image_size=48)
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['ngff'\].*'ngf'"):
        build_experiment("cpu", gan={"ngff": 16})
    with pytest.raises(ValueError, match=r"unknown override\(s\) \['gans'\]"):
        build_experiment("cpu", gans={})
    with pytest.raises(ValueError, match="preset 'laptop': choose one of"):
        build_experiment("laptop")
    with pytest.raises(ValueError, match="use one size"):
        build_experiment("cpu", data=DataConfig(image_size=128))
    with pytest.raises(ValueError, match="unknown field"):
        Experiment.from_dict({**build_experiment("smoke").to_dict(), "extra": 1})


def test_augmentation_conditions_are_refused_where_the_classifier_already_augments() -> None:
    assert build_experiment("paper").classifier.augment  # the study's classifier augments: its baseline does
    with pytest.raises(
        ValueError, match=r"already trains with classic augmentation.*\['classic_aug', 'dcgan_100\+aug'\]"
    ):
        build_experiment("paper", study={"conditions": ("baseline", "classic_aug", "dcgan_100+aug", "dcgan_100")})
    plain = build_experiment("paper", classifier={"augment": False}, study={"conditions": ("baseline", "classic_aug")})
    assert plain.study.conditions == ("baseline", "classic_aug")  # without it the comparison means something


def test_run_study_uses_the_experiment_it_is_given(tmp_path: Path, monkeypatch) -> None:
    exp = phantom_experiment(
        gan_subset={"steps": 15},
        classifier=ClassifierConfig(width=4, steps=30, batch_size=16, eval_every=10),
        study={"fractions": (0.5,), "seeds": 2, "conditions": ("baseline", "dcgan_50")},
    )
    monkeypatch.setattr(experiment_mod, "PRESETS", {})  # nothing below the entry point may look a preset up
    df = run_study(exp, tmp_path / "res", tmp_path / "runs", device="cpu", progress=False)
    assert len(df) == 4 and set(df.best_step) <= {10, 20, 30}  # the experiment's classifier budget
    (gan_folder,) = (tmp_path / "runs" / "gan").iterdir()
    key = json.loads((gan_folder / "key.json").read_text())
    assert key["gan"]["steps"] == 15 and key["fraction"] == 0.5
    assert json.loads((gan_folder / "NORMAL" / "config.json").read_text())["steps"] == 15
    saved = json.loads((tmp_path / "res" / "config.json").read_text())
    assert Experiment.from_dict(saved["experiment"]) == exp and saved["data_fingerprint"]


def test_a_changed_config_never_reuses_a_stale_gan_or_result(tmp_path: Path) -> None:
    study = {"fractions": (0.5,), "seeds": 2, "conditions": ("baseline", "dcgan_50")}
    exp = phantom_experiment(study=study)
    run_study(exp, tmp_path / "res", tmp_path / "runs", device="cpu", progress=False)
    longer = dataclasses.replace(exp, gan_subset=dataclasses.replace(exp.gan_subset, steps=15))
    with pytest.warns(UserWarning, match="gan.steps: 10 there, 15 here"):
        run_study(longer, tmp_path / "res2", tmp_path / "runs", device="cpu", progress=False)
    assert len(list((tmp_path / "runs" / "gan").iterdir())) == 2  # a second GAN set, the first one untouched
    # the first results folder holds 10-step GAN models: adding rows from another setting is refused
    with pytest.raises(StaleResultsError, match="gan_subset.steps: 10 there, 15 here"):
        run_study(longer, tmp_path / "res", tmp_path / "runs", device="cpu", progress=False)
    # more seeds extend the same folder (grid settings only say which cells to run)
    more = dataclasses.replace(exp, study=dataclasses.replace(exp.study, seeds=3))
    assert len(run_study(more, tmp_path / "res", tmp_path / "runs", device="cpu", progress=False)) == 6


def test_keyed_dir_names_the_differing_field(tmp_path: Path) -> None:
    a = keyed_dir(tmp_path, "f1_s0", {"gan": {"ngf": 8, "lr": 1e-3}, "n": 3})
    assert a == keyed_dir(tmp_path, "f1_s0", {"n": 3, "gan": {"lr": 1e-3, "ngf": 8}})  # same key, same folder
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        b = keyed_dir(tmp_path, "f1_s0", {"gan": {"ngf": 16, "lr": 1e-3}, "n": 3})
    assert b != a and "gan.ngf: 8 there, 16 here" in str(w[0].message)
    (b / "key.json").write_text(json.dumps({"gan": {"ngf": 99, "lr": 1e-3}, "n": 3}))  # an edited key
    with pytest.raises(CheckpointError, match="gan.ngf: 99 there, 16 here"):
        keyed_dir(tmp_path, "f1_s0", {"gan": {"ngf": 16, "lr": 1e-3}, "n": 3})
    with pytest.raises(CheckpointError, match="gan.ngf: 99 there, 16 here"):  # a look-up checks the key too
        keyed_dir(tmp_path, "f1_s0", {"gan": {"ngf": 16, "lr": 1e-3}, "n": 3}, create=False)
    before = sorted(tmp_path.rglob("*"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and neither warns nor makes anything
        c = keyed_dir(tmp_path, "f1_s0", {"gan": {"ngf": 32, "lr": 1e-3}, "n": 3}, create=False)
    assert c not in (a, b) and sorted(tmp_path.rglob("*")) == before


def test_gan_resume_refuses_a_checkpoint_of_other_settings(tmp_path: Path) -> None:
    from xraygan.data.phantom import phantom_set
    from xraygan.gan.training import train_gan

    cfg = GANConfig(
        image_size=TEST_SIZE, nz=8, ngf=4, ndf=4, batch_size=8, steps=4, log_every=2, sample_every=2, ckpt_every=2
    )
    train = phantom_set(16, TEST_SIZE, seed=0)
    train_gan(cfg, train, tmp_path / "g", class_label=0, device="cpu", progress=False)
    train_gan(dataclasses.replace(cfg, steps=6), train, tmp_path / "g", class_label=0, device="cpu", progress=False)
    with pytest.raises(CheckpointError, match="lr_d"):
        train_gan(dataclasses.replace(cfg, lr_d=1e-3, steps=8), train, tmp_path / "g", 0, "cpu", progress=False)


def test_a_results_folder_from_before_a_new_field_is_not_stale(tmp_path: Path) -> None:
    """Fields added to a config later default to the old behaviour, so an older config.json without them
    still matches (the committed results must resume after such a change)."""
    exp = phantom_experiment(study={"fractions": (0.5,), "seeds": 2, "conditions": ("baseline",)})
    run_study(exp, tmp_path / "res", tmp_path / "runs", device="cpu", progress=False)
    cfg = tmp_path / "res" / "config.json"
    saved = json.loads(cfg.read_text())
    for k in ("val_scaled", "val_min_per_class"):  # as written before these fields existed
        del saved["experiment"]["study"][k]
    cfg.write_text(json.dumps(saved))
    assert len(run_study(exp, tmp_path / "res", tmp_path / "runs", device="cpu", progress=False)) == 2
    scaled = dataclasses.replace(exp, study=dataclasses.replace(exp.study, val_scaled=True))
    with pytest.raises(StaleResultsError, match="val_scaled: False there, True here"):
        run_study(scaled, tmp_path / "res", tmp_path / "runs", device="cpu", progress=False)


def test_paper_ms_differs_from_paper_only_in_its_subset_gans_and_classifier_precision() -> None:
    """The rerun of paper's 10 % fraction: the same subsets, GAN seeds, classifier recipe and conditions;
    mode seeking on the subset GANs, bf16 channels-last classifier on CPU, and no full-split fraction."""
    paper, ms = build_experiment("paper"), build_experiment("paper_ms")
    assert ms.gan_subset == dataclasses.replace(paper.gan_subset, mode_seeking=1.0)
    assert ms.classifier == dataclasses.replace(paper.classifier, cpu_bf16=True, channels_last=True)
    assert ms.study.fractions == (0.1,) and ms.study.seeds_at(0.1) == ms.study.subsets == paper.study.subsets
    for field in ("independent_gans", "val_scaled", "conditions", "val_min_per_class"):
        assert getattr(ms.study, field) == getattr(paper.study, field), field
