"""xraygan: do GAN-generated chest X-rays make a pneumonia classifier better?

The package follows the chain of the notebooks: `data` (sources, cache, patient splits), `gan` (training, run
folders, export), `review` (is the synthetic set any good), `study` (the classifier grid and its analysis).
Settings are resolved once into an `Experiment` (`build_experiment(preset, **overrides)`) and passed down."""

from xraygan.config import DataConfig
from xraygan.data import ImageSet, load_splits
from xraygan.device import pick_device
from xraygan.experiment import Experiment, build_experiment

__version__ = "0.1.0"
__all__ = ["DataConfig", "Experiment", "ImageSet", "build_experiment", "load_splits", "pick_device", "__version__"]
