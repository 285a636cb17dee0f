"""``sweep.png``: a sweep's three questions, a pure function of its rows."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from aelab.analysis.summary import SAME_AS, lambda_rows, setting_text, summarise
from aelab.config.strategies import same_at_lambda_zero


def sweep_figure(results) -> Figure:
    """A sweep's three questions, with 95% confidence bands over seeds (clipped to what the
    metric can be, as in ``summary.csv``):

    held-out accuracy against the label count (every strategy, lambda and baseline), and how
    far fine-tuning moved the code (CKA to the pretrained code) and its reconstruction
    (drift) against lambda. Each panel's legend sits below it, off the data.
    """
    summary = summarise(results, same_at_lambda_zero())
    fig = Figure(figsize=(16, 7.5), layout="constrained")
    acc, cka, drift = fig.subplots(1, 3)
    ours = summary[summary["kind"] == "aelab"]
    varies = {
        c: ours[c].nunique() > 1
        for c in ("learning_rate", "code", "noise", "beta")
        if c in summary.columns
    }
    _accuracy_panel(acc, summary, results, varies)
    extra = [c for c, v in varies.items() if v]  # one line per every other setting
    for ax, metric, title in (
        (cka, "cka_to_pretrained", "How much of the pretrained code survives"),
        (drift, "reconstruction_drift", "Reconstruction drift (held-out MSE change)"),
    ):
        _lambda_panel(ax, summary, metric, extra)
        ax.set_title(title)
    cka.set_ylabel("linear CKA to the pretrained code")
    drift.set_ylabel("held-out reconstruction MSE − pretrained's")
    for ax in (acc, cka, drift):
        ax.grid(alpha=0.3)
        n = len(ax.get_legend_handles_labels()[0])
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13),
                  ncols=1 if n <= 12 else 2, frameon=False)  # fmt: skip
    return fig


def _accuracy_panel(acc, summary, results, varies: dict[str, bool]) -> None:
    """Held-out accuracy against the label count: a line per setting, baselines in grey."""
    order = list(dict.fromkeys(str(v) for v in results["labels"]))
    order.sort(key=lambda v: (v == "all", int(v) if v.isdigit() else 0))
    positions = {v: i for i, v in enumerate(order)}
    ours = summary[summary["kind"] == "aelab"]
    lam_varies = ours.loc[ours["recon_weight"] != "", "recon_weight"].nunique() > 1
    n_baselines = summary.loc[summary["kind"] == "baseline", "strategy"].nunique()
    grey = iter(np.linspace(0.2, 0.7, max(n_baselines, 1)))

    def line_name(row) -> str:
        parts = [row["strategy"]]
        twin = setting_text(row.get(SAME_AS))
        if twin:
            parts[0] += f" = {twin} at λ=0"
        if row["kind"] == "aelab" and lam_varies and row["recon_weight"] != "":
            parts.append(f"λ={row['recon_weight']}")
        parts += [f"{c}={row[c]}" for c, v in varies.items() if v and row[c] != ""]
        return ", ".join(parts)

    summary = summary.assign(line=summary.apply(line_name, axis=1))
    for name, group in summary.groupby("line", sort=False):
        group = group.assign(pos=group["labels"].map(positions)).sort_values("pos")
        if group["kind"].iloc[0] == "baseline":  # grey and dashed, no band: the backdrop
            acc.plot(
                group["pos"], group["test_accuracy_mean"], linestyle="--", marker="x",
                color=str(next(grey)), linewidth=1, label=f"{name} (scikit-learn)",
            )  # fmt: skip
            continue
        (line,) = acc.plot(
            group["pos"], group["test_accuracy_mean"], marker="o", linewidth=2, label=name
        )
        acc.fill_between(
            group["pos"], group["test_accuracy_ci95_low"], group["test_accuracy_ci95_high"],
            color=line.get_color(), alpha=0.15,
        )  # fmt: skip
    acc.set_xticks(range(len(order)), [f"{v} per class" if v != "all" else "all" for v in order])
    acc.set_xlabel("labelled training samples")
    acc.set_ylabel("held-out accuracy (mean, 95% CI)")
    acc.set_title("Does it help? Accuracy against labels")


def _lambda_panel(ax, summary, metric: str, extra: list[str]) -> None:
    """``metric`` against lambda: a line per strategy, label count and ``extra`` setting (its
    lambda = 0 is the merged row of the strategy it then is), and a strategy without a
    reconstruction term that no line holds as a dotted level."""
    rows = lambda_rows(summary)
    for setting, group in rows.groupby(["strategy", "labels", *extra], sort=False):
        strategy, labels, *rest = setting
        tag = "all labels" if labels == "all" else f"{labels}/class"
        more = "".join(f", {c}={v}" for c, v in zip(extra, rest, strict=True))
        (line,) = ax.plot(
            group["lam"], group[f"{metric}_mean"], marker="o", label=f"{strategy}, {tag}{more}"
        )
        ax.fill_between(
            group["lam"], group[f"{metric}_ci95_low"], group[f"{metric}_ci95_high"],
            color=line.get_color(), alpha=0.2,
        )  # fmt: skip
    ours = summary[summary["kind"] == "aelab"]
    alone = ours["strategy"] == "finetune"
    if SAME_AS in ours:
        alone &= ours[SAME_AS].map(setting_text) == ""
    for _, row in ours[alone].iterrows():
        tag = "all labels" if row["labels"] == "all" else f"{row['labels']}/class"
        more = "".join(f", {c}={row[c]}" for c in extra)
        ax.axhline(
            row[f"{metric}_mean"], color="grey", linestyle=":",
            label=f"finetune (λ = 0), {tag}{more}",
        )  # fmt: skip
    lams = np.unique(rows["lam"].to_numpy(float))
    positive = lams[lams > 0]
    if len(lams) > 2 and len(positive) and positive.max() / positive.min() >= 100:
        if lams.min() > 0:
            ax.set_xscale("log")
        else:  # λ = 0 stays on the axis: linear below the smallest positive λ
            ax.set_xscale("symlog", linthresh=positive.min())
            ax.set_xlim(0, positive.max() * 1.5)
    ax.set_xlabel("λ (reconstruction weight)")
