"""``aelab predict``: a run's model on a data file, each row's class, probabilities and code
written to a CSV file that did not exist before."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aelab.data import input_columns, read_inputs
from aelab.errors import AelabError, ConfigError
from aelab.outputs.loaded import load_run


@dataclass(frozen=True)
class Predicted:
    """What :func:`predict_file` wrote: the file, the stage, the rows, and the accuracy on
    the data's own labels (``None`` without labels that name the run's classes)."""

    path: Path
    stage: str
    rows: int
    accuracy: float | None


def predict_file(
    run_dir: str | Path,
    data: str | Path,
    *,
    stage: str | None = None,
    out: str | Path = "predictions.csv",
) -> Predicted:
    """Predict every sample of ``data`` (a data file, read as ``aelab run`` reads it, or a
    built-in dataset's name) with ``stage``'s model of the run ``run_dir`` (the first
    strategy by default) and write ``out``: a row per sample, ``predicted``, ``p_<class>``
    and ``z0``, ``z1``, …. A table's label column may be absent; where the data has labels
    that name the run's classes, the accuracy is measured on them.

    Raises:
        ConfigError: ``out`` exists (it is never overwritten) or its folder does not, or
            the stage is not one that predicts.
        DataError: the data cannot be read, or lacks a feature the model takes.
    """
    out = Path(out)
    if out.exists():
        raise ConfigError(f"{out} already exists; choose another --out or remove it")
    if not out.parent.is_dir():
        raise ConfigError(f"--out: folder {str(out.parent)!r} does not exist; create it first")
    run = load_run(run_dir)
    stage = run.classifier_stage if stage is None else stage
    info = run.info(stage)  # a table's own columns, and which of them hold text
    columns, text = input_columns(info), tuple(info.get("categories", {}))
    inputs = read_inputs(data, run.class_names, columns, text, info.get("image_shape", ()))
    table = run.predictions(inputs.samples, stage, source=inputs.name)
    accuracy = None
    if inputs.labels is not None:
        accuracy = float(np.mean(table["predicted"].to_numpy() == inputs.labels))
    text = table.to_csv(index=False, float_format="%.8g", lineterminator="\n")
    try:
        with open(out, "x", encoding="utf-8", newline="") as f:  # "x": never over a file
            try:
                f.write(text)
            except OSError:
                out.unlink(missing_ok=True)
                raise
    except FileExistsError:
        raise ConfigError(f"{out} already exists; choose another --out or remove it") from None
    except OSError as exc:
        raise AelabError(f"could not write {str(out)!r}: {exc.strerror or exc}") from None
    return Predicted(out, stage, len(table), accuracy)
