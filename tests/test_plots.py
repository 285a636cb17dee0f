import matplotlib.image
import numpy as np
import pytest

import aelab
from aelab.config import ModelConfig, RunConfig
from aelab.outputs.plots import DPI, stages_figure


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
    assert titles[0].startswith("Raw data: the two most variable features")
    raw = _drawn_axes(fig)[0]  # Iris's petal length (variance 3.1 cm²) and sepal length (0.68)
    assert "sepal length" in raw.get_xlabel() and "petal length" in raw.get_ylabel()
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


def test_two_chosen_code_units_can_replace_the_pca_view(tiny_config, tmp_path, capsys):
    from aelab.cli import main

    config = RunConfig(strategies=("joint",), model=ModelConfig(code=4), train=tiny_config.train)
    result = aelab.run(config, out=tmp_path, name="r", plot_dims=(1, 3))
    fig = stages_figure(result.run_dir, dims=(1, 3))
    code_axes = _drawn_axes(fig)[2:]  # joint alone: no pretraining, one code panel
    assert [ax.get_xlabel() for ax in code_axes] == ["code unit 1"]
    points = code_axes[0].collections[0].get_offsets()
    train = result.is_train & (result.labels == 0)
    np.testing.assert_allclose(points, result.codes["joint"][train][:, [1, 3]], rtol=1e-6)
    with pytest.raises(SystemExit) as info:
        main(["plot", str(result.run_dir), "--dims", "0,2"])
    assert info.value.code == 0 and (result.run_dir / "stages-dims-0-2.png").is_file()
    with pytest.raises(aelab.ConfigError, match=r"--plot-dims 0,4: need two different"):
        aelab.run(config, out=tmp_path, name="s", plot_dims=(0, 4))
    assert not (tmp_path / "s").exists()
