"""Data: built-in datasets, the user's files, splits, labelled masks, encoding and scaling,
and raw samples made into a trained model's inputs."""

from aelab.data.columns import CATEGORICAL_MODES, MAX_CATEGORIES
from aelab.data.datasets import DATASETS, BuiltIn, Dataset, load_dataset
from aelab.data.encoding import IMPUTE, Encoding, encode
from aelab.data.files import load_data, load_file, looks_like_file, npy_labels_path
from aelab.data.inputs import Inputs, input_columns, model_inputs, read_inputs
from aelab.data.split import Split, split_dataset

__all__ = [
    "CATEGORICAL_MODES",
    "DATASETS",
    "IMPUTE",
    "MAX_CATEGORIES",
    "BuiltIn",
    "Dataset",
    "Encoding",
    "Inputs",
    "Split",
    "encode",
    "input_columns",
    "load_data",
    "load_dataset",
    "load_file",
    "looks_like_file",
    "model_inputs",
    "npy_labels_path",
    "read_inputs",
    "split_dataset",
]
