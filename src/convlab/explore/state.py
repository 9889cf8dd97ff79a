"""The explorer's state between requests: the source, its preprocessing, the test split, and the
forward passes of the last few images (so a clicked cell is answered from the pass that drew it).

Images are named by keys the server makes: ``test-<index>`` and ``upload-<sha256 prefix>``.
Uploaded images live in memory only, in a small LRU cache; nothing is written anywhere.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict

from ..validate import ConvlabError
from . import views
from .preprocess import Preprocessing

KEY = re.compile(r"^(test-\d{1,9}|upload-[0-9a-f]{16})$")
CACHE = 8  # forward passes kept


class Explorer:
    """Everything the server's views need; thread-safe (one forward pass at a time)."""

    def __init__(self, source):
        self.source = source
        self._lock = threading.RLock()
        self._passes: OrderedDict = OrderedDict()  # key -> (source version, calls, logits, display)
        self._uploads: OrderedDict = OrderedDict()  # key -> (input, display, note)
        self._test = None
        self._test_error = None
        self._picture = None

    def picture(self):
        """The sandbox's picture (read once)."""
        from .sandbox import picture

        with self._lock:
            if self._picture is None:
                self._picture = picture()
            return self._picture

    # ------------------------------------------------------------------ facts
    def preprocessing(self) -> Preprocessing:
        return Preprocessing(self.source.meta)

    def classes(self) -> list:
        return list(self.source.meta.get("classes") or [])

    def info(self) -> dict:
        test, why = self.test_split()
        return {"title": self.source.title(), "live": self.source.live, "has_model": self.source.has_model,
                "classes": self.classes(), "test_items": len(test) if test is not None else 0, "test_error": why,
                "step": self.source.step()}

    def test_split(self):
        """The dataset's test split (raw items, no transform) or ``(None, reason)``; loaded once."""
        with self._lock:
            if self._test is None and self._test_error is None:
                cfg = self.source.config()
                if not cfg.get("dataset"):
                    self._test_error = "the checkpoint does not name its dataset"
                else:
                    try:  # the datasets of the run, through the code path of convlab train
                        from ..train.run_data import load_datasets

                        _, _, self._test, _, _ = load_datasets({"seed": 0, **cfg}, lambda *a: None)
                    except Exception as exc:  # a missing dataset leaves upload as the way in
                        self._test_error = f"the test split of {cfg['dataset']} is not available ({exc})"
            return self._test, self._test_error

    # ------------------------------------------------------------------ views
    def model_view(self) -> dict:
        pre = self.preprocessing()
        return views.model_view(self.source.model(), pre.input_shape, self.source.title(), self.classes(), pre.describe())

    def kernels_view(self) -> dict:
        return views.kernels_view(self.source.model())

    def test_image(self, index: int) -> dict:
        test, why = self.test_split()
        if test is None:
            raise LookupError(why)
        if not 0 <= index < len(test):
            raise IndexError(f"test item {index} is outside 0..{len(test) - 1}")
        label = test[index][1]
        out = self._run(f"test-{index}")
        classes = self.classes()
        out["label"] = classes[int(label)] if int(label) < len(classes) else str(int(label))
        return out

    def upload(self, data: bytes, content_type: str | None) -> dict:
        x, display, note = self.preprocessing().from_upload(data, content_type)
        key = "upload-" + hashlib.sha256(data).hexdigest()[:16]
        with self._lock:
            self._uploads[key] = (x, display, note)
            self._uploads.move_to_end(key)
            while len(self._uploads) > CACHE:
                self._uploads.popitem(last=False)
        out = self._run(key)
        out["note"] = note
        return out

    def _pass(self, key: str):
        """The cached forward pass of ``key`` for the current model, recomputed when needed."""
        with self._lock:
            version = self.source.version
            hit = self._passes.get(key)
            if hit is not None and hit[0] == version:
                self._passes.move_to_end(key)
                return hit
            if key.startswith("test-"):
                test, why = self.test_split()
                if test is None:
                    raise LookupError(why)
                index = int(key[5:])
                if not 0 <= index < len(test):
                    raise IndexError(f"test item {index} is outside 0..{len(test) - 1}")
                x, display = self.preprocessing().from_dataset_item(test[index][0])
            elif key in self._uploads:
                x, display, _ = self._uploads[key]
            else:
                raise LookupError(f"image {key} is no longer held by the server; upload it again")
            calls, logits = views.forward(self.source.model(), x)
            hit = (version, calls, logits, display)
            self._passes[key] = hit
            while len(self._passes) > CACHE:
                self._passes.popitem(last=False)
            return hit

    def _run(self, key: str) -> dict:
        """A fresh forward pass of ``key`` (test item or held upload) as the image view."""
        with self._lock:
            self._passes.pop(key, None)
            _, calls, logits, display = self._pass(key)
            out = views.image_view(calls, logits, display, self.classes())
        out["key"] = key
        return out

    def cell(self, key: str, layer: int, c: int, i: int, j: int) -> dict:
        if not KEY.match(key):
            raise ConvlabError(f"image must be a key given by the server (test-N or upload-HEX), got {key[:40]!r}")
        with self._lock:
            _, calls, _, display = self._pass(key)
            if not 0 <= layer < len(calls):
                raise IndexError(f"layer {layer} is outside 0..{len(calls) - 1}")
            call = calls[layer]
            if call.output is None or call.output.ndim != 3:
                raise ConvlabError(f"layer '{call.name}' has no feature map (output shape {getattr(call.output, 'shape', None)})")
            return views.cell_view(call, c, i, j, display.shape[1:])

    def run_view(self) -> dict:
        name, w = self.source.first_kernels() if self.source.has_model else (None, None)
        return {"title": self.source.title(), "live": self.source.live, "records": self.source.records(),
                "config": self.source.config(), "step": self.source.step(), "version": self.source.version,
                "kernels": views.kernels_payload(name, w), "kernels_start": self._start()}

    def _start(self):
        if self.source.start is None:
            return None
        step, name, w = self.source.start
        return {**views.kernels_payload(name, w), "step": step} if w is not None else None
