"""Task construction: orthogonality, overlap, labels, the image protocol, the IDX loader."""
import gzip
import struct

import numpy as np
import pytest

from lrscan.merge import data


def _pair(cond, n=200, d=40, seed=0):
    return data.synthetic_pair(cond, n, d, np.random.default_rng(seed))


def test_different_tasks_are_orthogonal_unit_inputs():
    p = _pair("different")
    assert np.allclose(np.linalg.norm(p.X1, axis=1), 1) and np.allclose(np.linalg.norm(p.X2, axis=1), 1)
    assert np.abs(p.X1 @ p.X2.T).max() < 1e-12
    assert p.epsilon < 1e-12
    # each task spans d/2 dimensions, not fewer
    assert np.linalg.matrix_rank(p.X1, tol=1e-8) == 20 and np.linalg.matrix_rank(p.X2, tol=1e-8) == 20


@pytest.mark.parametrize("eps", [0.1, 0.3, 0.7])
def test_overlap_condition_has_the_requested_subspace_overlap(eps):
    U1, U2 = data.task_bases(40, eps, np.random.default_rng(3))
    assert np.allclose(U1.T @ U1, np.eye(20)) and np.allclose(U2.T @ U2, np.eye(20))
    cos = np.linalg.svd(U1.T @ U2, compute_uv=False)  # cosines of the principal angles
    assert np.allclose(cos, eps, atol=1e-12)
    p = _pair(data.overlap_condition(eps), n=300)
    ips = np.abs(p.X1 @ p.X2.T)
    assert ips.max() <= eps + 1e-12  # epsilon of the paper is at most the subspace overlap
    assert ips.max() > 0.5 * eps  # and it is really there


def test_same_inputs_share_the_distribution_and_identical_is_a_copy():
    s = _pair("same-inputs")
    # task 2's inputs lie in task 1's subspace: projecting on span(X1) keeps them
    Q, _ = np.linalg.qr(s.X1.T)
    Q = Q[:, : np.linalg.matrix_rank(s.X1)]
    assert np.allclose(Q @ (Q.T @ s.X2.T), s.X2.T, atol=1e-10)
    assert not np.array_equal(s.X1, s.X2) and not np.array_equal(s.y1, s.y2)
    i = _pair("identical")
    assert np.array_equal(i.X1, i.X2) and np.array_equal(i.y1, i.y2)


def test_labels_are_the_sign_of_sin():
    rng = np.random.default_rng(0)
    X = data.to_sphere(rng.standard_normal((500, 10)))
    w = rng.standard_normal(10)
    y = data.sin_labels(X, w, 10.0)
    assert set(np.unique(y)) == {-1.0, 1.0}
    assert np.array_equal(y == 1, 1 / (1 + np.exp(-np.sin(10 * X @ w))) >= 0.5)


def test_image_protocol_pads_on_opposite_sides_and_inverts_labels():
    imgs, classes = data.load_images("digits")
    assert imgs.shape == (1797, 64)
    p = data.image_pair("different", imgs, classes, 10, np.random.default_rng(0))
    assert p.X1.shape == p.X2.shape == (10, 128)
    assert np.all(p.X1[:, 64:] == 0) and np.all(p.X2[:, :64] == 0)
    assert np.allclose(np.linalg.norm(p.X1, axis=1), 1) and np.allclose(np.linalg.norm(p.X2, axis=1), 1)
    assert p.epsilon == 0.0
    # recover each task-2 image's class: labels are inverted (classes 5-9 -> -1 on task 2)
    pix = p.X2[:, 64:]
    for row, lab in zip(pix, p.y2):
        j = np.argmax(data.to_sphere(imgs) @ row)
        assert lab == (-1.0 if classes[j] >= 5 else 1.0)
    s = data.image_pair("same-inputs", imgs, classes, 10, np.random.default_rng(0))
    assert np.all(s.X2[:, 64:] == 0) and np.array_equal(s.y2, p.y2)


def _write_idx(path, arr, code, gz):
    header = struct.pack(">BBBB", 0, 0, code, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    payload = header + arr.astype(arr.dtype.newbyteorder(">") if arr.dtype.itemsize > 1 else arr.dtype).tobytes()
    (gzip.open if gz else open)(path, "wb").write(payload)


@pytest.mark.parametrize("gz", [False, True])
def test_fashion_mnist_idx_loader_reads_written_files(tmp_path, gz):
    from lrscan.merge.fashion_mnist import load_fashion_mnist

    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, size=(12, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=12, dtype=np.uint8)
    sfx = ".gz" if gz else ""
    _write_idx(tmp_path / f"train-images-idx3-ubyte{sfx}", imgs, 0x08, gz)
    _write_idx(tmp_path / f"train-labels-idx1-ubyte{sfx}", labels, 0x08, gz)
    got_i, got_l = load_fashion_mnist(tmp_path)
    assert np.array_equal(got_i, imgs) and np.array_equal(got_l, labels)
    X, c = data.load_images("fashion-mnist", str(tmp_path))
    assert X.shape == (12, 784) and np.array_equal(c, labels)


def test_fashion_mnist_loader_rejects_bad_files_and_bad_checksums(tmp_path):
    from lrscan.errors import LrscanError
    from lrscan.merge import fashion_mnist as fm

    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"\x01\x02\x03\x04junk")
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x05abc")
    with pytest.raises(LrscanError, match="magic"):
        fm.load_fashion_mnist(tmp_path)
    # a download from a (local) mirror whose file does not match the published MD5 is refused
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name in fm.FILES:
        (mirror / name).write_bytes(b"not the real file")
    dest = tmp_path / "dl"
    with pytest.raises(LrscanError, match="MD5"):
        fm.download(dest, "train", mirror=mirror.as_uri() + "/")
    assert not any(p.name.endswith(".gz") for p in dest.iterdir())


def test_fashion_mnist_download_accepts_matching_checksum(tmp_path, monkeypatch):
    import hashlib

    from lrscan.merge import fashion_mnist as fm

    mirror = tmp_path / "mirror"
    mirror.mkdir()
    imgs = np.zeros((3, 28, 28), np.uint8)
    labels = np.array([1, 2, 3], np.uint8)
    _write_idx(mirror / "train-images-idx3-ubyte.gz", imgs, 0x08, True)
    _write_idx(mirror / "train-labels-idx1-ubyte.gz", labels, 0x08, True)
    sums = {n: hashlib.md5((mirror / n).read_bytes()).hexdigest() for n in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")}
    monkeypatch.setattr(fm, "FILES", {**fm.FILES, **sums})
    got_i, got_l = fm.load_fashion_mnist(tmp_path / "dl", download=True, mirror=mirror.as_uri() + "/")
    assert got_i.shape == (3, 28, 28) and np.array_equal(got_l, labels)
