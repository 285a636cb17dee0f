"""Image data as users have it: folders of PNG/JPEG images per class, CIFAR-10's binary
batches; and what a run of image data draws."""

import dataclasses
import pickle
import re

import numpy as np
import pytest
from PIL import Image

from aelab.cli import main
from aelab.data import load_data, split_dataset
from aelab.errors import DataError
from aelab.outputs.folders import read_run
from aelab.outputs.images import mosaic, reconstruction_rows

FAST = ["--pretrain-steps", "20", "--finetune-steps", "20", "--snapshot-every", "20"]


def _main(args, capsys):
    with pytest.raises(SystemExit) as info:
        main(args)
    out = capsys.readouterr()
    return info.value.code, out.out, out.err


def _folder(root, modes=("L", "L"), size=(5, 4), per_class=4, seed=0):
    """Class folders ``a``, ``b``, … of ``per_class`` PNG images each, of size (h, w); the
    images of class i in ``modes[i]``; returns each class's pixel arrays in file order."""
    rng = np.random.default_rng(seed)
    pixels = {}
    for c, mode in enumerate(modes):
        name = "ab"[c]
        (root / name).mkdir(parents=True)
        pixels[name] = []
        for i in range(per_class):
            channels = {"L": (), "RGB": (3,), "RGBA": (4,)}[mode]
            a = rng.integers(0, 256, (*size, *channels)).astype(np.uint8)
            Image.fromarray(a, mode).save(root / name / f"{i}.png")
            pixels[name].append(a)
    return pixels


def test_a_greyscale_folder_keeps_its_pixels_in_row_major_order(tmp_path):
    pixels = _folder(tmp_path / "imgs")
    (tmp_path / "imgs" / "b" / "deeper").mkdir()  # found as ImageFolder finds them
    Image.fromarray(np.zeros((5, 4), np.uint8), "L").save(tmp_path / "imgs/b/deeper/z.jpg")
    ds, _ = load_data(str(tmp_path / "imgs"))
    assert ds.image_shape == (5, 4) and ds.x.dtype == np.uint8 and ds.x.shape == (9, 20)
    assert ds.class_names == ("a", "b") and ds.y.tolist() == [0] * 4 + [1] * 5
    np.testing.assert_array_equal(ds.x[4].reshape(5, 4), pixels["b"][0])  # b/0.png, lossless
    assert ds.x[8].max() <= 3  # the JPEG of zeros, within JPEG's rounding


def test_any_colour_image_makes_every_image_rgb_and_alpha_is_dropped(tmp_path):
    pixels = _folder(tmp_path / "imgs", modes=("L", "RGBA"))
    ds, _ = load_data(str(tmp_path / "imgs"))
    assert ds.image_shape == (5, 4, 3) and ds.x.shape == (8, 60)
    grey = ds.x[0].reshape(5, 4, 3)  # greyscale: three equal channels, height-width-channel
    for channel in range(3):
        np.testing.assert_array_equal(grey[..., channel], pixels["a"][0])
    np.testing.assert_array_equal(ds.x[4].reshape(5, 4, 3), pixels["b"][0][..., :3])
    assert ds.feature_names[:4] == ("pixel0.r", "pixel0.g", "pixel0.b", "pixel1.r")


def test_a_palette_of_greys_is_greyscale(tmp_path):
    _folder(tmp_path / "imgs")
    grey = Image.fromarray(np.arange(20, dtype=np.uint8).reshape(5, 4), "L").convert("P")
    grey.save(tmp_path / "imgs/a/palette.png")
    assert load_data(str(tmp_path / "imgs"))[0].image_shape == (5, 4)


def test_sizes_must_agree_unless_image_size_resizes(tmp_path):
    _folder(tmp_path / "imgs")
    Image.fromarray(np.zeros((7, 6), np.uint8), "L").save(tmp_path / "imgs/b/big.png")
    with pytest.raises(DataError, match=r"big.png: is 7x6 pixels .* but .*0.png is 5x4; .*"
                       r"--image-size 5x4"):  # fmt: skip
        load_data(str(tmp_path / "imgs"))
    ds, _ = load_data(str(tmp_path / "imgs"), image_size=(3, 2))
    assert ds.image_shape == (3, 2) and ds.x.shape == (9, 6)


def _truncated(root):
    data = (root / "a" / "0.png").read_bytes()
    (root / "a" / "0.png").write_bytes(data[: len(data) // 2])


def _sixteen_bit(root):
    Image.fromarray(np.zeros((5, 4), np.uint16)).save(root / "a" / "deep.png")


@pytest.mark.parametrize(
    "spoil, message",
    [
        (_truncated, r"a/0.png: cannot be decoded .*truncated or damaged"),
        (_sixteen_bit, r"a/deep.png: is an image of mode I;16 .*save it as 8-bit"),
        (lambda r: (r / "a" / "notes.txt").write_text("x"), r"notes.txt: is not a PNG or JPEG"),
        (lambda r: (r / "b" / ".DS_Store").write_bytes(b"\0"), r"\.DS_Store: is not a PNG"),
        (lambda r: (r / "a" / "x.png").write_text("no"), r"x.png: is not an image Pillow can"),
        (lambda r: (r / "c").mkdir(), r"imgs/c: is an empty class folder"),
        (lambda r: (r / "top.png").write_bytes(b""), r"top.png: is not in a class folder"),
    ],
)
def test_bad_images_are_one_line_exit_2_and_nothing_written(tmp_path, capsys, spoil, message):
    _folder(tmp_path / "imgs")
    spoil(tmp_path / "imgs")
    args = ["run", "--dataset", str(tmp_path / "imgs"), "--out", str(tmp_path / "runs")]
    code, _, err = _main(args, capsys)
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith("aelab: error: ") and re.search(message, err), err
    assert not (tmp_path / "runs").exists()


def _cifar(path, labels, seed=0):
    """A CIFAR-10 binary batch of ``labels``; returns its records (n, 3073)."""
    rng = np.random.default_rng(seed)
    records = rng.integers(0, 256, (len(labels), 3073)).astype(np.uint8)
    records[:, 0] = labels
    path.parent.mkdir(parents=True, exist_ok=True)
    records.tofile(path)
    return records


def test_cifar_batches_become_height_width_channel_rows(tmp_path):
    records = _cifar(tmp_path / "c" / "data_batch_1.bin", [3, 5, 3, 5])
    ds, _ = load_data(str(tmp_path / "c" / "data_batch_1.bin"))
    assert ds.image_shape == (32, 32, 3) and ds.x.dtype == np.uint8
    assert ds.class_names == ("3", "5") and ds.y.tolist() == [0, 1, 0, 1]
    image = ds.x[1].reshape(32, 32, 3)
    r, c = 7, 30  # pixel (7, 30): red plane first, then green, then blue
    assert image[r, c].tolist() == [records[1, 1 + k * 1024 + r * 32 + c] for k in range(3)]


def test_a_cifar_folder_has_its_test_batch_as_held_out_part(tmp_path):
    folder = tmp_path / "cifar-10-batches-bin"
    for k in (2, 1):
        _cifar(folder / f"data_batch_{k}.bin", [0, 1, 2] * 2, seed=k)
    test = _cifar(folder / "test_batch.bin", [2, 1, 0], seed=9)
    names = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n"
    (folder / "batches.meta.txt").write_text(names)
    ds, _ = load_data(str(folder))
    assert ds.class_names == ("airplane", "automobile", "bird") and len(ds.y) == 15
    assert ds.test_mask.tolist() == [False] * 12 + [True] * 3
    assert ds.y[-3:].tolist() == [2, 1, 0] and ds.x[-1, 0] == test[2, 1]
    one, _ = load_data(str(folder / "data_batch_1.bin"), test_file=str(folder / "test_batch.bin"))
    assert one.test_mask.sum() == 3 and one.class_names == ds.class_names
    assert load_data(str(folder), image_size=(32, 32))[0].image_shape == (32, 32, 3)
    for source in (str(folder), "digits"):
        with pytest.raises(DataError, match="--image-size resizes the images of an image folder"):
            load_data(source, image_size=(16, 16))
    with pytest.raises(DataError, match="own held-out part .* leave --test-file out"):
        load_data(str(folder), test_file=str(folder / "test_batch.bin"))


def test_bad_cifar_files_are_one_line(tmp_path):
    bad = tmp_path / "data_batch_1.bin"
    bad.write_bytes(b"\0" * 3073 * 2 + b"\1")
    with pytest.raises(DataError, match=r"data_batch_1.bin: holds 6,147 bytes, not a whole"):
        load_data(str(bad))
    _cifar(bad, [1, 12])
    with pytest.raises(DataError, match="record 2 has the label 12, not a CIFAR-10 class"):
        load_data(str(bad))
    pickled = tmp_path / "py" / "data_batch_1"
    pickled.parent.mkdir()
    pickled.write_bytes(pickle.dumps({"data": [1]}, protocol=2))
    for path in (pickled, pickled.parent):
        with pytest.raises(DataError, match="pickled Python version, which aelab never reads"):
            load_data(str(path))


def test_a_test_folder_is_read_in_the_training_folders_mode_and_size(tmp_path):
    _folder(tmp_path / "train", modes=("RGB", "L"))
    _folder(tmp_path / "test", modes=("L", "L"), per_class=2, seed=1)
    ds, _ = load_data(str(tmp_path / "train"), test_file=str(tmp_path / "test"))
    assert ds.image_shape == (5, 4, 3) and ds.test_mask.sum() == 4
    _folder(tmp_path / "small", size=(3, 3))
    with pytest.raises(DataError, match="small: its images are 3x3x3 but the training images"):
        load_data(str(tmp_path / "train"), test_file=str(tmp_path / "small"))
    ds, _ = load_data(str(tmp_path / "train"), test_file=str(tmp_path / "small"), image_size=(3, 3))
    assert ds.image_shape == (3, 3, 3)


@pytest.mark.parametrize("scaling", ["minmax", "standard"])
def test_bytes_are_scaled_as_the_same_values_in_floats_are(tmp_path, scaling):
    _folder(tmp_path / "imgs", modes=("RGB", "RGB"), per_class=6)
    ds, _ = load_data(str(tmp_path / "imgs"))
    floats = dataclasses.replace(ds, x=ds.x.astype(np.float64))
    a, b = (split_dataset(d, 0.5, 0, scaling=scaling) for d in (ds, floats))
    assert a.x.dtype == np.float32 and a.is_train.tolist() == b.is_train.tolist()
    np.testing.assert_allclose(a.x, b.x, rtol=1e-5, atol=1e-5)


def test_reconstruction_rows_take_held_out_samples_class_by_class():
    y = np.array([0, 0, 1, 1, 0, 1, 2, 0])
    is_train = np.array([1, 0, 0, 1, 0, 0, 1, 0], bool)
    assert reconstruction_rows(y, is_train, count=4).tolist() == [1, 2, 4, 5]
    assert reconstruction_rows(y, np.ones(8, bool), count=3).tolist() == [0, 2, 6]


def test_a_mosaic_puts_tiles_in_rows_with_white_gaps():
    rows = np.arange(2 * 3 * 4, dtype=float).reshape(2, 3, 4)  # 2 rows of 3 tiles of 2x2
    grey = mosaic(rows, (2, 2), (0.0, 23.0))
    assert grey.shape == (5, 8) and grey[2].tolist() == [0.0] * 8  # gray_r: 0 is white
    np.testing.assert_allclose(grey[3:5, 3:5], np.array([[16, 17], [18, 19]]) / 23)
    colour = mosaic(np.full((1, 2, 12), 30.0), (2, 2, 3), (0.0, 20.0))  # clipped, not rescaled
    assert colour.shape == (2, 5, 3) and colour[:, 2].tolist() == [[1.0] * 3] * 2
    assert colour.max() == 1.0


def test_a_colour_folder_runs_end_to_end_with_reconstructions_and_tiles(tmp_path, capsys):
    _folder(tmp_path / "imgs", modes=("RGB", "RGB"), size=(6, 5), per_class=6)
    run = ["run", "--dataset", str(tmp_path / "imgs"), "--model", "ae", "--hidden", "8"]
    args = [*run, "--image-size", "4x3", *FAST, "--out", str(tmp_path), "--name", "r", "-q"]
    assert _main(args, capsys)[0] == 0
    folder = read_run(tmp_path / "r")
    lat = folder.latents
    assert lat["image_shape"].tolist() == [4, 3, 3] and lat["x"].shape == (12, 36)
    assert lat["recon_inputs"].shape == (6, 36) and not lat["is_train"][lat["recon_rows"]].any()
    for stage in folder.stages:
        assert lat[f"recon/{stage}"].shape == (6, 36)
    assert "image_size = [\n    4,\n    3,\n]" in (tmp_path / "r" / "config.toml").read_text()
    assert Image.open(tmp_path / "r" / "stages.png").size[1] > 1000  # the extra row
    assert _main(["generate", str(tmp_path / "r"), "--mode", "grid", "--size", "3"], capsys)[0] == 0
    with Image.open(tmp_path / "r" / "generated" / "grid-pretrained.png") as grid:
        assert grid.mode in ("RGB", "RGBA")
    out = tmp_path / "p.csv"
    assert _main(["predict", str(tmp_path / "r"), str(tmp_path / "imgs"), "--out", str(out)],
                 capsys)[0] == 0  # fmt: skip
    assert len(out.read_text().splitlines()) == 13  # read in the run's size: 6x5 -> 4x3
