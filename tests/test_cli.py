import subprocess
import sys

import convlab
from convlab.cli import main


def test_version_and_help(capsys):
    try:
        main(["--version"])
    except SystemExit as exc:
        assert exc.code == 0
    assert capsys.readouterr().out.strip() == f"convlab {convlab.__version__}"
    assert main([]) == 0
    assert "convlab: convolutional neural networks" in capsys.readouterr().out


def test_console_script_runs_without_torch():
    code = "import sys; sys.modules['torch'] = None; import convlab; print(convlab.__version__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == convlab.__version__
