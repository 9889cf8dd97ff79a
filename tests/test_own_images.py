"""Your own pictures, end to end: folders built from Fashion-MNIST items and from the photographs
skimage and matplotlib ship, in PNG/JPEG/BMP/GIF/TIFF/WebP and modes 1/L/P/RGB/RGBA/CMYK/16-bit,
mixed sizes and an EXIF rotation, through train, evaluate and predict."""

import csv
import json
import os

import numpy as np
import pytest

import convlab
from convlab.cli import main
from pictures import fashion_folder, photo_folder

QUICK = ["--epochs", "1", "--batch-size", "16", "--model", "lenet5", "-q"]


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="module")
def fashion(tmp_path_factory):
    root = tmp_path_factory.mktemp("pics") / "clothes"
    records = fashion_folder(root, per_class=12)
    return root, records


@pytest.fixture(scope="module")
def run(fashion, tmp_path_factory):
    root, _ = fashion
    out = tmp_path_factory.mktemp("run") / "r"
    assert main(["train", "--dataset", str(root), *QUICK, "--out", str(out)]) == 0
    return out


def test_split_folders_are_splits_not_classes(run, fashion):
    root, records = fashion
    ckpt = convlab.load(run / "last.safetensors")
    meta = ckpt["meta"]
    assert meta["classes"] == ["Bag", "Sneaker", "Trouser"]
    pre = meta["preprocessing"]
    # the majority of the training files are colour (RGB, CMYK, P, RGBA...), most are 28x28
    train = [r for r in records if r["split"] == "train"]
    colour = sum(r["mode"] not in ("L", "1", "I;16") for r in train)
    assert colour > len(train) / 2 and pre["channels"] == 3 and pre["size"] == [28, 28] and pre["mean"] is not None
    test = json.loads((run / "test.json").read_text())
    assert test["n"] == sum(r["split"] == "test" for r in records)


def test_train_says_what_it_inferred(fashion, in_tmp, capsys):
    root, _ = fashion
    assert main(["train", "--dataset", f"folder:{root}", "--epochs", "1", "--grayscale",
                 "--image-size", "32", "--limit-train", "20"]) == 0
    out = capsys.readouterr().out
    assert "inferred 3 channels" not in out and "1x32x32 grayscale" in out
    assert "Trouser" in out and "validation" in out  # the class table
    assert "1 epoch," in out and "1 epochs" not in out


def test_evaluate_and_predict_on_the_folder(run, fashion, in_tmp, capsys):
    root, records = fashion
    assert main(["evaluate", str(run), "--out", "ev"]) == 0
    m = json.loads((in_tmp / "ev" / "metrics.json").read_text())
    n_test = sum(r["split"] == "test" for r in records)
    assert m["n"] == n_test and len(m["precision"]) == 3 and sum(m["support"]) == n_test
    assert (in_tmp / "ev" / "mistakes.png").exists()
    capsys.readouterr()
    rc = main(["predict", str(run), str(root / "test" / "Bag"), str(root / "test" / "Trouser" / "*.png"), "missing.jpg",
               "--output", "p.csv"])
    assert rc == 1  # one failure, the others answered
    rows = list(csv.DictReader(open(in_tmp / "p.csv", encoding="utf-8")))
    bags = sorted(os.listdir(root / "test" / "Bag"))
    pngs = sorted(f for f in os.listdir(root / "test" / "Trouser") if f.endswith(".png"))
    assert [os.path.basename(r["path"]) for r in rows] == bags + pngs + ["missing.jpg"]
    assert rows[-1]["error"] and all(r["class"] in ("Bag", "Sneaker", "Trouser") for r in rows[:-1])
    # the same model on the same pixels: predict's probabilities agree with a direct forward pass
    from convlab.data.folder import open_image
    from convlab.data.preprocess import Preprocessing
    from convlab.train import load_checkpoint, model_from_checkpoint

    ck = load_checkpoint(run)
    spec = Preprocessing.from_dict(ck["meta"]["preprocessing"])
    model = model_from_checkpoint(ck)
    with convlab.no_grad():
        logits = model(convlab.tensor(spec.apply(open_image(rows[0]["path"]))[None])).numpy()[0]
    p = np.exp(logits - logits.max())
    p /= p.sum()
    assert abs(float(rows[0]["probability"]) - p.max()) < 1e-6


def test_bad_files_stop_or_are_skipped(tmp_path, in_tmp, capsys):
    root = tmp_path / "flat"
    fashion_folder(root, per_class=6, layout="flat")
    (root / "Bag" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    assert main(["train", "--dataset", str(root), *QUICK]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "broken.png" in err[0] and "--skip-bad-files" in err[0]
    assert main(["train", "--dataset", str(root), "--epochs", "1", "--model", "lenet5", "--skip-bad-files"]) == 0
    out = capsys.readouterr().out
    assert "skipped" in out and "broken.png" in out and "1 unreadable file skipped" in out


def test_empty_class_is_an_error(tmp_path, in_tmp, capsys):
    root = tmp_path / "flat"
    fashion_folder(root, per_class=3, layout="flat")
    (root / "Nothing").mkdir()
    assert main(["train", "--dataset", str(root), *QUICK]) == 1
    assert "empty class folder Nothing" in capsys.readouterr().err


def test_unicode_and_undecodable_class_names(tmp_path, in_tmp, capsys):
    pytest.importorskip("skimage")
    root = tmp_path / "photos"
    photo_folder(root, per_class=6)
    os.rename(root / "cat", root / "chat noir 猫")
    os.rename(root / "coffee", os.path.join(os.fsencode(root), b"caf\xe9"))  # Latin-1 bytes, not UTF-8
    assert main(["train", "--dataset", str(root), "--epochs", "1", "--image-size", "24,32", "--out", "u"]) == 0
    out = capsys.readouterr().out
    assert "inferred resize: pad" in out  # photos of different aspect ratios
    classes = convlab.load(in_tmp / "u" / "last.safetensors")["meta"]["classes"]
    assert classes == sorted(["chat noir 猫", "caf\ufffd", "rocket"])
    assert (in_tmp / "u" / "confusion.png").stat().st_size > 1000


def test_python_trainer_and_save_record_the_preprocessing(tmp_path, in_tmp, capsys):
    from convlab.data import DataLoader, ImageFolder
    from convlab.data.preprocess import Preprocessing
    from convlab.train import Trainer

    root = tmp_path / "flat"
    fashion_folder(root, per_class=4, layout="flat")
    spec = Preprocessing(channels=1, size=28, mean=(0.3,), std=(0.35,))
    ds = ImageFolder(root, preprocessing=spec, transform=spec.transform())
    model = convlab.models.get("lenet5", num_classes=3)
    trainer = Trainer(model, convlab.optim.SGD(model.parameters(), lr=0.01), out_dir=str(tmp_path / "t"), print_fn=None)
    trainer.fit(DataLoader(ds, 4), epochs=1)
    picture = str(root / "Bag" / "000.png")
    assert main(["predict", str(tmp_path / "t"), picture, "-q"]) == 0
    assert capsys.readouterr().out.split("\t")[1].strip() in ("Bag", "Sneaker", "Trouser")
    convlab.save(model, tmp_path / "m.safetensors", preprocessing=spec, classes=ds.classes)
    assert main(["predict", str(tmp_path / "m.safetensors"), picture, "-q"]) == 0
    convlab.save(model, tmp_path / "bare.safetensors")
    assert main(["predict", str(tmp_path / "bare.safetensors"), picture]) == 2
    assert "--image-size" in capsys.readouterr().err
    assert main(["predict", str(tmp_path / "bare.safetensors"), picture, "--image-size", "28", "--channels", "1"]) == 0


def test_predict_suggests_invert_for_a_light_background(run, fashion, tmp_path, capsys):
    """A dark-on-white picture (an inverted Fashion-MNIST item, 300x200 JPEG) to a model trained on
    light-on-dark items: the answer notes the light background and suggests --invert; with
    --invert the note is gone and the conversion says 'inverted'."""
    from PIL import Image

    from pictures import fashion_items

    item = fashion_items(1, labels=(7,), split="test")[7][0]
    canvas = Image.new("L", (300, 200), 255)
    canvas.paste(Image.fromarray(255 - item).resize((200, 200)), (50, 0))
    canvas.convert("RGB").save(tmp_path / "shoe.jpg", quality=90)
    assert main(["predict", str(run), str(tmp_path / "shoe.jpg")]) == 0
    out = capsys.readouterr().out
    assert "300x200 -> 28x28" in out and "background is light" in out and "try --invert" in out
    assert main(["predict", str(run), str(tmp_path / "shoe.jpg"), "--invert"]) == 0
    out = capsys.readouterr().out
    assert "converted: inverted" in out and "background is light" not in out


def test_val_split_with_a_val_folder_is_refused(fashion, in_tmp, capsys):
    root, _ = fashion
    assert main(["train", "--dataset", str(root), *QUICK, "--val-split", "0.2"]) == 1
    assert "leave --val-split out" in capsys.readouterr().err


def test_a_named_dataset_resized_and_made_rgb_evaluates_the_same_way(in_tmp, capsys):
    """The issue's 'input has 1 channels but weight expects 3': a model trained on lines made 3x12x12
    is evaluated on lines through the checkpoint's preprocessing, with the training run's test accuracy."""
    assert main(["train", "--dataset", "lines", "--epochs", "1", "--channels", "3", "--image-size", "12",
                 "--limit-test", "100", "--out", "r", "-q"]) == 0
    assert convlab.load(in_tmp / "r" / "last.safetensors")["meta"]["preprocessing"]["input_shape"] == [3, 12, 12]
    assert main(["evaluate", "r", "--limit", "100", "--out", "e", "-q"]) == 0
    ours = json.loads((in_tmp / "e" / "metrics.json").read_text())
    train = json.loads((in_tmp / "r" / "test.json").read_text())
    assert ours["n"] == train["n"] == 100 and abs(ours["accuracy"] - train["accuracy"]) < 1e-12
    assert abs(ours["loss"] - train["loss"]) < 1e-5


def test_a_folder_too_big_for_memory_is_refused_before_decoding(tmp_path, in_tmp, capsys, monkeypatch):
    from convlab.train import run_data

    fashion_folder(tmp_path / "f", per_class=3, layout="flat")
    monkeypatch.setattr(run_data, "MAX_BYTES", 9 * 28 * 28 * 3 - 1)  # one byte short of the 9 pictures
    assert main(["train", "--dataset", str(tmp_path / "f"), *QUICK]) == 1
    assert "9 pictures of 3x28x28 take" in capsys.readouterr().err
