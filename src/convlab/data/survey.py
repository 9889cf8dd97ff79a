"""What a folder of pictures holds (every file's header, not one file), and the preprocessing
that follows from it: the majority's channels, the common size, and a resize policy.

>>> s = Survey(n=3, gray=1, colour=2, sizes={(40, 30): 2, (80, 60): 1})
>>> found = infer(s)
>>> found.channels, found.size, found.resize
(3, (40, 30), 'stretch')
"""

from __future__ import annotations

import dataclasses
from collections import Counter

from ..validate import ConvlabError
from .preprocess import GRAY_MODES

MAX_SIDE = 64  # an inferred size is scaled down to at most this many pixels a side (CPU training)


@dataclasses.dataclass
class Survey:
    """Counts over a set of picture files: ``gray``/``colour`` modes, ``sizes`` {(h, w): count},
    ``formats`` {name: count}, and ``bad``: ``[(path, reason)]`` for files that cannot be opened."""

    n: int = 0
    gray: int = 0
    colour: int = 0
    sizes: dict = dataclasses.field(default_factory=dict)
    formats: dict = dataclasses.field(default_factory=dict)
    bad: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Inferred:
    channels: int
    size: tuple
    resize: str
    words: list  # one phrase per choice, saying what was seen and which flag changes it


def survey(paths) -> Survey:
    """Open every file's header (no decoding of the pixels) and count modes, sizes and formats."""
    from PIL import Image

    s = Survey()
    sizes, formats = Counter(), Counter()
    for path in paths:
        try:
            with Image.open(path) as im:
                mode, size, fmt = im.mode, (im.height, im.width), im.format
                orientation = im.getexif().get(0x0112, 1) if hasattr(im, "getexif") else 1
        except Exception as exc:  # noqa: BLE001 - any failure to open makes the file unreadable
            s.bad.append((path, f"{type(exc).__name__}: {exc}"))
            continue
        if orientation in (5, 6, 7, 8):  # EXIF rotations by 90 degrees swap the displayed height and width
            size = size[::-1]
        s.n += 1
        if mode in GRAY_MODES:
            s.gray += 1
        else:
            s.colour += 1
        sizes[size] += 1
        formats[fmt or "?"] += 1
    s.sizes, s.formats = dict(sizes), dict(formats)
    return s


def _fmt_size(hw) -> str:
    """A picture's size as width x height, the way image tools print it ("300x200")."""
    return f"{hw[1]}x{hw[0]}"


def infer(s: Survey, channels: int | None = None, size=None, resize: str | None = None,
          max_side: int = MAX_SIDE) -> Inferred:
    """The channels, size (height, width) and resize policy for the surveyed pictures; a value
    given (from a flag) is kept, the others are inferred:

    * channels: 1 when most pictures are grayscale, else 3 (a tie keeps the colour);
    * size: the size every picture has, else the size of at least half of them, else the median
      height and width; scaled down (aspect kept) to at most ``max_side`` pixels a side;
    * resize: ``stretch`` when every picture has the chosen aspect ratio (within 2%), else ``pad``
      (fit inside, no distortion).
    """
    if s.n == 0:
        raise ConvlabError("no readable pictures to infer the preprocessing from")
    words = []
    if channels is None:
        channels = 1 if s.gray > s.colour else 3
        if s.gray and s.colour:
            words.append(f"{channels} channel{'s' if channels > 1 else ''} ({'grayscale' if channels == 1 else 'RGB'}: "
                         f"{s.colour:,} colour and {s.gray:,} grayscale pictures; --channels to choose)")
        else:
            words.append(f"{channels} channel{'s' if channels > 1 else ''} (all pictures are "
                         f"{'grayscale' if channels == 1 else 'colour'})")
    if size is None:
        common, count = max(s.sizes.items(), key=lambda kv: (kv[1], kv[0]))
        if len(s.sizes) == 1:
            size, why = common, "every picture's size"
        elif 2 * count >= s.n:
            size, why = common, f"the size of {count:,} of {s.n:,} pictures"
        else:
            hs = sorted(h for (h, _), k in s.sizes.items() for _ in range(k))
            ws = sorted(w for (_, w), k in s.sizes.items() for _ in range(k))
            size, why = (hs[len(hs) // 2], ws[len(ws) // 2]), f"the median of {len(s.sizes):,} different sizes"
        if max(size) > max_side:
            scale = max_side / max(size)
            small = (max(1, round(size[0] * scale)), max(1, round(size[1] * scale)))
            why += f", {_fmt_size(size)}, scaled down to at most {max_side} px a side"
            size = small
        words.append(f"size {_fmt_size(size)} ({why}; --image-size H,W to choose: this is {size[0]},{size[1]})")
    if resize is None:
        h, w = size
        same = all(abs((pw / ph) / (w / h) - 1) <= 0.02 for (ph, pw) in s.sizes)
        resize = "stretch" if same else "pad"
        if len(s.sizes) > 1:
            words.append(f"resize: {resize} (" + ("all pictures have this aspect ratio" if same else
                         "aspect ratios differ: each picture is scaled to fit and padded with black")
                         + "; --resize stretch|pad|crop to choose)")
    return Inferred(channels=int(channels), size=tuple(int(v) for v in size), resize=resize, words=words)
