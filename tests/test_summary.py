"""A sweep's summary as numbers (the same model once, intervals a metric can take, few seeds
marked) and as the terminal's table at 80 columns. No training: rows are made here."""

import io
import math
import re

import pandas as pd
import pytest
from rich.console import Console
from scipy import stats

from aelab.analysis.summary import FEW_SEEDS, few_seeds, lambda_rows, summarise
from aelab.cli.sweep import sweep_table
from aelab.config.strategies import same_at_lambda_zero

BASELINES = ("logistic regression", "PCA + logistic regression", "k-nearest neighbours")


def _rows(seeds=(0, 1, 2), lams=(0.0, 0.1, 1.0, 10.0), labels=("5", "all")) -> pd.DataFrame:
    """Rows of a sweep of every strategy: the lambda = 0 models repeat their twin's numbers,
    as training makes them."""
    out = []
    for seed in seeds:
        for k, n in enumerate(labels):
            acc = {"supervised": 0.60 + 0.01 * seed + 0.1 * k,
                   "finetune": 0.62 + 0.02 * seed + 0.1 * k}  # fmt: skip
            cka = {"supervised": 0.30 + 0.01 * seed, "finetune": 0.40 + 0.01 * seed}

            def row(strategy, lam, a, c, seed=seed, n=n):
                return {"seed": seed, "labels": n, "kind": "aelab", "strategy": strategy,
                        "recon_weight": lam, "learning_rate": 0.01, "diverged": False,
                        "test_accuracy": a, "cka_to_pretrained": c,
                        "reconstruction_drift": 0.5 - 0.05 * seed}  # fmt: skip

            out += [row(s, None, acc[s], cka[s]) for s in ("supervised", "finetune")]
            for recon, plain in (("finetune-recon", "finetune"), ("joint", "supervised")):
                for lam in lams:
                    if lam == 0:
                        out.append(row(recon, lam, acc[plain], cka[plain]))
                    else:
                        out.append(row(recon, lam, acc[plain] + 0.01 * lam, 0.5 + 0.04 * lam))
            for j, name in enumerate(BASELINES):
                out.append({"seed": seed, "labels": n, "kind": "baseline", "strategy": name,
                            "recon_weight": None, "learning_rate": None, "diverged": False,
                            "test_accuracy": 0.7 + 0.05 * j + 0.02 * seed})  # fmt: skip
    return pd.DataFrame(out)


def _line(summary, strategy, labels, lam=""):
    pick = (summary["strategy"] == strategy) & (summary["labels"] == labels)
    (line,) = summary[pick & (summary["recon_weight"] == lam)].to_dict("records")
    return line


def test_the_same_model_is_one_row_naming_both():
    assert same_at_lambda_zero() == {"finetune-recon": "finetune", "joint": "supervised"}
    rows = _rows()
    merged = summarise(rows, same_at_lambda_zero())
    plain = summarise(rows)
    # per label count: supervised, finetune, 2 x 3 positive lambdas, 3 baselines
    assert len(merged) == 2 * (2 + 2 * 3 + 3) and len(plain) == len(merged) + 2 * 2
    assert not ((merged["recon_weight"] == "0.0") & (merged["kind"] == "aelab")).any()
    line = _line(merged, "finetune", "5")
    assert line["same_model_as"] == "finetune-recon" and line["n_seeds"] == 3
    assert line["test_accuracy_mean"] == pytest.approx(0.62 + 0.02)  # its own 3 seeds
    assert _line(merged, "supervised", "all")["same_model_as"] == "joint"
    assert _line(merged, "joint", "all", "1.0")["same_model_as"] == ""
    # the merged row is lambda = 0 of the curves against lambda
    curve = lambda_rows(merged)
    zero = curve[(curve["strategy"] == "finetune-recon") & (curve["labels"] == "5")]
    assert zero["lam"].tolist() == [0.0, 0.1, 1.0, 10.0]
    assert zero["cka_to_pretrained_mean"].iloc[0] == pytest.approx(0.41)


def test_a_lambda_zero_without_its_twin_keeps_its_row():
    rows = _rows()
    rows = rows[rows["strategy"] != "finetune"]  # a sweep of finetune-recon alone
    merged = summarise(rows, same_at_lambda_zero())
    line = _line(merged, "finetune-recon", "5", "0.0")
    assert line["n_seeds"] == 3 and line["same_model_as"] == ""


def test_intervals_stay_within_what_the_metric_can_be():
    rows = pd.DataFrame(
        {"seed": [0, 1], "labels": ["all"] * 2, "kind": ["aelab"] * 2, "strategy": ["joint"] * 2,
         "recon_weight": [1.0] * 2, "learning_rate": [0.01] * 2,
         "test_accuracy": [1.0, 0.9], "reconstruction_drift": [0.2, -0.3]}
    )  # fmt: skip
    (line,) = summarise(rows).to_dict("records")
    half = stats.t.ppf(0.975, 1) * pd.Series([1.0, 0.9]).std() / math.sqrt(2)  # 0.635
    assert line["test_accuracy_ci95_low"] == pytest.approx(0.95 - half)
    assert line["test_accuracy_ci95_high"] == 1.0  # not 1.585
    # drift has no bound: its t interval is whole
    assert line["reconstruction_drift_ci95_low"] == pytest.approx(-0.05 - 12.7062 * 0.5 / 2, 1e-4)
    summary = summarise(_rows(seeds=(0, 1)), same_at_lambda_zero())
    for metric, (low, high) in {"test_accuracy": (0, 1), "gain_over_supervised": (-1, 1),
                                "cka_to_pretrained": (0, 1)}.items():  # fmt: skip
        values = summary[[f"{metric}_ci95_low", f"{metric}_ci95_high"]].dropna().to_numpy()
        assert (values >= low).all() and (values <= high).all(), metric
        assert (values[:, 0] <= values[:, 1]).all()


def test_few_seeds_are_counted_without_the_diverged():
    assert FEW_SEEDS == 5
    assert few_seeds(4) and not few_seeds(5) and not few_seeds(20.0)
    assert few_seeds(6, 2) and not few_seeds(6, 1) and not few_seeds(5, float("nan"))
    assert few_seeds(float("nan"))


def _printed(summary, width: int) -> str:
    out = io.StringIO()
    Console(width=width, file=out, color_system=None).print(sweep_table(summary, width))
    return out.getvalue()


@pytest.mark.parametrize("width", [80, 130])
def test_the_terminal_table_keeps_its_numbers_whole(width):
    summary = summarise(_rows(), same_at_lambda_zero())
    text = _printed(summary, width)
    assert "…" not in text and max(len(line) for line in text.splitlines()) <= width
    assert "CKA" in text and ("kind" in text) == (width == 130)  # every number a column
    for _, row in summary.iterrows():
        assert f"{row['test_accuracy_mean']:.3f}" in text
        low, high = row["test_accuracy_ci95_low"], row["test_accuracy_ci95_high"]
        assert f"{low:.3f}–{high:.3f}" in text
    for lam in ("0.1", "1.0", "10.0"):
        assert re.search(rf"\s{re.escape(lam)}\s", text), lam
    merged = [line for line in text.splitlines() if "finetune =" in line]
    assert len(merged) == 2 and all("0.740" in m or "0.640" in m for m in merged)
    assert "3*" in text and f"fewer than {FEW_SEEDS} seeds" in text
    gain = summary.loc[summary["strategy"] == "k-nearest neighbours", "gain_over_supervised_mean"]
    assert f"{gain.iloc[0]:+.3f}" in text


def test_enough_seeds_carry_no_mark():
    text = _printed(summarise(_rows(seeds=range(5)), same_at_lambda_zero()), 80)
    assert "*" not in text and "fewer than" not in text


def test_the_figure_keeps_its_legends_off_the_data_and_its_bands_clipped():
    from aelab.outputs.sweepplot import sweep_figure

    fig = sweep_figure(_rows(seeds=(0, 1), labels=("5", "10", "40")))
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)  # constrained layout places the legends
    for ax in fig.axes:
        legend = ax.get_legend().get_window_extent(renderer)
        plot = ax.get_window_extent(renderer)
        assert legend.y1 <= plot.y0, ax.get_title()  # below the panel, never over it
    acc = fig.axes[0]
    bands = [c.get_paths()[0].vertices[:, 1] for c in acc.collections if c.get_paths()]
    assert bands and all((b >= 0).all() and (b <= 1).all() for b in bands)
    names = acc.get_legend_handles_labels()[1]
    assert "finetune = finetune-recon at λ=0" in names
    assert not any(n.startswith("finetune-recon, λ=0.0") for n in names)
