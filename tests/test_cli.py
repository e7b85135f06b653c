import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import effmnist
from effmnist import __version__, cli, training
from effmnist.cli import EXIT_TARGET_MISSED, main
from effmnist.recipe import Recipe, get_recipe


@pytest.mark.slow
def test_train_end_to_end_meets_the_target_and_writes_metrics(tmp_path, mnist_root, fresh_training):
    """The real command, really training (not the suite's run cache): its times add up."""
    metrics_path, ckpt = tmp_path / "m.json", tmp_path / "model.pt"
    proc = subprocess.run(
        [
            sys.executable, "-m", "effmnist", "train", "--seed", "0", "--no-progress",
            "--data-dir", str(mnist_root), "--metrics-json", str(metrics_path),
            "--save", str(ckpt),
        ],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Total parameters: 24,048" in proc.stdout and "TARGET ACHIEVED" in proc.stdout
    metrics = json.loads(metrics_path.read_text())
    assert set(metrics) == {
        "params", "train_accuracy", "val_accuracy", "test_accuracy", "train_seconds",
        "eval_seconds", "seed", "recipe", "data_seconds", "command_seconds",
    }  # fmt: skip
    parts = metrics["data_seconds"] + metrics["train_seconds"] + metrics["eval_seconds"]
    assert 0 < parts <= metrics["command_seconds"]
    assert metrics["params"] == 24_048 and metrics["seed"] == 0
    assert Recipe.from_dict(metrics["recipe"]) == get_recipe("reference")  # the full recipe
    # a Windows console (cp1252) can print everything the command prints when redirected
    proc.stdout.encode("cp1252")
    assert 0.95 < metrics["test_accuracy"] <= 1 and 0.95 < metrics["val_accuracy"] <= 1
    assert effmnist.load_checkpoint(ckpt)[1].metrics["test_accuracy"] == metrics["test_accuracy"]


def test_train_exits_3_when_it_misses_the_target_and_still_saves(tmp_path, monkeypatch, capsys):
    def tiny_train(recipe, splits, **kwargs):  # a real run, on 320 images: far below 95%
        return training.train(recipe, splits.take(320, n_val=200, n_test=200), **kwargs)

    monkeypatch.setattr(effmnist, "train", tiny_train)
    ckpt, metrics = tmp_path / "tiny.pt", tmp_path / "m.json"
    argv = ["train", "--no-progress", "--save", str(ckpt), "--metrics-json", str(metrics)]
    assert main(argv) == EXIT_TARGET_MISSED == 3
    out = capsys.readouterr().out
    assert "TARGET MISSED" in out and "TARGET ACHIEVED" not in out
    assert ckpt.is_file() and json.loads(metrics.read_text())["test_accuracy"] < 0.95


def test_the_exit_codes_are_documented_in_the_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    out = capsys.readouterr().out
    assert exc.value.code == 0
    codes = out[out.index("exit codes:") :].splitlines()[1:]
    assert [line.split()[0] for line in codes] == ["0", "1", "2", "3"]
    assert "missed the target" in codes[3] and "usage" in codes[2]
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "exits 3 when the run misses the target" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--epochs", "0"],
        ["train", "--device", "tpu"],
        ["train", "--recipe", "magic"],
        ["train", "--seed", "abc"],
        ["predict", "x.png", "--top", "11"],
        ["predict", "x.png", "--top", "0"],
        ["clean", "--everything"],
        ["fly"],
        [],
    ],
)
def test_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert "usage:" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_a_missing_device_is_an_error_message_not_a_traceback(capsys):
    assert main(["train", "--device", "cuda"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: device 'cuda' was requested") and "Traceback" not in err


def test_the_process_exits_with_the_command_code_and_all_its_output(mnist_root, tmp_path):
    command = [sys.executable, "-m", "effmnist", "data", "--data-dir", str(mnist_root)]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.rstrip().endswith(str(mnist_root)), done
    no_model = [sys.executable, "-m", "effmnist", "predict", "--checkpoint", "absent.pt", "x.png"]
    missing = subprocess.run(no_model, capture_output=True, text=True, cwd=tmp_path)
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


def _home_with_files(home: Path) -> tuple[Path, Path]:
    mnist, checkpoints = home / "MNIST" / "raw", home / "checkpoints"
    mnist.mkdir(parents=True)
    checkpoints.mkdir()
    (mnist / "train-images-idx3-ubyte").write_bytes(b"\0" * 1000)
    (checkpoints / "reference_seed0.pt").write_bytes(b"\0" * 2000)
    return mnist, checkpoints


def test_where_shows_the_home_mnist_and_the_checkpoints(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EFFMNIST_DATA", str(tmp_path))
    mnist, checkpoints = _home_with_files(tmp_path)
    assert main(["where"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"effmnist's home: {tmp_path} (from $EFFMNIST_DATA)"
    assert lines[1].split() == ["MNIST:", str(mnist), "(1", "files,", "0.0", "MB)"]
    assert lines[2].split() == ["checkpoints:", str(checkpoints), "(1", "files,", "0.0", "MB)"]
    assert lines[3].strip() == "reference_seed0.pt"


def test_clean_deletes_the_checkpoints_and_with_data_mnist_too(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EFFMNIST_DATA", str(tmp_path))
    mnist, checkpoints = _home_with_files(tmp_path)
    (tmp_path / "mine.txt").write_text("not effmnist's")
    assert main(["clean"]) == 0
    assert not checkpoints.exists() and mnist.is_dir()
    assert f"deleting {checkpoints}" in capsys.readouterr().out
    assert main(["clean", "--data"]) == 0
    out = capsys.readouterr().out
    assert f"nothing at {checkpoints}" in out and f"deleting {mnist.parent}" in out
    assert not mnist.parent.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["mine.txt"]


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
        "final",
    }
    assert {n for n, f in flags.items() if "--device" in f} == {"train", "bench", "ablate", "final"}
    assert sub["train"].parse_args([]).device == "cpu"  # the default: the same numbers anywhere


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
    assert "exit codes:" in proc.stdout
