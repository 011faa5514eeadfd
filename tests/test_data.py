"""The MNIST contract: shapes, dtypes, known labels, checksums, and clear errors for bad files."""

from __future__ import annotations

import gzip
import shutil

import numpy as np
import pytest

from nnlab import data


def test_bundled_mnist_matches_the_keras_contract():
    (x_train, y_train), (x_test, y_test) = data.load_mnist()
    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8
    assert y_train.shape == (60000,) and y_train.dtype == np.uint8
    assert x_test.shape == (10000, 28, 28) and x_test.dtype == np.uint8
    assert y_test.shape == (10000,) and y_test.dtype == np.uint8
    assert list(y_train[:10]) == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert list(y_test[:10]) == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert list(data.class_counts(y_train)) == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert x_train.max() == 255 and x_train.min() == 0


def test_second_load_is_cached_and_read_only():
    first = data.load_mnist()
    second = data.load_mnist()
    assert first[0][0] is second[0][0]
    with pytest.raises(ValueError):
        first[0][0][0, 0, 0] = 1


def _copy_dataset(tmp_path):
    target = tmp_path / "mnist"
    shutil.copytree(data.BUNDLED_DIR, target)
    for f in target.iterdir():
        f.chmod(0o644)
    return target


def test_reads_a_directory_of_uncompressed_idx_files_and_an_npz(tmp_path, monkeypatch):
    src = _copy_dataset(tmp_path)
    plain = tmp_path / "plain"
    plain.mkdir()
    for base in data.FILES.values():
        (plain / base).write_bytes(gzip.decompress((src / f"{base}.gz").read_bytes()))
    (x_train, y_train), (x_test, y_test) = data.load_mnist(plain)
    assert list(y_test[:3]) == [7, 2, 1]
    npz = tmp_path / "mnist.npz"
    np.savez(npz, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    monkeypatch.setenv(data.ENV_VAR, str(npz))
    (_, y2), _ = data.load_mnist()
    assert np.array_equal(y2, y_train)


def test_tampered_file_is_named_with_a_checksum_error(tmp_path):
    src = _copy_dataset(tmp_path)
    labels = src / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(labels.read_bytes()))
    raw[100] = (raw[100] + 1) % 10
    labels.write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(data.DatasetError, match=r"t10k-labels-idx1-ubyte.*checksum mismatch"):
        data.load_mnist(src)


def test_truncated_and_missing_files_are_named(tmp_path):
    src = _copy_dataset(tmp_path)
    images = src / "train-images-idx3-ubyte.gz"
    images.write_bytes(images.read_bytes()[:5000])
    with pytest.raises(data.DatasetError, match=r"train-images-idx3-ubyte.*truncated"):
        data.load_mnist(src)
    images.unlink()
    with pytest.raises(data.DatasetError, match=r"missing: train-images-idx3-ubyte"):
        data.load_mnist(src)


def test_truncated_uncompressed_file_reports_its_sizes(tmp_path):
    raw = gzip.decompress((data.BUNDLED_DIR / "t10k-labels-idx1-ubyte.gz").read_bytes())
    with pytest.raises(data.DatasetError, match="truncated"):
        data.parse_idx(raw[:-10], name="labels")
    with pytest.raises(data.DatasetError, match="magic"):
        data.parse_idx(b"PK\x03\x04junk", name="labels")


def test_npz_with_wrong_content_is_explained(tmp_path):
    bad = tmp_path / "mnist.npz"
    np.savez(bad, x_train=np.zeros((5, 28, 28), np.uint8))
    with pytest.raises(data.DatasetError, match="missing arrays"):
        data.load_mnist(bad)
    bad.write_bytes(b"not a zip")
    with pytest.raises(data.DatasetError, match="not a readable .npz"):
        data.load_mnist(bad)


def test_helpers_scale_split_and_subset_stratified_and_seeded():
    (x, y), _ = data.load_mnist()
    scaled = data.scale(x[:10])
    assert scaled.dtype == np.float32 and 0.0 <= scaled.min() and scaled.max() <= 1.0
    assert data.add_channel(scaled).shape == (10, 28, 28, 1)
    xs, ys = data.stratified_subset(x, y, 1000, seed=3)
    assert len(ys) == 1000
    share = data.class_counts(ys) / 1000
    assert np.allclose(share, data.class_counts(y) / len(y), atol=0.002)
    again = data.stratified_subset(x, y, 1000, seed=3)[1]
    assert np.array_equal(ys, again)
    x_tr, y_tr, x_val, y_val = data.stratified_split(xs, ys, 0.2, seed=1)
    assert len(y_val) == 200 and len(y_tr) == 800
    assert np.allclose(data.class_counts(y_val) / 200, share, atol=0.01)
