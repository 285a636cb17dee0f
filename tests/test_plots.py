import matplotlib.image
import numpy as np
import pytest

import aelab
from aelab.config import ModelConfig, RunConfig
from aelab.plots import DPI, stages_figure


def _drawn_axes(fig):
    return [ax for ax in fig.axes if ax.axison]


def _every_sample_is_inside(ax, n_samples):
    x0, x1 = sorted(ax.get_xlim())
    y0, y1 = sorted(ax.get_ylim())
    points = np.concatenate([c.get_offsets() for c in ax.collections])
    assert len(points) == n_samples, ax.get_title()
    inside = (
        (points[:, 0] >= x0) & (points[:, 0] <= x1) & (points[:, 1] >= y0) & (points[:, 1] <= y1)
    )
    assert inside.all(), ax.get_title()


def test_stages_figure_opens_with_a_titled_panel_per_stage(default_run):
    image = matplotlib.image.imread(default_run.figures["stages"])
    assert image.shape[:2] == (2 * 4 * DPI, 4 * 4 * DPI)  # 2 rows, 4 columns of 4-inch panels
    fig = stages_figure(default_run.run_dir)
    titles = [ax.get_title() for ax in _drawn_axes(fig)]
    assert len(titles) == 7
    assert titles[0].startswith("Raw data: first two features")
    acc = default_run.metrics["strategies"]["finetune-recon"]["test_accuracy"]
    assert any("finetune-recon" in t and f"test acc {acc:.2f}" in t for t in titles)
    legend = [t.get_text() for t in fig.axes[3].get_legend().get_texts()]
    assert legend[:3] == ["setosa", "versicolor", "virginica"]
    for ax in _drawn_axes(fig):
        _every_sample_is_inside(ax, 150)


@pytest.mark.parametrize("code, strategies", [(3, ("finetune",)), (1, ("joint", "finetune"))])
def test_every_sample_is_visible_for_other_code_sizes(tiny_config, tmp_path, code, strategies):
    config = RunConfig(strategies=strategies, model=ModelConfig(code=code), train=tiny_config.train)
    result = aelab.run(config, out=tmp_path, name="r")
    fig = stages_figure(result.run_dir)
    assert len(_drawn_axes(fig)) == 3 + len(strategies)
    for ax in _drawn_axes(fig):
        _every_sample_is_inside(ax, 150)
