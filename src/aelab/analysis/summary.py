"""A sweep's summary: mean, standard deviation and 95% confidence interval of every metric per
setting, over seeds, and the paired gain over ``supervised``. Pure functions of its rows.

The interval is Student's t over seeds, clipped to the values the metric can take (an
accuracy or a CKA to [0, 1], a gain to [-1, 1], an error to >= 0). With few seeds t is wide
(at n = 2 it is the mean ± 12.7 standard errors); clipping drops only values the metric
cannot take, so the interval covers the true mean as often as before. A bootstrap of 2 or 3
values would give the range of those values, far too narrow. Settings with fewer than
``FEW_SEEDS`` seeds are marked wherever the summary is shown (``few_seeds``).
"""

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


# What each metric can be: its interval is clipped to these (None: no bound).
BOUNDS = {
    "test_accuracy": (0.0, 1.0),
    "train_accuracy": (0.0, 1.0),
    "unlabelled_accuracy": (0.0, 1.0),
    "test_reconstruction_mse": (0.0, None),
    "reconstruction_drift": (None, None),
    "cka_to_pretrained": (0.0, 1.0),
    "knn_accuracy": (0.0, 1.0),
    "gain_over_supervised": (-1.0, 1.0),
}
FEW_SEEDS = 5  # fewer seeds than this: an interval resting on few values, marked
SAME_AS = "same_model_as"  # the strategy that is this row's model at lambda = 0


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


def summarise(results, same_model: dict[str, str] | None = None):
    """Mean, standard deviation and 95% confidence interval (Student's t over seeds, clipped
    to the metric's ``BOUNDS``) of every metric, per setting, and of the paired gain over
    ``supervised`` (when it was trained); best mean held-out accuracy first.

    ``same_model`` maps a strategy with a reconstruction term to the strategy it is at
    lambda = 0 (``aelab.config.strategies.same_at_lambda_zero``): when both were trained
    with the same settings, the lambda = 0 rows are left out and the other's row names them
    in ``same_model_as``. Without it, every strategy keeps its rows.
    """
    keys = [c for c in SETTING_COLUMNS if c in results.columns]
    frame = results.copy()
    for c in keys:  # settings group as text; an empty one (a baseline's lambda) as ""
        frame[c] = frame[c].map(setting_text).astype(object)
    # One row per seed and setting: a repeated row must not narrow the interval.
    frame = frame.drop_duplicates(subset=["seed", *keys], keep="last")
    frame = _gain_over_supervised(frame, keys)
    frame, merged = _merge_same_models(frame, keys, same_model or {})
    out = []
    for setting, group in frame.groupby(keys, sort=False):
        row = dict(zip(keys, setting, strict=True))
        if merged:
            row[SAME_AS] = merged.get(setting, "")
        row["n_seeds"] = int(group["seed"].nunique())
        if "diverged" in group:  # their numbers are missing, not counted in the means
            row["n_diverged"] = int(group["diverged"].astype(str).isin(["True", "1"]).sum())
        for metric in (*METRICS, GAIN):
            if metric in group:
                values = pd.to_numeric(group[metric], errors="coerce").dropna().to_numpy(float)
                row |= _interval(metric, values)
        out.append(row)
    summary = pd.DataFrame(out)
    return summary.sort_values("test_accuracy_mean", ascending=False, kind="stable").reset_index(
        drop=True
    )


def _interval(metric: str, values) -> dict[str, float]:
    """``metric``'s mean, standard deviation and 95% t interval over ``values`` (one a seed),
    the interval clipped to what the metric can be; no columns without a value."""
    if not len(values):
        return {}
    n, mean = len(values), float(values.mean())
    sd = float(values.std(ddof=1)) if n > 1 else float("nan")
    half = float(stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)) if n > 1 else float("nan")
    low, high = BOUNDS.get(metric, (None, None))
    return {
        f"{metric}_mean": mean,
        f"{metric}_sd": sd,
        f"{metric}_ci95_low": mean - half if low is None else max(low, mean - half),
        f"{metric}_ci95_high": mean + half if high is None else min(high, mean + half),
    }


def is_zero(value) -> bool:
    """Whether a lambda setting (as text) is 0."""
    try:
        return float(value) == 0.0
    except (TypeError, ValueError):
        return False


def _merge_same_models(frame, keys: list[str], same_model: dict[str, str]):
    """``frame`` without the lambda = 0 rows of a strategy whose twin (``same_model``) has a
    row of the same seed and settings, and ``{twin's setting: the strategy left out}``."""
    if "recon_weight" not in keys or not same_model:
        return frame, {}
    others = [k for k in keys if k not in ("kind", "strategy", "recon_weight")]
    ours = frame["kind"] == "aelab"
    zero = ours & frame["recon_weight"].map(is_zero)
    drop = pd.Series(False, index=frame.index)
    merged: dict[tuple, str] = {}
    for recon, plain in same_model.items():
        base = frame[ours & (frame["strategy"] == plain)]
        seen = set(base[["seed", *others]].itertuples(index=False, name=None))
        for i, row in frame[zero & (frame["strategy"] == recon)].iterrows():
            if (row["seed"], *(row[k] for k in others)) in seen:
                drop[i] = True
                named = {**row[keys].to_dict(), "strategy": plain, "recon_weight": ""}
                merged[tuple(named[k] for k in keys)] = recon
    return frame[~drop], merged


def few_seeds(n_seeds: float, n_diverged: float = 0.0) -> bool:
    """Whether a setting's numbers rest on fewer than ``FEW_SEEDS`` seeds (a seed whose model
    diverged holds no numbers; a missing count is few)."""
    bad = n_diverged if n_diverged == n_diverged else 0.0  # NaN: none
    return not n_seeds - bad >= FEW_SEEDS


def lambda_rows(summary):
    """The summary rows of aelab's strategies with a reconstruction term, with lambda as a
    number (``lam``): a row merged with such a strategy's lambda = 0 (``same_model_as``)
    counts as that strategy's lambda = 0 too. Rows of other settings' text are dropped."""
    ours = summary[summary["kind"] == "aelab"]
    lam = pd.to_numeric(ours["recon_weight"], errors="coerce")
    recon = ours[lam.notna()].assign(lam=lam[lam.notna()])
    if SAME_AS in ours:
        twin = ours[SAME_AS].map(setting_text)
        recon = pd.concat([ours[twin != ""].assign(strategy=twin[twin != ""], lam=0.0), recon])
    return recon.sort_values("lam", kind="stable")
