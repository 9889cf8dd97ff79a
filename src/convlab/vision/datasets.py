"""torchvision-style datasets: ``MNIST``, ``FashionMNIST``, ``KMNIST``, ``CIFAR10`` and
``ImageFolder``, with torchvision's arguments (``root``, ``train``, ``transform``,
``target_transform``, ``download``) and items (a PIL image and an int label).

Files are looked for first, so nothing touches the network when they are present: in
``root/<Name>/raw`` (where torchvision and ``download=True`` put them), in ``root`` itself, in
``$CONVLAB_DATA/<name>`` and in ``/usr/share/datasets/<name>`` (Debian's
``dataset-fashion-mnist``). Otherwise ``download=True`` fetches them from the official location
(see :mod:`.download`) and ``download=False`` raises torchvision's "Dataset not found" error.

CIFAR-10 is read from the official *binary* archive (``cifar-10-binary.tar.gz``), not the Python
one: that one is a pickle, and loading a pickle can run code.
"""

from __future__ import annotations

import os
import tarfile

import numpy as np

from ..data import cifar as _cifar
from ..data import mnist as _mnist
from ..data.datasets import Dataset
from ..data.idx import read_idx
from ..tensor import from_numpy
from ..validate import ConvlabError
from .download import download_any, md5_of, mirrors


class VisionDataset(Dataset):
    """Base class: ``root``, ``transform``, ``target_transform``; items go through both."""

    def __init__(self, root=None, transform=None, target_transform=None):
        self.root = os.path.expanduser(os.fspath(root)) if root is not None else None
        self.transform, self.target_transform = transform, target_transform

    def _item(self, image, target):
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def __repr__(self) -> str:
        lines = [f"Dataset {type(self).__name__}", f"    Number of datapoints: {len(self)}"]
        if self.root is not None:
            lines.append(f"    Root location: {self.root}")
        if self.transform is not None:
            lines.append(f"    Transform: {self.transform!r}")
        return "\n".join(lines)


def _not_found(name: str, searched) -> RuntimeError:
    return RuntimeError(f"Dataset not found. You can use download=True to download it "
                        f"({name}: looked in {', '.join(searched)})")


class MNIST(VisionDataset):
    """LeCun's handwritten digits, 28x28 grayscale, 60,000 train / 10,000 test images.

    Items are ``(PIL image mode 'L', int label)`` before the transforms; ``.data`` (uint8,
    ``(N, 28, 28)``) and ``.targets`` (int64) hold the whole split as tensors.
    """

    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"]
    resources = [
        ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
        ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
        ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
    ]
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six", "7 - seven",
               "8 - eight", "9 - nine"]
    system_name = "mnist"  # the directory name under $CONVLAB_DATA and /usr/share/datasets

    def __init__(self, root=None, train: bool = True, transform=None, target_transform=None, download: bool = False,
                 mirrors=None, progress: bool = True):
        super().__init__(root, transform, target_transform)
        self.train = bool(train)
        directory = self._find()
        if directory is None:
            if not download:
                raise _not_found(type(self).__name__, self._search_paths())
            if self.root is None:
                raise ConvlabError(f"{type(self).__name__}: download=True needs root= (where to put the files)")
            directory = self._download(mirrors, progress)
        images_name, labels_name = _mnist.FILES[self.train]
        images = read_idx(_mnist._find_file(directory, images_name))
        labels = read_idx(_mnist._find_file(directory, labels_name))
        if images.ndim != 3 or images.dtype != np.uint8 or labels.shape != (len(images),):
            raise ConvlabError(f"{directory}: expected uint8 images (N, H, W) and N labels, "
                             f"got {images.dtype} {images.shape} and {labels.shape}")
        self.data, self.targets = from_numpy(images), from_numpy(labels.astype(np.int64))
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}

    @property
    def raw_folder(self) -> str:
        return os.path.join(self.root, type(self).__name__, "raw")

    def _search_paths(self) -> list[str]:
        paths = [self.raw_folder, self.root, os.path.join(self.root, self.system_name)] if self.root else []
        if os.environ.get("CONVLAB_DATA"):
            paths.append(os.path.join(os.environ["CONVLAB_DATA"], self.system_name))
        return paths + [os.path.join(_mnist.SYSTEM_DATA, self.system_name)]

    def _find(self) -> str | None:
        names = _mnist.FILES[self.train]
        for directory in self._search_paths():
            if all(_mnist._find_file(directory, n) for n in names):
                return directory
        return None

    def _download(self, override, progress) -> str:
        os.makedirs(self.raw_folder, exist_ok=True)
        for filename, md5 in self.resources:
            dest = os.path.join(self.raw_folder, filename)
            if not os.path.exists(dest):
                download_any(mirrors(self.mirrors, override), filename, dest, md5, progress)
        return self.raw_folder

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index):
        from PIL import Image

        i = self._check_index(index)
        return self._item(Image.fromarray(self.data._data[i], mode="L"), int(self.targets._data[i]))


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: 28x28 grayscale clothing, 10 classes (see :class:`MNIST`)."""

    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    resources = [
        ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
        ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
        ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
    ]
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    system_name = "fashion-mnist"


class KMNIST(MNIST):
    """Kuzushiji-MNIST: ten cursive hiragana, 28x28 grayscale (see :class:`MNIST`)."""

    mirrors = ["http://codh.rois.ac.jp/kmnist/dataset/kmnist/"]
    resources = [
        ("train-images-idx3-ubyte.gz", "bdb82020997e1d708af4cf47b453dcf7"),
        ("train-labels-idx1-ubyte.gz", "e144d726b3acfaa3e44228e80efcd344"),
        ("t10k-images-idx3-ubyte.gz", "5c965bf0a639b31b8f53240b1b52f4d7"),
        ("t10k-labels-idx1-ubyte.gz", "7320c461ea6c1c855c0b718fb2a4b134"),
    ]
    classes = ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"]
    system_name = "kmnist"


class CIFAR10(VisionDataset):
    """CIFAR-10: 32x32 colour images in 10 classes, 50,000 train / 10,000 test.

    Items are ``(PIL image mode 'RGB', int label)``; ``.data`` is uint8 ``(N, 32, 32, 3)`` (HWC, as
    torchvision's) and ``.targets`` a list of ints.
    """

    mirrors = ["https://www.cs.toronto.edu/~kriz/"]
    filename, md5 = "cifar-10-binary.tar.gz", "c32a1d4ab5d03f1284b67883e8d87530"
    base_folder = "cifar-10-batches-bin"
    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

    def __init__(self, root=None, train: bool = True, transform=None, target_transform=None, download: bool = False,
                 mirrors=None, progress: bool = True):
        super().__init__(root, transform, target_transform)
        self.train = bool(train)
        directory = _cifar.CIFAR10.find(self.root)
        if directory is None:
            if not download:
                raise _not_found("CIFAR10", _cifar.CIFAR10.search_paths(self.root))
            if self.root is None:
                raise ConvlabError("CIFAR10: download=True needs root= (where to put the files)")
            directory = self._download(mirrors, progress)
        files = [f"data_batch_{k}.bin" for k in range(1, 6)] if self.train else ["test_batch.bin"]
        parts = [_cifar.read_cifar_bin(os.path.join(directory, f)) for f in files]
        images = np.concatenate([p[0] for p in parts])  # (N, 3, 32, 32)
        self.data = np.ascontiguousarray(images.transpose(0, 2, 3, 1))
        self.targets = np.concatenate([p[1] for p in parts]).astype(np.int64).tolist()
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}

    def _download(self, override, progress) -> str:
        archive = os.path.join(self.root, self.filename)
        if not (os.path.exists(archive) and md5_of(archive) == self.md5):
            download_any(mirrors(self.mirrors, override), self.filename, archive, self.md5, progress)
        with tarfile.open(archive, "r:gz") as tar:
            members = [m for m in tar.getmembers() if m.isfile() and m.name.startswith(self.base_folder + "/")
                       and m.name.endswith(".bin") and ".." not in m.name]
            tar.extractall(self.root, members=members, filter="data")
        return os.path.join(self.root, self.base_folder)

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index):
        from PIL import Image

        i = self._check_index(index)
        return self._item(Image.fromarray(self.data[i], mode="RGB"), self.targets[i])


class ImageFolder(VisionDataset):
    """Images in ``root/<class>/<file>``: items ``(PIL image in RGB, class index)``, classes sorted."""

    EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")

    def __init__(self, root, transform=None, target_transform=None, loader=None, is_valid_file=None):
        super().__init__(root, transform, target_transform)
        self.classes = sorted(e.name for e in os.scandir(self.root) if e.is_dir())
        if not self.classes:
            raise FileNotFoundError(f"Couldn't find any class folder in {self.root}.")
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}
        valid = is_valid_file or (lambda p: p.lower().endswith(self.EXTENSIONS))
        self.samples = [(os.path.join(dirpath, f), self.class_to_idx[c]) for c in self.classes
                        for dirpath, _, files in sorted(os.walk(os.path.join(self.root, c))) for f in sorted(files)
                        if valid(os.path.join(dirpath, f))]
        if not self.samples:
            raise FileNotFoundError(f"Found no valid file for the classes {', '.join(self.classes)} in {self.root}")
        self.targets = [t for _, t in self.samples]
        self.imgs = self.samples
        self.loader = loader or _pil_rgb

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index):
        path, target = self.samples[self._check_index(index)]
        return self._item(self.loader(path), target)


def _pil_rgb(path):
    from PIL import Image

    with open(path, "rb") as f:
        return Image.open(f).convert("RGB")


class FakeData(VisionDataset):
    """Random pictures with random labels (torchvision's ``FakeData``): item ``i`` is always the
    same, drawn from a generator seeded with ``i + random_offset``; ``image_size`` is ``(C, H, W)``.
    Items are PIL images (of ``N(0, 1)`` noise, clipped to [0, 1] as ``ToPILImage`` does)."""

    num_classes = 10  # a plain attribute here, as torchvision's (the base class derives it from classes)

    def __init__(self, size: int = 1000, image_size=(3, 224, 224), num_classes: int = 10, transform=None,
                 target_transform=None, random_offset: int = 0):
        super().__init__(None, transform, target_transform)
        self.size, self.image_size, self.num_classes = int(size), tuple(image_size), int(num_classes)
        self.random_offset = int(random_offset)

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index):
        from .transforms import ToPILImage

        i = self._check_index(index)
        rng = np.random.default_rng(i + self.random_offset)
        image = from_numpy(rng.standard_normal(self.image_size).astype(np.float32))
        target = int(rng.integers(0, self.num_classes))
        return self._item(ToPILImage()(image), target)
