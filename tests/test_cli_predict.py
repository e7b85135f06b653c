"""`python -m effmnist predict`: classify image files from the command line."""

import subprocess
import sys

import pytest
from PIL import Image

from effmnist.cli import main
from effmnist.digits.synthetic import draw_digit, render_mnist


def run_cli(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "effmnist", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
    )


def test_cli_predict_end_to_end(reference, mnist, tmp_path):
    _, checkpoint = reference
    draw_digit(7, ink=(20, 20, 120), background=(255, 255, 240)).save(tmp_path / "seven.png")
    render_mnist(mnist.test_images[1], dark_on_light=True).save(tmp_path / "two.jpg", quality=90)
    proc = run_cli(
        "predict",
        "seven.png",
        "two.jpg",
        "--checkpoint",
        checkpoint,
        "--show",
        "out/fig.png",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("seven.png: 7 (") and lines[1].startswith("two.jpg: 2 (")
    assert lines[0].count("%)") == 3  # the top 3
    with Image.open(tmp_path / "out" / "fig.png") as fig:
        assert fig.format == "PNG"


def test_cli_predict_bad_input_exits_1_and_still_reports_the_good_images(reference, tmp_path):
    _, checkpoint = reference
    draw_digit(4).save(tmp_path / "four.png")
    (tmp_path / "notes.txt").write_text("hello")
    Image.new("RGB", (50, 50), "white").save(tmp_path / "blank.png")
    proc = run_cli(
        "predict",
        "notes.txt",
        "four.png",
        "blank.png",
        "missing.png",
        "--checkpoint",
        checkpoint,
        cwd=tmp_path,
    )
    assert proc.returncode == 1
    assert proc.stdout.startswith("four.png: 4 (")
    assert proc.stderr.splitlines() == [
        "error: notes.txt: not an image (PIL cannot read it)",
        "error: blank.png: the image is blank (contrast 0 of 255 grey levels): "
        "no digit to classify",
        "error: missing.png: no such file",
    ]


def test_cli_predict_missing_checkpoint_says_how_to_make_one(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EFFMNIST_DATA", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    draw_digit(1).save("one.png")
    assert main(["predict", "one.png"]) == 1
    default = tmp_path / "home" / "checkpoints" / "reference_seed0.pt"
    assert capsys.readouterr().err.splitlines() == [
        f"error: no checkpoint at {default}; train one with `python -m effmnist train --save`"
    ]
    assert main(["predict", "one.png", "--checkpoint", "my model.pt"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: no checkpoint at my model.pt")
    assert "`python -m effmnist train --save 'my model.pt'`" in err
    (tmp_path / "bad.pt").write_text("not a checkpoint")
    assert main(["predict", "one.png", "--checkpoint", "bad.pt"]) == 1
    assert "not a readable PyTorch checkpoint" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["predict"], ["predict", "x.png", "--top", "0"]])
def test_cli_predict_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert "usage:" in capsys.readouterr().err
