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


def test_top5_is_shown_only_when_it_can_miss():
    """With five classes or fewer the top five always hold the answer: no "top-5 100.00%"."""
    from convlab.cli import top5_text

    result = {"top5": 0.981}
    assert top5_text(result, 3) == ""
    assert top5_text(result, 5) == ""
    assert top5_text(result, 10) == ", top-5 98.10%"
    assert top5_text(result, 10, "   ") == "   top-5 98.10%"
    assert top5_text({"top5": None}, 10) == ""


def test_a_missing_file_is_named_in_plain_words():
    """No "[Errno 2] ... 'x.png'" on the error line: the file first, then what is wrong."""
    from convlab.cli import describe

    assert describe(FileNotFoundError(2, "No such file or directory", "shoe.png")) == "shoe.png: no such file or directory"
    assert describe(FileNotFoundError("plain message")) == "plain message"
