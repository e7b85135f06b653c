"""What `01_data_exploration.ipynb` says about MNIST and its split, checked on what it printed."""

from __future__ import annotations

import re

from notebook_claims import number, output

CHECKSUMS = "data.sha256_of(path) == expected"
HEADER = "header = f.read(16)"
BALANCE = "torch.bincount(mnist.test_labels)"
INTENSITIES = "most common non-zero values"
CONSTANTS = "to four decimals"
EFFECTS = "effects.items()"
SPLIT = "random_split(range(60_000)"
SHARES = "def digit_share"
LOADER = "num_workers=2"
ONE_TENSOR = "same_images = all("
BASELINE = "nearest-average-image accuracy"


def claim_the_four_files_are_the_original_ones(nb: dict) -> None:
    text = output(nb, CHECKSUMS)
    assert text.count("match: True") == 4 and "match: False" not in text, text


def claim_the_header_predicts_the_file_size(nb: dict) -> None:
    text = output(nb, HEADER)
    assert "magic 0x00000803: 60,000 images of 28x28 pixels" in text, text
    predicted = number(text, "x 28 x 28 =", "bytes")
    assert predicted == number(text, "size of the file:", "bytes") == 16 + 60_000 * 28 * 28


def claim_no_digit_is_rare(nb: dict) -> None:
    """1s the most frequent and 5s the rarest digit in both files, every digit 8% to 12% of
    either file: plain accuracy is a fair summary."""
    text = output(nb, BALANCE)
    pattern = r"most frequent digit (\d) \(([\d.]+)%\), rarest digit (\d) \(([\d.]+)%\)"
    found = re.findall(pattern, text)
    assert len(found) == 2, text
    for most, highest, rarest, lowest in found:
        assert (most, rarest) == ("1", "5"), text
        assert 8 < float(lowest) and float(highest) < 12, text


def claim_the_ink_is_not_a_clean_255(nb: dict) -> None:
    text = output(nb, INTENSITIES)
    top = re.search(r"most common non-zero values: \[(\d+), (\d+), (\d+)\]", text)
    assert top and top.group(1) == "253" and "255" not in top.groups(), text
    assert number(text, "exactly 0 (background):", "%") > 75, text


def claim_the_constants_are_the_training_statistics(nb: dict) -> None:
    text = output(nb, CONSTANTS)
    mean, std = number(text, "mean"), number(text, "std")
    assert round(mean, 4) == number(text, "data.MEAN =") == 0.1307, text
    assert round(std, 4) == number(text, "data.STD =") == 0.3081, text


def claim_the_rounding_explains_the_mean(nb: dict) -> None:
    """The rounding shifts the normalized mean more than the subset, which pulls the other way;
    for the std the subset matters more; together they are what the training split shows."""
    text = output(nb, EFFECTS)
    pattern = r"(?m)^(\w+) +mean shifted by ([-+][\d.]+) +std multiplied by ([\d.]+)$"
    rows = {name: (float(s), float(r)) for name, s, r in re.findall(pattern, text)}
    assert set(rows) == {"rounding", "subset", "both"}, text
    shift = {name: s for name, (s, _) in rows.items()}
    ratio = {name: r for name, (_, r) in rows.items()}
    assert abs(shift["rounding"]) > abs(shift["subset"]) > 0, text
    assert shift["rounding"] * shift["subset"] < 0, text
    assert ratio["subset"] > ratio["rounding"] > 1, text
    split = output(nb, "split_mean, split_std")
    assert number(split, "mean") == shift["both"], (split, text)


def claim_the_split_is_random_split_of_54000_and_6000(nb: dict) -> None:
    text = output(nb, SPLIT)
    assert "'train': 54000, 'validation': 6000, 'test': 10000" in text, text
    assert "the same split as random_split's: True" in text, text
    assert number(text, "training and validation splits:") == 60_000, text


def claim_the_split_is_balanced(nb: dict) -> None:
    """A random split, not stratified, yet no digit's share differs by a whole point."""
    gap = number(output(nb, SHARES), "training vs validation:", "%")
    assert gap < 1, gap


def claim_the_dataloader_and_the_tensor_give_the_same_floats(nb: dict) -> None:
    """torchvision's MNIST through a DataLoader and effmnist's one tensor: batches of the same
    shape and dtype, 844 per epoch, and the same floats and labels for the images compared."""
    loader, tensor = output(nb, LOADER), output(nb, ONE_TENSOR)
    assert "54,000 training images: 844 batches" in loader, loader
    assert "images (64, 1, 28, 28) torch.float32" in loader, loader
    assert "labels (64,) torch.int64" in loader, loader
    assert "844 batches" in tensor and "(64, 1, 28, 28) torch.float32" in tensor, tensor
    assert "the same floats in both: True" in tensor, tensor
    assert "and the same labels: True" in tensor, tensor


def claim_the_nearest_average_classifier_gets_about_80_percent(nb: dict) -> None:
    """Far above guessing (10%), and about 15 points short of the 95% target, as the prose says."""
    text = output(nb, BASELINE)
    accuracy = number(text, "on the validation set:", "%")
    assert 78 < accuracy < 82, text
    assert abs(number(text, "the 95% target:") - (95 - accuracy)) < 0.011, text


DOCTORED = [
    (BALANCE, "rarest digit 5 (9.0%)", "rarest digit 5 (4.0%)", "claim_no_digit_is_rare"),
    (SHARES, "validation: 0.55%", "validation: 1.55%", "claim_the_split_is_balanced"),
    (
        EFFECTS,
        "rounding  mean shifted by -0.00013",
        "rounding  mean shifted by -0.00003",
        "claim_the_rounding_explains_the_mean",
    ),
    (
        SPLIT,
        "random_split's: True",
        "random_split's: False",
        "claim_the_split_is_random_split_of_54000_and_6000",
    ),
    (
        ONE_TENSOR,
        "the same floats in both: True",
        "the same floats in both: False",
        "claim_the_dataloader_and_the_tensor_give_the_same_floats",
    ),
]
