"""Reading scans: gray, colour, alpha, palette, 16-bit, bilevel, and the one-line errors."""

import numpy as np
import pytest
from PIL import Image
from skimage import color, util
from skimage.io import imread

from preprocessing_helpers import drawn_signature
from sigver.errors import SigverError
from sigver.preprocessing.imageio import read_signature_image


@pytest.fixture
def gray():
    return drawn_signature(1, (50, 70))


def save(path, array, mode=None):
    image = Image.fromarray(array) if mode is None else Image.fromarray(array).convert(mode)
    image.save(path)
    return path


def test_gray_is_returned_unchanged(tmp_path, gray):
    out = read_signature_image(save(tmp_path / "g.png", gray))
    assert out.dtype == np.uint8 and out.ndim == 2
    np.testing.assert_array_equal(out, gray)


def test_colour_goes_through_rgb2gray_like_the_published_reader(tmp_path, gray):
    rng = np.random.default_rng(0)
    rgb = np.stack([gray, np.roll(gray, 3, axis=1), rng.integers(0, 256, gray.shape)],
                   axis=-1).astype(np.uint8)
    out = read_signature_image(save(tmp_path / "c.png", rgb))
    np.testing.assert_array_equal(out, util.img_as_ubyte(color.rgb2gray(rgb)))


def test_transparent_pixels_become_white_paper(tmp_path, gray):
    rgba = np.zeros((*gray.shape, 4), np.uint8)
    rgba[..., 3] = np.where(gray < 128, 255, 0)  # ink opaque, paper transparent (black)
    out = read_signature_image(save(tmp_path / "a.png", rgba))
    assert (out[gray >= 128] == 255).all()
    assert (out[gray < 128] == 0).all()


def test_palette_and_bilevel_images(tmp_path, gray):
    rgb = np.stack([gray, gray // 2, gray], axis=-1)
    path = save(tmp_path / "p.png", rgb, "P")
    np.testing.assert_array_equal(read_signature_image(path),
                                  util.img_as_ubyte(imread(path, as_gray=True)))
    bilevel = read_signature_image(save(tmp_path / "b.png", gray, "1"))
    assert set(np.unique(bilevel)) <= {0, 255}


def test_sixteen_bit_keeps_the_top_byte(tmp_path, gray):
    wide = gray.astype(np.uint16) * 256 + 100
    np.testing.assert_array_equal(read_signature_image(save(tmp_path / "w.png", wide)), gray)


def test_tiff_pages_and_jpeg(tmp_path, gray):
    assert read_signature_image(save(tmp_path / "t.tif", gray)).shape == gray.shape
    out = read_signature_image(save(tmp_path / "j.jpg", gray))
    assert abs(out.astype(int) - gray).mean() < 8


@pytest.mark.parametrize(("content", "message"), [
    (b"", "not an image file"),
    (b"hello, I am a text file", "not an image file"),
])
def test_non_images_are_one_line_errors(tmp_path, content, message):
    path = tmp_path / "x.png"
    path.write_bytes(content)
    with pytest.raises(SigverError, match=message) as info:
        read_signature_image(path)
    assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)


def test_truncated_and_missing_files(tmp_path, gray):
    path = save(tmp_path / "t.png", gray)
    path.write_bytes(path.read_bytes()[:-60])
    with pytest.raises(SigverError, match="unreadable or truncated"):
        read_signature_image(path)
    with pytest.raises(SigverError, match="file not found"):
        read_signature_image(tmp_path / "missing.png")
    with pytest.raises(SigverError, match="is a folder"):
        read_signature_image(tmp_path)


def test_real_palette_scans_match_the_published_reader(shared_data):
    palette = [p for p in sorted((shared_data / "bhsig260-sample").rglob("*.tif"))
               if Image.open(p).mode == "P"]
    assert palette
    for path in palette:
        np.testing.assert_array_equal(read_signature_image(path),
                                      util.img_as_ubyte(imread(path, as_gray=True)))
