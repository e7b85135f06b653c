import json
import subprocess
import sys

import pytest

from effmnist.cli import main


def test_train_end_to_end_meets_the_target_and_writes_metrics(tmp_path, mnist_root):
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
        "seed",
        "recipe",
    }
    assert metrics["params"] == 24_048 and metrics["seed"] == 0 and metrics["recipe"] == "reference"
    assert 0.95 < metrics["test_accuracy"] <= 1 and 0.95 < metrics["val_accuracy"] <= 1
    assert ckpt.exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--epochs", "0"],
        ["train", "--device", "tpu"],
        ["train", "--recipe", "magic"],
        ["train", "--seed", "abc"],
        ["fly"],
        [],
    ],
)
def test_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert "usage:" in capsys.readouterr().err


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
