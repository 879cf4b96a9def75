"""Output folders: the environment variable wins; otherwise the repository root, also from notebooks/."""

from pathlib import Path

from xraygan.figures import figures_dir
from xraygan.gan_runs import runs_dir
from xraygan.paths import output_dir
from xraygan.study import results_dir


def test_output_dirs(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "notebooks").mkdir()
    monkeypatch.delenv("XRAYGAN_RUNS", raising=False)
    monkeypatch.delenv("XRAYGAN_RESULTS", raising=False)
    monkeypatch.chdir(tmp_path / "notebooks")
    assert runs_dir() == tmp_path / "runs" and results_dir("cpu") == tmp_path / "results" / "cpu"
    monkeypatch.chdir(tmp_path)
    assert output_dir("XRAYGAN_RUNS", "runs") == tmp_path / "runs"
    monkeypatch.setenv("XRAYGAN_RESULTS", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("XRAYGAN_FIGURES", str(tmp_path / "figs"))
    assert results_dir("colab") == tmp_path / "elsewhere" / "colab"
    assert figures_dir() == tmp_path / "figs" and (tmp_path / "figs").is_dir()
