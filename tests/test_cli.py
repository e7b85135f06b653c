import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from effmnist import __version__

from effmnist import cli
from effmnist.cli import main
from effmnist.recipe import Recipe, get_recipe


@pytest.mark.slow
def test_train_end_to_end_meets_the_target_and_writes_metrics(tmp_path, mnist_root, fresh_training):
    """The real command, really training (not the suite's run cache): its times add up."""
    metrics_path, ckpt = tmp_path / "m.json", tmp_path / "model.pt"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "effmnist",
            "train",
            "--seed",
            "0",
            "--no-progress",
            "--data-dir",
            str(mnist_root),
            "--metrics-json",
            str(metrics_path),
            "--save",
            str(ckpt),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Total parameters: 24,048" in proc.stdout and "TARGET ACHIEVED" in proc.stdout
    metrics = json.loads(metrics_path.read_text())
    assert set(metrics) == {
        "params",
        "val_accuracy",
        "test_accuracy",
        "train_seconds",
        "eval_seconds",
        "seed",
        "recipe",
        "data_seconds",
        "command_seconds",
    }
    parts = metrics["data_seconds"] + metrics["train_seconds"] + metrics["eval_seconds"]
    assert 0 < parts <= metrics["command_seconds"]
    assert metrics["params"] == 24_048 and metrics["seed"] == 0
    assert Recipe.from_dict(metrics["recipe"]) == get_recipe("reference")  # the full recipe
    # a Windows console (cp1252) can print everything the command prints when redirected
    proc.stdout.encode("cp1252")
    assert 0.95 < metrics["test_accuracy"] <= 1 and 0.95 < metrics["val_accuracy"] <= 1
    assert ckpt.exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--epochs", "0"],
        ["train", "--device", "tpu"],
        ["train", "--recipe", "magic"],
        ["train", "--seed", "abc"],
        ["predict", "x.png", "--top", "11"],
        ["predict", "x.png", "--top", "0"],
        ["fly"],
        [],
    ],
)
def test_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_the_command_exits_quickly_with_all_its_output_and_its_exit_code(mnist_root, tmp_path):
    """`run` skips Python's teardown: the output still arrives in full through a pipe, where
    Python buffers it (unless PYTHONUNBUFFERED is set, so here it is not)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    command = [sys.executable, "-m", "effmnist", "data", "--data-dir", str(mnist_root)]
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    assert done.returncode == 0 and "MNIST verified" in done.stdout, done
    no_model = [sys.executable, "-m", "effmnist", "predict", "--checkpoint", "absent.pt", "x.png"]
    missing = subprocess.run(no_model, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert missing.returncode == 1 and missing.stderr.startswith("error: no checkpoint"), missing


def test_data_command_verifies(mnist_root, capsys):
    assert main(["data", "--data-dir", str(mnist_root)]) == 0
    out = capsys.readouterr().out
    assert out.count(" ok") == 4


def test_unwritable_data_dir_is_a_clear_error_not_a_traceback(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["data", "--data-dir", str(blocker / "data")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot write to the data folder") and "Traceback" not in err


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.strip() == f"effmnist {__version__}"


def test_shared_flags_are_declared_once_and_offered_where_they_apply():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices
    flags = {name: {o for a in p._actions for o in a.option_strings} for name, p in sub.items()}
    assert {n for n, f in flags.items() if "--data-dir" in f} == {
        "train",
        "data",
        "bench",
        "ablate",
    }
    assert {n for n, f in flags.items() if "--device" in f} == {"train", "bench"}


def test_a_bug_keeps_its_traceback(monkeypatch):
    # before: every ValueError became "error: ..." and a real bug lost its traceback
    def broken(args):
        raise ValueError("a bug in effmnist, not the user's input")

    monkeypatch.setattr(cli, "cmd_data", broken)
    with pytest.raises(ValueError, match="a bug in effmnist"):
        main(["data"])


def test_the_installed_console_script_runs():
    import shutil

    script = shutil.which("effmnist", path=str(Path(sys.executable).parent))
    assert script, "pip install registers the `effmnist` console script"
    proc = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "train" in proc.stdout and "predict" in proc.stdout
