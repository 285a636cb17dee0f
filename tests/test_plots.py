import matplotlib.image
import pytest

import aelab
from aelab.config import ModelConfig, RunConfig
from aelab.plots import plot_stages


def test_stages_figure_opens_and_has_a_panel_per_stage(default_run):
    image = matplotlib.image.imread(default_run.figures["stages"])
    height, width, _ = image.shape
    assert width == 4 * 4 * 110 and height == 2 * 4 * 110  # 4 columns, 2 rows of 4-inch panels
    assert image[..., :3].std() > 0.05  # not a blank canvas


@pytest.mark.parametrize("code, strategies", [(3, ("finetune",)), (1, ("joint", "finetune"))])
def test_codes_of_other_sizes_are_drawn(tiny_config, tmp_path, code, strategies):
    config = RunConfig(strategies=strategies, model=ModelConfig(code=code), train=tiny_config.train)
    result = aelab.run(config, out=tmp_path, name="r")
    again = plot_stages(result.run_dir, filename="again.png")
    assert (
        matplotlib.image.imread(again).shape
        == matplotlib.image.imread(result.figures["stages"]).shape
    )
