"""Real-domain loaders against tiny fixtures written here in each dataset's real on-disk format.

Why: the real datasets are large and mostly absent offline, so these tests check the format
handling (IDX, EMNIST's transposition, Omniglot folders, CIFAR pickles, CelebA text files), the
conversions (inversion, resizing, splits, labels), the decoded-image cache and the user-facing
errors without reading the shared data folder or touching the network.
"""

from __future__ import annotations

import hashlib
import pickle
import socket
import struct
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest
import torch
import torchvision.datasets as tvd
from PIL import Image

from bench.data.real import REAL_DOMAINS
from bench.errors import BenchError

SPECS = {spec.name: spec for spec in REAL_DOMAINS}


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    """A private cache folder, and no network: any connection attempt fails the test."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("BENCH_CACHE_DIR", str(folder))

    def no_network(*args, **kwargs):
        raise AssertionError("the tests must not touch the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    return folder


def md5(path: Path) -> str:
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


# --------------------------------------------------------------------------------------------
# IDX fixtures (MNIST, Fashion-MNIST, EMNIST)


def write_idx_images(path: Path, images: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    n, h, w = images.shape
    path.write_bytes(struct.pack(">IIII", 0x00000803, n, h, w) + images.astype(np.uint8).tobytes())


def write_idx_labels(path: Path, labels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(struct.pack(">II", 0x00000801, len(labels)) + labels.astype(np.uint8).tobytes())


def write_idx_domain(root: Path, folder: str, prefixes=("train", "t10k"), images=None, n=(20, 10), first_label=0):
    """IDX files for both splits; `images` (if given) replaces the first stored image of each."""
    rng = np.random.default_rng(0)
    raw = root / folder / "raw"
    for prefix, count in zip(prefixes, n):
        stored = rng.integers(0, 256, (count, 28, 28), dtype=np.uint8)
        if images is not None:
            stored[0] = images
        labels = first_label + np.arange(count) % 10
        write_idx_images(raw / f"{prefix}-images-idx3-ubyte", stored)
        write_idx_labels(raw / f"{prefix}-labels-idx1-ubyte", labels)
    return raw


def one_pixel(row: int, col: int) -> np.ndarray:
    image = np.zeros((28, 28), dtype=np.uint8)
    image[row, col] = 255
    return image


@pytest.mark.parametrize("name, folder", [("mnist", "MNIST"), ("fashion-mnist", "FashionMNIST")])
def test_mnist_like_loads_uint8_with_labels(tmp_path, name, folder):
    write_idx_domain(tmp_path, folder)
    data = SPECS[name].load(tmp_path)
    assert data.train.images.shape == (20, 1, 28, 28) and data.test.images.shape == (10, 1, 28, 28)
    assert data.train.images.dtype == torch.uint8 and data.train.labels.dtype == torch.int64
    assert data.train.labels.tolist() == [i % 10 for i in range(20)]
    assert SPECS[name].is_available(tmp_path)


def test_emnist_letters_come_out_upright_and_mnist_is_not_transposed(tmp_path):
    upright = one_pixel(2, 20)
    write_idx_domain(tmp_path, "EMNIST", ("emnist-letters-train", "emnist-letters-test"), upright.T, first_label=1)
    write_idx_domain(tmp_path, "MNIST", images=upright.T)  # same stored bytes

    letters = SPECS["emnist-letters"].load(tmp_path)
    assert letters.train.images[0, 0, 2, 20] == 255 and letters.train.images[0, 0, 20, 2] == 0
    assert letters.test.images[0, 0, 2, 20] == 255
    assert letters.train.labels.min() == 1  # labels 1..26 as stored

    digits = SPECS["mnist"].load(tmp_path)
    assert digits.train.images[0, 0, 20, 2] == 255 and digits.train.images[0, 0, 2, 20] == 0


def test_max_train_and_max_test_truncate(tmp_path):
    write_idx_domain(tmp_path, "MNIST")
    data = SPECS["mnist"].load(tmp_path, max_train=5, max_test=3)
    assert len(data.train) == 5 and len(data.test) == 3
    assert data.train.labels.tolist() == [0, 1, 2, 3, 4]


def test_idx_with_wrong_magic_number_is_a_bench_error(tmp_path):
    raw = write_idx_domain(tmp_path, "MNIST")
    path = raw / "train-images-idx3-ubyte"
    path.write_bytes(struct.pack(">I", 0x00000802) + path.read_bytes()[4:])
    with pytest.raises(BenchError, match="corrupt") as err:
        SPECS["mnist"].load(tmp_path)
    assert "train-images-idx3-ubyte" in str(err.value) and "magic" in str(err.value)


def test_truncated_idx_is_a_bench_error(tmp_path):
    raw = write_idx_domain(tmp_path, "FashionMNIST")
    path = raw / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(BenchError, match="truncated or corrupt") as err:
        SPECS["fashion-mnist"].load(tmp_path)
    assert "t10k-images-idx3-ubyte" in str(err.value) and "fashion-mnist" in str(err.value)


def test_label_count_mismatch_is_a_bench_error(tmp_path):
    raw = write_idx_domain(tmp_path, "MNIST")
    write_idx_labels(raw / "train-labels-idx1-ubyte", np.zeros(19))
    with pytest.raises(BenchError, match="19 labels for 20 images"):
        SPECS["mnist"].load(tmp_path)


def test_download_uses_torchvision_and_reports_failures(tmp_path, monkeypatch):
    def offline(self):
        raise URLError("no route to host")

    monkeypatch.setattr(tvd.MNIST, "download", offline)
    with pytest.raises(BenchError, match="downloading into .* failed .*no route to host"):
        SPECS["mnist"].load(tmp_path, download=True)

    def fake_download(self):
        write_idx_domain(Path(self.root), "MNIST")

    monkeypatch.setattr(tvd.MNIST, "download", fake_download)
    assert len(SPECS["mnist"].load(tmp_path, download=True).train) == 20


# --------------------------------------------------------------------------------------------
# Missing data, for every real domain


@pytest.mark.parametrize("name", sorted(SPECS))
def test_missing_data_names_domain_folder_files_and_fixes(tmp_path, name):
    root = tmp_path / "empty"
    root.mkdir()
    spec = SPECS[name]
    assert not spec.is_available(root)
    with pytest.raises(BenchError) as err:
        spec.load(root)
    message = str(err.value)
    assert name in message and str(root) in message
    assert Path(spec.expected_files(root)[0]).name in message
    assert "--offline" in message and "--data-dir" in message
    assert "\n" not in message


def test_expected_files_use_torchvision_layout(tmp_path):
    def names(domain):
        return [str(Path(p).relative_to(tmp_path)) for p in SPECS[domain].expected_files(tmp_path)]

    assert "MNIST/raw/train-images-idx3-ubyte" in names("mnist")
    assert "EMNIST/raw/emnist-letters-test-labels-idx1-ubyte" in names("emnist-letters")
    assert names("omniglot-evaluation") == ["omniglot-py/images_evaluation"]
    assert "cifar-10-batches-py/data_batch_5" in names("cifar10")
    assert "cifar-100-python/meta" in names("cifar100")
    assert {"celeba/list_attr_celeba.txt", "celeba/img_align_celeba"} <= set(names("celeba-male"))


def test_registry_sizes():
    assert [s.name for s in REAL_DOMAINS] == [
        "mnist",
        "fashion-mnist",
        "emnist-letters",
        "omniglot-background",
        "omniglot-evaluation",
        "cifar10",
        "cifar100",
        "celeba-male",
        "celeba-female",
    ]
    assert SPECS["omniglot-background"].split_sizes == (15424, 3856)
    assert SPECS["omniglot-evaluation"].split_sizes == (10544, 2636)
    assert (SPECS["cifar10"].size, SPECS["cifar10"].channels) == (64, 3)
    assert (SPECS["celeba-female"].size, SPECS["celeba-female"].channels) == (128, 3)
    assert all(s.kind == "real" for s in REAL_DOMAINS)


# --------------------------------------------------------------------------------------------
# Omniglot folders

# Character k (global, sorted) draws a black block in column band k; drawings 1-16 in the top
# half, drawings 17-20 in the bottom half, so both the label and the split show in the pixels.


def omniglot_drawing(label: int, drawing: int) -> Image.Image:
    white = np.ones((105, 105), dtype=bool)
    rows = slice(0, 52) if drawing <= 16 else slice(53, 105)
    white[rows, 26 * label : 26 * label + 26] = False
    return Image.fromarray(white)  # mode "1": black stroke on white, like the originals


def write_omniglot(root: Path, subset: str = "images_background") -> Path:
    folder = root / "omniglot-py" / subset
    label = 0
    for alphabet in ("Alpha", "Beta"):  # created in this order; sorted order decides labels anyway
        for character in ("character01", "character02"):
            out = folder / alphabet / character
            out.mkdir(parents=True)
            for drawing in (20, *range(1, 20)):  # creation order differs from sorted order
                omniglot_drawing(label, drawing).save(out / f"{label + 1:04d}_{drawing:02d}.png")
            label += 1
    return folder


def band_centre(label: int) -> int:
    return int((26 * label + 13) / 3.75)


def test_omniglot_inverts_resizes_and_splits_within_characters(tmp_path):
    write_omniglot(tmp_path)
    data = SPECS["omniglot-background"].load(tmp_path)
    assert data.train.images.shape == (64, 1, 28, 28) and data.test.images.shape == (16, 1, 28, 28)
    assert data.train.images.dtype == torch.uint8
    assert data.train.labels.tolist() == [k for k in range(4) for _ in range(16)]
    assert data.test.labels.tolist() == [k for k in range(4) for _ in range(4)]
    for split, row, other_row in ((data.train, 6, 21), (data.test, 21, 6)):
        for image, label in zip(split.images[:, 0], split.labels.tolist()):
            col = band_centre(label)
            assert image[row, col] == 255  # stroke is bright
            assert image[other_row, col] == 0  # background is black; split by sorted file name
            assert image[row, band_centre((label + 2) % 4)] == 0


def test_omniglot_evaluation_reads_its_own_folder(tmp_path):
    write_omniglot(tmp_path, "images_evaluation")
    data = SPECS["omniglot-evaluation"].load(tmp_path, max_train=3)
    assert len(data.train) == 3 and len(data.test) == 16


def test_omniglot_second_load_uses_the_cache(tmp_path, cache, monkeypatch):
    folder = write_omniglot(tmp_path)
    first = SPECS["omniglot-background"].load(tmp_path)
    cached = list((cache / "domains").glob("omniglot-background-28px-v*.pt"))
    assert len(cached) == 1

    import bench.data.real_io as real

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again although the cache matches")

    with monkeypatch.context() as patch:
        patch.setattr(real, "_decode_items", no_decoding)
        second = SPECS["omniglot-background"].load(tmp_path)
        limited = SPECS["omniglot-background"].load(tmp_path, max_train=10, max_test=2)
    assert torch.equal(first.train.images, second.train.images)
    assert torch.equal(first.test.labels, second.test.labels)
    assert len(limited.train) == 10 and len(limited.test) == 2

    # The cache no longer matches once the source changes: it is decoded again.
    for png in (folder / "Beta" / "character02").iterdir():
        png.unlink()
    (folder / "Beta" / "character02").rmdir()
    third = SPECS["omniglot-background"].load(tmp_path)
    assert len(third.train) == 48 and third.train.labels.max() == 2


def test_omniglot_limited_first_load_decodes_only_what_is_asked_and_writes_no_cache(tmp_path, cache):
    write_omniglot(tmp_path)
    data = SPECS["omniglot-background"].load(tmp_path, max_train=5, max_test=5)
    assert len(data.train) == 5 and len(data.test) == 5
    assert not (cache / "domains").exists() or not any((cache / "domains").iterdir())


def test_omniglot_unreadable_png_is_a_bench_error(tmp_path):
    folder = write_omniglot(tmp_path)
    bad = folder / "Beta" / "character01" / "0003_05.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(BenchError, match="truncated or corrupt") as err:
        SPECS["omniglot-background"].load(tmp_path)
    assert "0003_05.png" in str(err.value)


def test_omniglot_incomplete_character_is_a_bench_error(tmp_path):
    folder = write_omniglot(tmp_path)
    (folder / "Alpha" / "character02" / "0002_07.png").unlink()
    with pytest.raises(BenchError, match="19 PNG drawings, expected 20"):
        SPECS["omniglot-background"].load(tmp_path)


def test_omniglot_download_goes_through_torchvision(tmp_path, monkeypatch):
    monkeypatch.setattr(tvd.Omniglot, "download", lambda self: write_omniglot(Path(self.root).parent))
    monkeypatch.setattr(tvd.Omniglot, "_check_integrity", lambda self: True)
    assert len(SPECS["omniglot-background"].load(tmp_path, download=True).train) == 64


# --------------------------------------------------------------------------------------------
# CIFAR pickles


def cifar_row(rgb) -> np.ndarray:
    """One CIFAR row: 1024 red, 1024 green, 1024 blue values (row-major 32x32 planes)."""
    return np.concatenate([np.full(1024, v, dtype=np.uint8) for v in rgb])


def write_pickle(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        pickle.dump(obj, fh)


def write_cifar10(root: Path, monkeypatch, per_batch: int = 2, n_test: int = 3) -> Path:
    folder = root / "cifar-10-batches-py"
    rng = np.random.default_rng(1)
    names = [f"data_batch_{i}" for i in range(1, 6)]
    label = 0
    for name, count in [(n, per_batch) for n in names] + [("test_batch", n_test)]:
        data = rng.integers(0, 256, (count, 3072), dtype=np.uint8)
        data[0] = cifar_row((7, 100, 200))
        labels = [(label + i) % 10 for i in range(count)]
        label += count
        write_pickle(folder / name, {"batch_label": name, "labels": labels, "data": data, "filenames": []})
    write_pickle(folder / "batches.meta", {"label_names": [f"class{i}" for i in range(10)], "num_vis": 3072})
    monkeypatch.setattr(tvd.CIFAR10, "train_list", [[n, md5(folder / n)] for n in names])
    monkeypatch.setattr(tvd.CIFAR10, "test_list", [["test_batch", md5(folder / "test_batch")]])
    monkeypatch.setattr(tvd.CIFAR10, "meta", {**tvd.CIFAR10.meta, "md5": md5(folder / "batches.meta")})
    return folder


def write_cifar100(root: Path, monkeypatch) -> Path:
    folder = root / "cifar-100-python"
    for name, count in (("train", 4), ("test", 2)):
        data = np.zeros((count, 3072), dtype=np.uint8)
        data[0] = cifar_row((7, 100, 200))
        fine = [50 + i for i in range(count)]
        write_pickle(folder / name, {"data": data, "fine_labels": fine, "coarse_labels": [i for i in range(count)]})
    write_pickle(folder / "meta", {"fine_label_names": [str(i) for i in range(100)], "coarse_label_names": []})
    monkeypatch.setattr(tvd.CIFAR100, "train_list", [["train", md5(folder / "train")]])
    monkeypatch.setattr(tvd.CIFAR100, "test_list", [["test", md5(folder / "test")]])
    monkeypatch.setattr(tvd.CIFAR100, "meta", {**tvd.CIFAR100.meta, "md5": md5(folder / "meta")})
    return folder


def assert_constant_colour(image: torch.Tensor, rgb) -> None:
    for channel, value in enumerate(rgb):
        assert (image[channel] == value).all()


def test_cifar10_upsampled_to_64_with_labels(tmp_path, monkeypatch):
    write_cifar10(tmp_path, monkeypatch)
    data = SPECS["cifar10"].load(tmp_path)
    assert data.train.images.shape == (10, 3, 64, 64) and data.test.images.shape == (3, 3, 64, 64)
    assert data.train.images.dtype == torch.uint8 and data.train.labels.dtype == torch.int64
    assert data.train.labels.tolist() == [i % 10 for i in range(10)]
    assert data.test.labels.tolist() == [0, 1, 2]
    assert_constant_colour(data.train.images[0], (7, 100, 200))  # channel order kept
    assert len(SPECS["cifar10"].load(tmp_path, max_train=4).train) == 4


def test_cifar100_uses_fine_labels(tmp_path, monkeypatch):
    write_cifar100(tmp_path, monkeypatch)
    data = SPECS["cifar100"].load(tmp_path)
    assert data.train.images.shape == (4, 3, 64, 64)
    assert data.train.labels.tolist() == [50, 51, 52, 53] and data.test.labels.tolist() == [50, 51]
    assert_constant_colour(data.test.images[0], (7, 100, 200))


def test_cifar_file_failing_md5_is_a_bench_error(tmp_path, monkeypatch):
    folder = write_cifar10(tmp_path, monkeypatch)
    (folder / "data_batch_3").write_bytes(b"garbage")
    with pytest.raises(BenchError, match="truncated or corrupt") as err:
        SPECS["cifar10"].load(tmp_path)
    assert "data_batch_3" in str(err.value)


def test_cifar_pickle_that_fails_to_load_is_a_bench_error(tmp_path, monkeypatch):
    folder = write_cifar100(tmp_path, monkeypatch)
    (folder / "train").write_bytes(b"\x80\x04 truncated pickle")
    monkeypatch.setattr(tvd.CIFAR100, "train_list", [["train", md5(folder / "train")]])  # md5 passes
    with pytest.raises(BenchError, match="truncated or corrupt") as err:
        SPECS["cifar100"].load(tmp_path)
    assert "cifar100" in str(err.value)


# --------------------------------------------------------------------------------------------
# CelebA

CELEBA_ATTRIBUTES = (
    "5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose Black_Hair "
    "Blond_Hair Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee Gray_Hair Heavy_Makeup "
    "High_Cheekbones Male Mouth_Slightly_Open Mustache Narrow_Eyes No_Beard Oval_Face Pale_Skin Pointy_Nose "
    "Receding_Hairline Rosy_Cheeks Sideburns Smiling Straight_Hair Wavy_Hair Wearing_Earrings Wearing_Hat "
    "Wearing_Lipstick Wearing_Necklace Wearing_Necktie Young"
).split()

# (file, partition 0/1/2, male)
CELEBA_IMAGES = [
    ("000001.jpg", 0, True),
    ("000002.jpg", 0, False),
    ("000003.jpg", 0, True),
    ("000004.jpg", 0, False),
    ("000005.jpg", 1, True),
    ("000006.jpg", 2, True),
    ("000007.jpg", 2, False),
]
RED, BLUE, GREEN = (200, 30, 30), (30, 30, 200), (20, 220, 20)


def celeba_face(male: bool) -> Image.Image:
    """178x218 like the aligned images; the 20-row green bands fall outside the 178 center crop."""
    pixels = np.empty((218, 178, 3), dtype=np.uint8)
    pixels[:] = RED if male else BLUE
    pixels[:20] = GREEN
    pixels[198:] = GREEN
    return Image.fromarray(pixels)


def write_celeba(root: Path, monkeypatch) -> Path:
    folder = root / "celeba"
    (folder / "img_align_celeba").mkdir(parents=True)
    n = len(CELEBA_IMAGES)
    attr, partition, identity, bbox, landmarks = [], [], [], [], []
    for i, (name, split, male) in enumerate(CELEBA_IMAGES):
        celeba_face(male).save(folder / "img_align_celeba" / name, quality=95)
        values = [1 if a == "Young" or (a == "Male" and male) else -1 for a in CELEBA_ATTRIBUTES]
        attr.append(f"{name} " + " ".join(f"{v:2d}" for v in values))
        partition.append(f"{name} {split}")
        identity.append(f"{name} {100 + i}")
        bbox.append(f"{name}    95  71 226 313")
        landmarks.append(f"{name} 69  109  106  113   77  142   73  152  108  154")
    texts = {
        "list_attr_celeba.txt": [str(n), " ".join(CELEBA_ATTRIBUTES) + " ", *attr],
        "list_eval_partition.txt": partition,
        "identity_CelebA.txt": identity,
        "list_bbox_celeba.txt": [str(n), "image_id x_1 y_1 width height", *bbox],
        "list_landmarks_align_celeba.txt": [
            str(n),
            "lefteye_x lefteye_y righteye_x righteye_y nose_x nose_y leftmouth_x leftmouth_y rightmouth_x rightmouth_y",
            *landmarks,
        ],
    }
    for name, lines in texts.items():
        (folder / name).write_text("\n".join(lines) + "\n")
    file_list = [(fid, md5(folder / f) if (folder / f).exists() else h, f) for fid, h, f in tvd.CelebA.file_list]
    monkeypatch.setattr(tvd.CelebA, "file_list", file_list)
    return folder


def test_celeba_splits_by_male_attribute_and_crops_to_128(tmp_path, monkeypatch):
    write_celeba(tmp_path, monkeypatch)
    male = SPECS["celeba-male"].load(tmp_path)
    female = SPECS["celeba-female"].load(tmp_path)
    assert male.train.images.shape == (2, 3, 128, 128) and male.test.images.shape == (1, 3, 128, 128)
    assert female.train.images.shape == (2, 3, 128, 128) and female.test.images.shape == (1, 3, 128, 128)
    assert male.train.images.dtype == torch.uint8
    assert male.train.labels.tolist() == [100, 102] and male.test.labels.tolist() == [105]  # identities
    assert female.train.labels.tolist() == [101, 103] and female.test.labels.tolist() == [106]
    for data, colour in ((male, RED), (female, BLUE)):
        for images in (data.train.images, data.test.images):
            means = images.float().mean(dim=(0, 2, 3))
            assert torch.allclose(means, torch.tensor(colour, dtype=torch.float), atol=12)  # no green band


def test_celeba_is_cached_after_the_first_full_load(tmp_path, cache, monkeypatch):
    folder = write_celeba(tmp_path, monkeypatch)
    first = SPECS["celeba-female"].load(tmp_path)
    assert list((cache / "domains").glob("celeba-female-128px-v*.pt"))
    (folder / "img_align_celeba" / "000002.jpg").unlink()  # images are not needed any more
    second = SPECS["celeba-female"].load(tmp_path)
    assert torch.equal(first.train.images, second.train.images)


def test_celeba_unreadable_or_missing_image_is_a_bench_error(tmp_path, monkeypatch):
    folder = write_celeba(tmp_path, monkeypatch)
    (folder / "img_align_celeba" / "000003.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    with pytest.raises(BenchError, match="000003.jpg looks truncated or corrupt"):
        SPECS["celeba-male"].load(tmp_path)
    (folder / "img_align_celeba" / "000004.jpg").unlink()
    with pytest.raises(BenchError, match="000004.jpg is listed by the dataset but missing"):
        SPECS["celeba-female"].load(tmp_path)


def test_celeba_text_file_failing_md5_is_a_bench_error(tmp_path, monkeypatch):
    folder = write_celeba(tmp_path, monkeypatch)
    (folder / "list_eval_partition.txt").write_text("000001.jpg 0\n")
    with pytest.raises(BenchError, match="list_eval_partition.txt looks truncated or corrupt"):
        SPECS["celeba-male"].load(tmp_path)


def write_many_alphabets(root: Path, subset: str, alphabets: int = 20, characters: int = 2) -> None:
    blank = Image.fromarray(np.ones((105, 105), dtype=bool))
    for a in range(alphabets):
        for c in range(characters):
            out = root / "omniglot-py" / subset / f"Alphabet{a:02d}" / f"character{c + 1:02d}"
            out.mkdir(parents=True)
            for drawing in range(1, 21):
                blank.save(out / f"{a:02d}{c:02d}_{drawing:02d}.png")


def test_a_capped_omniglot_test_split_is_a_stratified_random_subset_covering_every_alphabet(tmp_path):
    """At `quick` the metrics score 2,000 of Omniglot's 2,636 evaluation test images; in file
    (alphabetical) order that left about 5 of the 20 alphabets out. A capped split must be a
    seeded random subset that covers every character, hence every alphabet."""
    from bench import data as data_layer

    write_many_alphabets(tmp_path, "images_background", alphabets=2)
    write_many_alphabets(tmp_path, "images_evaluation")  # 20 alphabets x 2 characters x 4 test drawings
    train, novel = data_layer.load_pair(data_layer.get_pair("omniglot"), tmp_path, max_test=60)
    alphabets = novel.test.labels // 2  # characters are numbered in (alphabet, character) order
    assert len(novel.test) == 60 and sorted(set(alphabets.tolist())) == list(range(20))
    counts = torch.bincount(novel.test.labels, minlength=40)
    assert counts.min() >= 1 and counts.max() <= 2  # 60 of 160: 1 or 2 of each character's 4
    assert novel.test.labels.tolist() != sorted(novel.test.labels.tolist())  # not file order
    assert "stratified by label" in novel.split_note("test") and "60 of the 160" in novel.split_note("test")
    again = data_layer.load_pair(data_layer.get_pair("omniglot"), tmp_path, max_test=60)[1]
    assert torch.equal(again.test.labels, novel.test.labels)  # a fixed seed: every run scores the same images
    assert len(train.test) == 16 and "all 16 test images" == train.split_note("test")  # uncapped: whole split


def test_stratified_order_covers_every_label_first_then_follows_the_label_shares():
    from bench.data.domain import Split, stratified_order

    labels = torch.tensor([0] * 1 + [1] * 9 + [2] * 90)
    order = stratified_order(labels, 100, seed=3)
    assert sorted(order.tolist()) == list(range(100))  # a permutation
    assert sorted(labels[order[:3]].tolist()) == [0, 1, 2]  # every label in the first 3
    counts = torch.bincount(labels[order[:51]], minlength=3).tolist()
    assert counts[0] == 1 and 4 <= counts[1] <= 6 and 44 <= counts[2] <= 46  # about 51 x the shares
    assert torch.equal(order, stratified_order(labels, 100, seed=3))
    assert not torch.equal(order, stratified_order(labels, 100, seed=4))
    split = Split(torch.zeros(100, 1, 2, 2, dtype=torch.uint8), labels)
    assert torch.equal(split.sample(10, seed=3).labels, labels[order[:10]])
    assert split.sample(None, seed=3) is split and split.sample(500, seed=3) is split


def test_the_cifar_file_lists_match_torchvision():
    from bench.data.real import CIFAR_FILES

    for name, (folder, files) in CIFAR_FILES.items():
        cls = getattr(tvd, name)
        assert folder == cls.base_folder
        assert list(files) == [f for f, _ in cls.train_list] + [f for f, _ in cls.test_list] + [cls.meta["filename"]]



def test_a_pairs_missing_datasets_are_downloaded_on_first_use(tmp_path, monkeypatch):
    from bench import data as data_layer

    fetched = []

    def fake_download(self):  # stands in for torchvision's fetch (md5-checked) of each dataset
        fetched.append(type(self).__name__)
        write_idx_domain(Path(self.root), type(self).__name__, prefixes=("emnist-letters-train", "emnist-letters-test") if type(self).__name__ == "EMNIST" else ("train", "t10k"))

    monkeypatch.setattr(tvd.MNIST, "download", fake_download)
    monkeypatch.setattr(tvd.EMNIST, "download", fake_download)
    train, novel = data_layer.load_pair(data_layer.get_pair("mnist-emnist"), tmp_path, download=True)
    assert sorted(fetched) == ["EMNIST", "MNIST"] and len(train.train) == 20 and len(novel.train) == 20
    data_layer.load_pair(data_layer.get_pair("mnist-emnist"), tmp_path, download=True)
    assert len(fetched) == 2  # present now: nothing fetched again


def test_offline_names_every_missing_file_of_both_domains_with_its_source(tmp_path):
    from bench import data as data_layer

    with pytest.raises(BenchError) as err:
        data_layer.load_pair(data_layer.get_pair("mnist-emnist"), tmp_path, download=False)
    message = str(err.value)
    assert "downloads are off (--offline or BENCH_OFFLINE=1)" in message and "\n" not in message
    for name in ("MNIST/raw/train-images-idx3-ubyte", "MNIST/raw/t10k-labels-idx1-ubyte", "EMNIST/raw/emnist-letters-train-images-idx3-ubyte", "EMNIST/raw/emnist-letters-test-labels-idx1-ubyte"):
        assert name in message
    assert tvd.EMNIST.url in message and tvd.MNIST.mirrors[0] in message and str(tmp_path) in message
