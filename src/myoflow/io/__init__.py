"""Reading and writing recordings: native format, dataset folders, readers."""
from .native import load, save
from .dataset import Dataset, load_dataset, write_dataset

__all__ = ["save", "load", "Dataset", "load_dataset", "write_dataset"]
