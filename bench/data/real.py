"""Real image domains, read with `torchvision.datasets` from torchvision's on-disk layout.

Why: the benchmark's cross-domain pairs need real datasets as uint8 (N, C, H, W) tensors at one
fixed size per domain, loaded the same way on every machine. Reading through torchvision keeps the
layout users already have (or that `bench run` downloads on first use) and keeps torchvision's checksum checks;
this module adds the conversions the benchmark needs and turns every missing-data, corrupt-data
or failed-download problem into one `BenchError` paragraph that says what to do.

Decisions worth knowing:

- EMNIST's IDX files store each image transposed; `emnist-letters` is transposed back so letters
  are upright like MNIST. Labels are kept as stored (1..26).
- Omniglot is read from the extracted `omniglot-py/images_*` folders, because torchvision's
  `Omniglot` class refuses to work without the original zips (it checks their md5). Strokes are
  inverted to white on black like MNIST, and 105x105 is resized to 28x28 with antialiased
  bilinear interpolation (the same filter as `torchvision.transforms.Resize(28)` on tensors).
  Each character's 20 drawings, in sorted file-name order, give 16 train and 4 test images; the
  label is the character's index in (sorted alphabet, sorted character) order.
- CIFAR-10/100 are upsampled 32 -> 64 with bilinear interpolation (the AugIntAE paper trains at
  DCGAN's 64x64). CIFAR-100 labels are the fine labels.
- CelebA images (178x218, aligned) are center-cropped to a square (178x178) and resized to 128x128
  with PIL's bilinear filter, which antialiases when shrinking. The `Male` attribute selects
  `celeba-male` / `celeba-female`; splits are torchvision's "train" and "test" partitions (the
  "valid" partition is unused). Labels are the CelebA identity numbers.
- Decoding thousands of PNG/JPEG files is slow, so Omniglot and CelebA keep the decoded tensors
  in `cache_dir()/domains/<name>-<size>px-v<CACHE_VERSION>.pt`. The cache records the number of
  source images per split and a fingerprint of their relative paths and labels, and is used only
  when both match the data found under the data root. Loads limited by `max_train`/`max_test`
  decode only the first items and neither read nor write a stale cache.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from bench.data.domain import DomainData, DomainSpec, Split
from bench.data.real_io import (
    BAD_DATA_ERRORS,
    cached_domain,
    corrupt_error,
    describe,
    ensure_present,
    labelled_split,
    open_image,
    resize_uint8,
    shorten,
)
from bench.errors import BenchError
from bench.lazy import lazy_module

torch = lazy_module("torch")  # imported on first use: listing domains needs no torch
F = lazy_module("torch.nn.functional")

# --------------------------------------------------------------------------------------------
# MNIST, Fashion-MNIST, EMNIST letters: IDX files


_IDX_MAGIC = {"images": (0x00000803, 3), "labels": (0x00000801, 1)}


def _check_idx(name: str, path: Path, kind: str) -> int:
    """Validate an uncompressed IDX file's header and size; return its item count."""
    magic_expected, ndim = _IDX_MAGIC[kind]
    header_len = 4 + 4 * ndim
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            header = fh.read(header_len)
    except OSError as exc:
        raise corrupt_error(name, path, f"cannot be read: {exc.strerror or exc}") from None
    if len(header) < header_len:
        raise corrupt_error(name, path, f"only {size} bytes, shorter than an IDX header")
    magic = int.from_bytes(header[:4], "big")
    if magic != magic_expected:
        raise corrupt_error(name, path, f"IDX magic number 0x{magic:08x}, expected 0x{magic_expected:08x} for {kind}")
    dims = [int.from_bytes(header[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    if kind == "images" and dims[1:] != [28, 28]:
        raise corrupt_error(name, path, f"images are {dims[1]}x{dims[2]}, expected 28x28")
    expected_size = header_len + int(np.prod(dims))
    if size != expected_size:
        raise corrupt_error(name, path, f"{size} bytes where its header implies {expected_size}")
    return dims[0]


@dataclass(frozen=True)
class _IdxSource:
    """A torchvision MNIST-family dataset: one IDX image file and one IDX label file per split."""

    name: str
    dataset: str  # torchvision.datasets class name, also its folder name under root
    train_prefix: str
    test_prefix: str
    emnist_split: Optional[str] = None
    transposed: bool = False  # EMNIST stores images transposed

    def files(self, root: Path, train: bool) -> tuple:
        raw = Path(root) / self.dataset / "raw"
        prefix = self.train_prefix if train else self.test_prefix
        return raw / f"{prefix}-images-idx3-ubyte", raw / f"{prefix}-labels-idx1-ubyte"

    def expected_files(self, root) -> list:
        return [*self.files(Path(root), True), *self.files(Path(root), False)]

    def urls(self) -> list:
        import torchvision.datasets as tvd

        cls = getattr(tvd, self.dataset)
        if "url" in vars(cls):  # EMNIST: one archive (it inherits MNIST's mirrors, which it does not use)
            return [cls.url]
        return [cls.mirrors[0] + name for name, _ in cls.resources]

    def _make(self, root: Path, train: bool, download: bool):
        import torchvision.datasets as tvd

        kwargs = {} if self.emnist_split is None else {"split": self.emnist_split}
        return getattr(tvd, self.dataset)(str(root), train=train, download=download, **kwargs)

    def load(self, root, download: bool = False, max_train=None, max_test=None) -> DomainData:
        root = Path(root)
        fetch = lambda: self._make(root, True, True)  # noqa: E731
        ensure_present(self.name, root, self.expected_files(root), download, fetch)
        return DomainData(self.name, self._split(root, True, max_train), self._split(root, False, max_test))

    def _split(self, root: Path, train: bool, n: Optional[int]) -> Split:
        image_file, label_file = self.files(root, train)
        n_images = _check_idx(self.name, image_file, "images")
        n_labels = _check_idx(self.name, label_file, "labels")
        if n_images != n_labels:
            raise corrupt_error(self.name, label_file, f"{n_labels} labels for {n_images} images in {image_file.name}")
        try:
            ds = self._make(root, train, False)
        except BAD_DATA_ERRORS as exc:
            raise corrupt_error(self.name, image_file, describe(exc)) from None
        images = ds.data.transpose(1, 2) if self.transposed else ds.data
        return labelled_split(images[:n].unsqueeze(1).contiguous(), ds.targets[:n], None)


# --------------------------------------------------------------------------------------------
# Omniglot: extracted PNG folders


OMNIGLOT_DRAWINGS = 20
OMNIGLOT_TRAIN_PER_CHARACTER = 16
OMNIGLOT_SOURCE_SIZE = 105


def _sorted_dirs(folder: Path) -> list:
    return sorted(p for p in folder.iterdir() if p.is_dir())


@dataclass(frozen=True)
class _OmniglotSource:
    """One Omniglot set, read from `<root>/omniglot-py/images_background` (or _evaluation)."""

    name: str
    background: bool
    size: int = 28

    def folder(self, root: Path) -> Path:
        sub = "images_background" if self.background else "images_evaluation"
        return Path(root) / "omniglot-py" / sub

    def expected_files(self, root) -> list:
        return [self.folder(Path(root))]

    def urls(self) -> list:
        import torchvision.datasets as tvd

        return [f"{tvd.Omniglot.download_url_prefix}/{self.folder(Path('.')).name}.zip"]

    def _fetch(self, root: Path) -> None:
        import torchvision.datasets as tvd

        tvd.Omniglot(str(root), background=self.background, download=True)

    def load(self, root, download: bool = False, max_train=None, max_test=None) -> DomainData:
        root = Path(root)
        ensure_present(self.name, root, self.expected_files(root), download, lambda: self._fetch(root))
        train_items, test_items = self.items(root)
        return cached_domain(
            self.name, root, self.size, 1, train_items, test_items, self._decode_chunk, max_train, max_test
        )

    def items(self, root: Path) -> tuple:
        """(train, test) lists of (png path, character index), split within each character."""
        train, test = [], []
        characters = [c for alphabet in _sorted_dirs(self.folder(root)) for c in _sorted_dirs(alphabet)]
        if not characters:
            raise corrupt_error(self.name, self.folder(root), "no alphabet/character folders inside")
        for label, character in enumerate(characters):
            drawings = sorted(character.glob("*.png"))
            if len(drawings) != OMNIGLOT_DRAWINGS:
                raise BenchError(
                    f"Domain '{self.name}': {character} holds {len(drawings)} PNG drawings, expected "
                    f"{OMNIGLOT_DRAWINGS}. The folder looks incomplete: delete {self.folder(root)} and "
                    f"run the same command again to fetch it anew."
                )
            train += [(p, label) for p in drawings[:OMNIGLOT_TRAIN_PER_CHARACTER]]
            test += [(p, label) for p in drawings[OMNIGLOT_TRAIN_PER_CHARACTER:]]
        return train, test

    def _decode_chunk(self, paths: Sequence[Path]) -> torch.Tensor:
        """Inverted (white strokes on black) 105x105 drawings, resized to size x size."""
        raw = torch.empty((len(paths), 1, OMNIGLOT_SOURCE_SIZE, OMNIGLOT_SOURCE_SIZE), dtype=torch.uint8)
        for i, path in enumerate(paths):
            pixels = np.asarray(open_image(self.name, path).convert("L"))
            if pixels.shape != (OMNIGLOT_SOURCE_SIZE, OMNIGLOT_SOURCE_SIZE):
                raise corrupt_error(self.name, path, f"image is {pixels.shape[1]}x{pixels.shape[0]}, expected 105x105")
            raw[i, 0] = torch.from_numpy(255 - pixels)
        return resize_uint8(raw, self.size, "bilinear")


# --------------------------------------------------------------------------------------------
# CIFAR-10 / CIFAR-100: pickled batches, checked by torchvision's md5 list


def _cifar_class(dataset: str):
    import torchvision.datasets as tvd

    return getattr(tvd, dataset)


# torchvision's folder and file names (checked against torchvision by a test), so that listing
# what is missing (`bench pairs`, the missing-data message) does not import torchvision and torch
CIFAR_FILES = {
    "CIFAR10": ("cifar-10-batches-py", ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch", "batches.meta")),
    "CIFAR100": ("cifar-100-python", ("train", "test", "meta")),
}


@dataclass(frozen=True)
class _CifarSource:
    """torchvision CIFAR10/CIFAR100, upsampled from 32x32 to `size` with bilinear interpolation."""

    name: str
    dataset: str  # "CIFAR10" or "CIFAR100"
    size: int = 64

    def _file_names(self) -> list:
        return list(CIFAR_FILES[self.dataset][1])

    def expected_files(self, root) -> list:
        folder = Path(root) / CIFAR_FILES[self.dataset][0]
        return [folder / f for f in self._file_names()]

    def urls(self) -> list:
        return [_cifar_class(self.dataset).url]

    def load(self, root, download: bool = False, max_train=None, max_test=None) -> DomainData:
        root = Path(root)
        cls = _cifar_class(self.dataset)
        fetch = lambda: cls(str(root), train=True, download=True)  # noqa: E731
        ensure_present(self.name, root, self.expected_files(root), download, fetch)
        return DomainData(self.name, self._split(root, True, max_train), self._split(root, False, max_test))

    def _split(self, root: Path, train: bool, n: Optional[int]) -> Split:
        cls = _cifar_class(self.dataset)
        try:
            ds = cls(str(root), train=train, download=False)
        except BAD_DATA_ERRORS as exc:
            raise self._corrupt(root, exc) from None
        images = torch.from_numpy(np.ascontiguousarray(ds.data[:n])).permute(0, 3, 1, 2)
        return labelled_split(resize_uint8(images, self.size, "bilinear"), ds.targets[:n], None)

    def _corrupt(self, root: Path, exc: BaseException) -> BenchError:
        """Name the files whose md5 differs from torchvision's list, else the whole folder."""
        from torchvision.datasets.utils import check_integrity

        cls = _cifar_class(self.dataset)
        folder = root / cls.base_folder
        listed = list(cls.train_list) + list(cls.test_list) + [[cls.meta["filename"], cls.meta["md5"]]]
        bad = [folder / f for f, md5 in listed if not check_integrity(str(folder / f), md5)]
        where = shorten(bad, None) if bad else str(folder)
        detail = "md5 differs from torchvision's list" if bad else describe(exc)
        return corrupt_error(self.name, where, detail)


# --------------------------------------------------------------------------------------------
# CelebA: aligned JPEGs plus attribute / partition text files, checked by torchvision


CELEBA_TEXT_FILES = (
    "list_attr_celeba.txt",
    "identity_CelebA.txt",
    "list_bbox_celeba.txt",
    "list_landmarks_align_celeba.txt",
    "list_eval_partition.txt",
)


@dataclass(frozen=True)
class _CelebASource:
    """torchvision CelebA, one side of the `Male` attribute, center-cropped and resized."""

    name: str
    male: bool
    size: int = 128

    def expected_files(self, root) -> list:
        folder = Path(root) / "celeba"
        return [folder / f for f in CELEBA_TEXT_FILES] + [folder / "img_align_celeba"]

    def urls(self) -> list:
        import torchvision.datasets as tvd

        return [f"https://drive.google.com/file/d/{file_id} ({name})" for file_id, _, name in tvd.CelebA.file_list]

    def _fetch(self, root: Path) -> None:
        import torchvision.datasets as tvd

        tvd.CelebA(str(root), split="train", target_type="attr", download=True)

    def load(self, root, download: bool = False, max_train=None, max_test=None) -> DomainData:
        root = Path(root)
        ensure_present(self.name, root, self.expected_files(root), download, lambda: self._fetch(root))
        train_items, test_items = self.items(root, "train"), self.items(root, "test")
        return cached_domain(
            self.name, root, self.size, 3, train_items, test_items, self._decode_chunk, max_train, max_test
        )

    def items(self, root: Path, split: str) -> list:
        """(jpeg path, identity) of the split's images whose `Male` attribute matches."""
        ds = self._open(root, split)
        if "Male" not in ds.attr_names:
            raise corrupt_error(self.name, root / "celeba" / "list_attr_celeba.txt", "no 'Male' column")
        keep = ds.attr[:, ds.attr_names.index("Male")] == int(self.male)
        images = root / "celeba" / "img_align_celeba"
        return [(images / ds.filename[i], int(ds.identity[i, 0])) for i in torch.nonzero(keep).flatten().tolist()]

    def _open(self, root: Path, split: str):
        import torchvision.datasets as tvd

        try:
            return tvd.CelebA(str(root), split=split, target_type="attr", download=False)
        except BAD_DATA_ERRORS as exc:
            raise self._corrupt(root, exc) from None

    def _corrupt(self, root: Path, exc: BaseException) -> BenchError:
        """Name the text files whose md5 differs from torchvision's list, else the folder."""
        import torchvision.datasets as tvd
        from torchvision.datasets.utils import check_integrity

        folder = root / "celeba"
        listed = [(f, md5) for _, md5, f in tvd.CelebA.file_list if f in CELEBA_TEXT_FILES]
        bad = [folder / f for f, md5 in listed if not check_integrity(str(folder / f), md5)]
        where = shorten(bad, None) if bad else str(folder)
        detail = "md5 differs from torchvision's list" if bad else describe(exc)
        return corrupt_error(self.name, where, detail)

    def _decode_chunk(self, paths: Sequence[Path]) -> torch.Tensor:
        out = torch.empty((len(paths), 3, self.size, self.size), dtype=torch.uint8)
        for i, path in enumerate(paths):
            out[i] = torch.from_numpy(self._decode_one(path)).permute(2, 0, 1)
        return out

    def _decode_one(self, path: Path) -> np.ndarray:
        """Center square crop (178x178 for aligned CelebA), then bilinear resize to size x size."""
        from PIL import Image

        image = open_image(self.name, path).convert("RGB")
        side = min(image.size)
        left, top = (image.size[0] - side) // 2, (image.size[1] - side) // 2
        square = image.crop((left, top, left + side, top + side))
        return np.array(square.resize((self.size, self.size), Image.BILINEAR))


# --------------------------------------------------------------------------------------------
# Registry


def _spec(source, size: int, channels: int, description: str, split_sizes: tuple) -> DomainSpec:
    return DomainSpec(
        name=source.name,
        size=size,
        channels=channels,
        kind="real",
        description=description,
        split_sizes=split_sizes,
        load=source.load,
        expected_files=source.expected_files,
        urls=source.urls,
        subset_revision=2,  # 2: capped splits are stratified random subsets (1: file order)
    )


REAL_DOMAINS: list[DomainSpec] = [
    _spec(_IdxSource("mnist", "MNIST", "train", "t10k"), 28, 1, "MNIST handwritten digits", (60000, 10000)),
    _spec(
        _IdxSource("fashion-mnist", "FashionMNIST", "train", "t10k"),
        28,
        1,
        "Fashion-MNIST clothing images",
        (60000, 10000),
    ),
    _spec(
        _IdxSource(
            "emnist-letters",
            "EMNIST",
            "emnist-letters-train",
            "emnist-letters-test",
            emnist_split="letters",
            transposed=True,
        ),
        28,
        1,
        "EMNIST handwritten letters (labels 1..26), upright",
        (124800, 20800),
    ),
    _spec(
        _OmniglotSource("omniglot-background", background=True),
        28,
        1,
        "Omniglot background set, 964 characters, white strokes on black, 105->28",
        (15424, 3856),
    ),
    _spec(
        _OmniglotSource("omniglot-evaluation", background=False),
        28,
        1,
        "Omniglot evaluation set, 659 characters, white strokes on black, 105->28",
        (10544, 2636),
    ),
    _spec(_CifarSource("cifar10", "CIFAR10"), 64, 3, "CIFAR-10 objects, upsampled 32->64", (50000, 10000)),
    _spec(
        _CifarSource("cifar100", "CIFAR100"),
        64,
        3,
        "CIFAR-100 objects (fine labels), upsampled 32->64",
        (50000, 10000),
    ),
    _spec(
        _CelebASource("celeba-male", male=True),
        128,
        3,
        "CelebA aligned faces with Male=1, center crop 178, resized to 128",
        (None, None),
    ),
    _spec(
        _CelebASource("celeba-female", male=False),
        128,
        3,
        "CelebA aligned faces with Male=0, center crop 178, resized to 128",
        (None, None),
    ),
]
