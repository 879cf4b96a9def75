"""Output folders: the environment variable wins; otherwise the repository root, also from notebooks/."""

from pathlib import Path

from xraygan.paths import figures_dir, output_dir, results_dir, runs_dir, shown


def test_output_dirs(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "notebooks").mkdir()
    monkeypatch.delenv("XRAYGAN_RUNS", raising=False)
    monkeypatch.delenv("XRAYGAN_RESULTS", raising=False)
    monkeypatch.chdir(tmp_path / "notebooks")
    assert runs_dir("cpu") == tmp_path / "runs" / "cpu" and results_dir("cpu") == tmp_path / "results" / "cpu"
    monkeypatch.chdir(tmp_path)
    assert output_dir("XRAYGAN_RUNS", "runs") == tmp_path / "runs"
    monkeypatch.setenv("XRAYGAN_RESULTS", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("XRAYGAN_FIGURES", str(tmp_path / "figs"))
    assert results_dir("colab") == tmp_path / "elsewhere" / "colab"
    assert figures_dir() == tmp_path / "figs" and (tmp_path / "figs").is_dir()


def test_paths_are_shown_without_the_machine(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XRAYGAN_RUNS", str(tmp_path / "scratch" / "runs"))
    assert shown(tmp_path / "runs" / "cpu" / "gan") == "runs/cpu/gan"  # inside the repository
    assert shown(tmp_path / "scratch" / "runs" / "cpu") == "$XRAYGAN_RUNS/cpu"
    assert shown("/somewhere/else/data/chest_xray") == ".../data/chest_xray"
