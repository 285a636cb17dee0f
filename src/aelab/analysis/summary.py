"""A sweep's summary: mean, standard deviation and 95% confidence interval of every metric per
setting, over seeds, and the paired gain over ``supervised``. Pure functions of its rows."""

from __future__ import annotations

import math

import pandas as pd
from scipy import stats

# The metrics a sweep's row holds for a trained model (a baseline holds test_accuracy only).
METRICS = (
    "test_accuracy",
    "train_accuracy",
    "unlabelled_accuracy",
    "test_reconstruction_mse",
    "reconstruction_drift",
    "cka_to_pretrained",
    "knn_accuracy",
)


SETTING_COLUMNS = (
    "kind",
    "strategy",
    "labels",
    "code",
    "noise",
    "beta",
    "recon_weight",
    "learning_rate",
)


def setting_text(value) -> str:
    """A setting as text: ``""`` for a missing one (a baseline's lambda)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


GAIN = "gain_over_supervised"


def _gain_over_supervised(frame, keys: list[str]):
    """Each row's held-out accuracy minus that of ``supervised`` with the same seed, labels
    and network (and learning rate, for aelab's rows): a paired difference, whose interval
    over seeds is much tighter than the difference of two means' intervals."""
    sup = frame[(frame["kind"] == "aelab") & (frame["strategy"] == "supervised")]
    if sup.empty:
        return frame
    shared = ["seed", *(c for c in ("labels", "code", "noise", "beta") if c in keys)]
    ours = frame["kind"] == "aelab"
    same_lr = sup[[*shared, "learning_rate", "test_accuracy"]].rename(
        columns={"test_accuracy": "_sup"}
    )
    any_lr = sup.drop_duplicates(subset=shared)[[*shared, "test_accuracy"]].rename(
        columns={"test_accuracy": "_sup"}
    )
    parts = [
        frame[ours].merge(same_lr, on=[*shared, "learning_rate"], how="left"),
        frame[~ours].merge(any_lr, on=shared, how="left"),
    ]
    merged = pd.concat(parts, ignore_index=True)
    merged[GAIN] = pd.to_numeric(merged["test_accuracy"]) - pd.to_numeric(merged["_sup"])
    return merged.drop(columns="_sup")


def summarise(results):
    """Mean, standard deviation and 95% confidence interval (Student's t over seeds) of
    every metric, per setting, and of the paired gain over ``supervised`` (when it was
    trained); best mean held-out accuracy first."""
    keys = [c for c in SETTING_COLUMNS if c in results.columns]
    frame = results.copy()
    for c in keys:  # settings group as text; an empty one (a baseline's lambda) as ""
        frame[c] = frame[c].map(setting_text).astype(object)
    # One row per seed and setting: a repeated row must not narrow the interval.
    frame = frame.drop_duplicates(subset=["seed", *keys], keep="last")
    frame = _gain_over_supervised(frame, keys)
    out = []
    for setting, group in frame.groupby(keys, sort=False):
        row = dict(zip(keys, setting, strict=True))
        row["n_seeds"] = int(group["seed"].nunique())
        if "diverged" in group:  # their numbers are missing, not counted in the means
            row["n_diverged"] = int(group["diverged"].astype(str).isin(["True", "1"]).sum())
        for metric in (*METRICS, GAIN):
            if metric not in group:
                continue
            values = pd.to_numeric(group[metric], errors="coerce").dropna().to_numpy(float)
            if not len(values):
                continue
            mean = float(values.mean())
            sd = float(values.std(ddof=1)) if len(values) > 1 else float("nan")
            half = (
                float(stats.t.ppf(0.975, len(values) - 1) * sd / math.sqrt(len(values)))
                if len(values) > 1
                else float("nan")
            )
            row[f"{metric}_mean"] = mean
            row[f"{metric}_sd"] = sd
            row[f"{metric}_ci95_low"] = mean - half
            row[f"{metric}_ci95_high"] = mean + half
        out.append(row)
    summary = pd.DataFrame(out)
    return summary.sort_values("test_accuracy_mean", ascending=False, kind="stable").reset_index(
        drop=True
    )
