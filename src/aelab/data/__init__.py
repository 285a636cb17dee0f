"""Data: built-in datasets, the user's files, splits, labelled masks and scaling."""

from aelab.data.datasets import DATASETS, BuiltIn, Dataset, load_dataset
from aelab.data.files import load_data, load_file, looks_like_file, npy_labels_path
from aelab.data.split import Split, split_dataset

__all__ = [
    "DATASETS",
    "BuiltIn",
    "Dataset",
    "Split",
    "load_data",
    "load_dataset",
    "load_file",
    "looks_like_file",
    "npy_labels_path",
    "split_dataset",
]
