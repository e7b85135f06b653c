"""The series in order: a tutorial uses only what it, or an earlier one, has taught.

Each entry below is a tool or a result that one tutorial introduces, with a pattern that finds
its use in code. No earlier tutorial's code may use it, and the tutorial that teaches it must
(so the table cannot go stale). Notebook 06 may use anything before it.
"""

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = {
    p.stem[:2]: p for p in (Path(__file__).resolve().parents[1] / "notebooks").glob("0*.ipynb")
}

TAUGHT_IN = {
    # the data pipelines
    r"\bDataLoader\(": "01",
    r"\bdatasets\.MNIST\(|\btorchvision_mnist\(": "01",
    r"\bTensorLoader\(": "01",
    # training, and what a trained model can do
    r"(?<![.\w])train\(": "03",  # the function, not nn.Module.train()
    r"\bsave_checkpoint\(": "03",
    r"\blr_range_test\(": "03",
    r"\bload_or_train\(": "04",
    r"\binsight\.class_activation_maps\(": "04",
    # the recipes notebook 05 derives, and the results it reads
    r"[\"']best[\"']|[\"']small[\"']": "05",
    r"\binsight\.reliability\(": "04",
    r"\bstats\.\w+\(|\banalysis\.\w+\(": "05",
}
# reading the test set: only where the series reports on it (03: the reference, 05: the final step)
TEST_SET = re.compile(r"\.test_x\b|\.test_y\b|test_accuracy")
READS_TEST_SET = {"01", "03", "05"}  # 01 only counts and shows the test file's images


def _code(stem: str) -> str:
    cells = json.loads(NOTEBOOKS[stem].read_text(encoding="utf-8"))["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


@pytest.mark.parametrize("pattern, teacher", TAUGHT_IN.items(), ids=lambda x: str(x)[:30])
def test_nothing_is_used_before_the_notebook_that_teaches_it(pattern, teacher):
    early = [
        stem for stem in sorted(NOTEBOOKS) if stem < teacher and re.search(pattern, _code(stem))
    ]
    assert not early, f"{pattern!r} is taught in {teacher}, but used before it in {early}"
    assert re.search(pattern, _code(teacher)), f"{teacher} no longer uses {pattern!r}"


def test_the_test_set_is_read_only_where_the_series_reports_on_it():
    readers = {stem for stem in NOTEBOOKS if TEST_SET.search(_code(stem))}
    assert readers <= READS_TEST_SET | {"06"}, sorted(readers - READS_TEST_SET)
    assert not TEST_SET.search(_code("04")), "04 studies the model on validation images"
