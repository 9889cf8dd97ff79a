"""``python -m convlab.as_torch prog.py``: an unedited PyTorch program runs on convlab, also in the
processes it spawns (mnist_hogwild's pattern), and never reaches a real torch."""

import subprocess
import sys
import textwrap

from helpers import child_env

PROGRAM = textwrap.dedent("""
    import sys
    import torch
    import torch.multiprocessing as mp
    import torch.nn as nn
    from torch.utils.data import DataLoader, TensorDataset
    from torchvision import transforms


    def work(model, q):
        with torch.no_grad():
            model.weight.add_(1.0)
        q.put(type(torch.zeros(1)).__module__)


    if __name__ == "__main__":
        model = nn.Linear(2, 1, bias=False)
        nn.init.zeros_(model.weight)
        model.share_memory()
        ctx = mp.get_context("spawn")
        q = ctx.Queue()
        p = ctx.Process(target=work, args=(model, q))
        p.start()
        child_tensor_module = q.get(timeout=60)
        p.join()
        batches = len(list(DataLoader(TensorDataset(torch.ones(5, 2)), batch_size=2)))
        print(torch.__name__, transforms.__name__, child_tensor_module, model.weight.tolist(), batches, sys.argv[1:],
              "real torch imported:", any(m == "torch" or m.startswith("torch.") for m in sys.modules
                                          if not sys.modules[m].__name__.startswith("convlab")))
""")


def test_an_unedited_program_runs_on_convlab_and_so_do_its_spawned_children(tmp_path):
    prog = tmp_path / "prog.py"
    prog.write_text(PROGRAM)
    out = subprocess.run([sys.executable, "-m", "convlab.as_torch", str(prog), "--epochs", "1"], capture_output=True,
                         text=True, timeout=120, env=child_env(), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["convlab", "convlab.vision.transforms", "convlab.tensor_class", "[[1.0,", "1.0]]",
                                  "3", "['--epochs',", "'1']", "real", "torch", "imported:", "False"]


def test_a_name_convlab_lacks_fails_as_the_edited_import_would(tmp_path):
    prog = tmp_path / "prog.py"
    prog.write_text("import torch._no_such_module\n")
    out = subprocess.run([sys.executable, "-m", "convlab.as_torch", str(prog)], capture_output=True, text=True,
                         timeout=60, env=child_env(), cwd=tmp_path)
    assert out.returncode == 1 and "No module named 'convlab._no_such_module'" in out.stderr
