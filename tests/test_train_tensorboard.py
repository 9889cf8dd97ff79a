"""``convlab train --tensorboard``: the event files hold what the run logged, read back with
TensorBoard's own event reader."""

import io
import json

import numpy as np
import pytest

import convlab
from convlab.cli import main
from helpers import require


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    require("tensorboardX")
    event_accumulator = require("tensorboard.backend.event_processing.event_accumulator")
    out = tmp_path_factory.mktemp("tb") / "run"
    # 16 steps an epoch, so step 20 carries a step record (log_every is 20)
    argv = ["train", "--dataset", "lines", "--epochs", "2", "--batch-size", "16", "--limit-train", "256",
            "--limit-test", "64", "--out", str(out), "--tensorboard", "-q"]
    assert main(argv) == 0
    acc = event_accumulator.EventAccumulator(str(out / "tensorboard"),
                                             size_guidance={"scalars": 0, "images": 0, "histograms": 0})
    acc.Reload()
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return out, acc, records


def test_scalars_equal_the_logged_records(run):
    _, acc, records = run
    epochs = [r for r in records if r["kind"] == "epoch"]
    steps = [r for r in records if r["kind"] == "step"]
    assert len(epochs) == 2 and [r["step"] for r in steps] == [20]
    pairs = {"loss/train": "train_loss", "loss/val": "val_loss", "accuracy/train": "train_accuracy",
             "accuracy/val": "val_accuracy", "accuracy/val_top5": "val_top5", "lr": "lr"}
    for tag, key in pairs.items():
        events = acc.Scalars(tag)
        assert [e.step for e in events] == [r["step"] for r in epochs], tag
        # event files store float32: the logged float64 rounded to float32, exactly
        assert [e.value for e in events] == [float(np.float32(r[key])) for r in epochs], tag
    for tag, key in (("loss/train_step", "loss"), ("lr/step", "lr")):
        assert [(e.step, e.value) for e in acc.Scalars(tag)] == [(r["step"], float(np.float32(r[key]))) for r in steps]


def test_histograms_describe_the_saved_weights(run):
    out, acc, _ = run
    state = convlab.load(out / "last.safetensors")["model"]
    names = [t.removeprefix("weights/") for t in acc.Tags()["histograms"]]
    assert names == [n for n, _ in convlab.models.get("compactcnn", in_channels=1, num_classes=2).named_parameters()]
    for name in ("conv1.weight", "fc2.bias"):
        last = acc.Histograms(f"weights/{name}")[-1]
        w = state[name].numpy().astype(np.float64)
        h = last.histogram_value
        assert last.step == 32 and h.num == w.size
        assert h.min == pytest.approx(w.min(), abs=1e-7) and h.max == pytest.approx(w.max(), abs=1e-7)
        assert h.sum == pytest.approx(w.sum(), rel=1e-6, abs=1e-6)
        assert h.sum_squares == pytest.approx((w ** 2).sum(), rel=1e-6)


def test_kernel_image_shows_the_first_convolution(run):
    from PIL import Image

    out, acc, _ = run
    (tag,) = acc.Tags()["images"]
    assert tag == "kernels/conv1"
    event = acc.Images(tag)[-1]
    img = np.asarray(Image.open(io.BytesIO(event.encoded_image_string)).convert("L"), dtype=np.float64) / 255
    w = convlab.load(out / "last.safetensors")["model"]["conv1.weight"].numpy()  # (32, 1, 3, 3)
    # 32 gray 3x3 tiles in a 6x6 grid with 1-pixel gaps: 25x25 pixels, enlarged 6x to reach 128
    assert (event.width, event.height) == (150, 150) and img.shape == (150, 150)
    scale = 6
    for i in (0, 7, 31):
        r, q = divmod(i, 6)
        y, x = (1 + 4 * r) * scale, (1 + 4 * q) * scale
        tile = img[y:y + 3 * scale:scale, x:x + 3 * scale:scale]
        k = w[i, 0]
        expect = (k - k.min()) / (k.max() - k.min())
        np.testing.assert_allclose(tile, expect, atol=1 / 255 + 1e-9)  # 8-bit PNG
    assert img[:scale].max() == 0  # the gap above the first row


def test_a_resumed_run_replaces_the_events_after_its_checkpoint(tmp_path):
    """Resuming from the epoch-1 checkpoint of a finished run redoes epochs 2-3: TensorBoard shows
    each step once (the purge marker hides the first run's later events)."""
    import shutil

    from convlab import nn, optim
    from convlab.data import DataLoader, LinesDataset
    from convlab.train import Trainer

    event_accumulator = require("tensorboard.backend.event_processing.event_accumulator")
    out, logdir = tmp_path / "run", tmp_path / "run" / "tensorboard"

    def trainer(seed=0):
        convlab.manual_seed(seed)
        model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, 2))
        opt = optim.SGD(model.parameters(), lr=0.05)
        return Trainer(model, opt, out_dir=str(out), print_fn=None, log_every=2, tensorboard=str(logdir))

    train = DataLoader(LinesDataset(n=80, seed=1), batch_size=16, shuffle=True, seed=5)  # 5 steps an epoch
    first = trainer()
    first.on_epoch_end = lambda t, r: r["epoch"] == 1 and shutil.copy(out / "last.safetensors", tmp_path / "epoch1.safetensors")
    first.fit(train, epochs=3)
    trainer(seed=9).fit(train, epochs=3, resume=tmp_path / "epoch1.safetensors")
    acc = event_accumulator.EventAccumulator(str(logdir), size_guidance={"scalars": 0})
    acc.Reload()
    assert [e.step for e in acc.Scalars("loss/train")] == [5, 10, 15]
    assert [e.step for e in acc.Scalars("loss/train_step")] == [2, 4, 6, 8, 10, 12, 14]
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [e.value for e in acc.Scalars("loss/train")] == [float(np.float32(r["train_loss"])) for r in records
                                                             if r["kind"] == "epoch"]
