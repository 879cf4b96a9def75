"""xraygan: do GAN-generated chest X-rays make a pneumonia classifier better?"""

from xraygan.config import DataConfig
from xraygan.data import ImageSet, load_splits
from xraygan.device import pick_device

__version__ = "0.1.0"
__all__ = ["DataConfig", "ImageSet", "load_splits", "pick_device", "__version__"]
