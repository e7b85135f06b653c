import pytest
import torch

from effmnist.evaluate import (
    accuracy,
    confusion_matrix,
    eval_mode,
    mistakes,
    most_confident_mistakes,
    per_class_accuracy,
    predict,
    top_confusions,
)
from effmnist.model import EfficientMNIST


def test_confusion_matrix_matches_a_hand_computed_case():
    labels = torch.tensor([0, 0, 1, 1, 1, 2, 2, 2, 2])
    preds = torch.tensor([0, 1, 1, 1, 2, 2, 2, 0, 2])
    cm = confusion_matrix(labels, preds, num_classes=3)
    assert cm.tolist() == [
        [1, 1, 0],  # true 0: once right, once called 1
        [0, 2, 1],  # true 1: twice right, once called 2
        [1, 0, 3],
    ]  # true 2: three right, once called 0
    assert cm.dtype == torch.int64 and int(cm.sum()) == len(labels)


def test_confusion_matrix_has_all_ten_classes_and_rejects_bad_input():
    cm = confusion_matrix(torch.tensor([3]), torch.tensor([8]))
    assert cm.shape == (10, 10) and cm[3, 8] == 1 and int(cm.sum()) == 1
    with pytest.raises(ValueError, match="differ in length"):
        confusion_matrix(torch.tensor([1, 2]), torch.tensor([1]))
    with pytest.raises(ValueError, match="0..9"):
        confusion_matrix(torch.tensor([10]), torch.tensor([1]))


def test_per_class_accuracy_is_the_diagonal_over_the_row_sums():
    cm = torch.tensor([[1, 1, 0], [0, 2, 1], [1, 0, 3]])
    assert per_class_accuracy(cm).tolist() == pytest.approx([1 / 2, 2 / 3, 3 / 4])
    assert torch.isnan(per_class_accuracy(torch.tensor([[1, 0], [0, 0]])))[1]  # a class never seen


def _probs():
    # rows: predicted class is the argmax; labels make images 1, 2 and 4 wrong
    return torch.tensor(
        [
            [0.90, 0.05, 0.05],
            [0.30, 0.60, 0.10],  # label 0, predicted 1 with 0.60
            [0.05, 0.05, 0.90],  # label 1, predicted 2 with 0.90
            [0.10, 0.80, 0.10],
            [0.70, 0.20, 0.10],
        ]
    )  # label 2, predicted 0 with 0.70


def test_mistakes_are_found_in_order_and_ranked_by_confidence():
    labels = torch.tensor([0, 0, 1, 1, 2])
    assert mistakes(_probs(), labels).tolist() == [1, 2, 4]
    assert most_confident_mistakes(_probs(), labels).tolist() == [2, 4, 1]
    assert most_confident_mistakes(_probs(), labels, k=2).tolist() == [2, 4]
    assert most_confident_mistakes(_probs(), torch.tensor([0, 1, 2, 1, 0])).tolist() == []


def test_top_confusions_skip_the_diagonal_and_sort_by_count():
    cm = torch.tensor([[50, 2, 7], [2, 60, 0], [1, 9, 40]])
    assert top_confusions(cm, k=3) == [(2, 1, 9), (0, 2, 7), (0, 1, 2)]
    assert cm[0, 0] == 50  # the argument is not modified


def test_eval_mode_restores_the_mode_even_when_the_code_inside_raises():
    model = EfficientMNIST().train()
    with pytest.raises(RuntimeError), eval_mode(model):
        assert not model.training and not model.dropout.training
        raise RuntimeError("boom")
    assert model.training and model.dropout.training
    model.eval()
    with eval_mode(model):
        pass
    assert not model.training  # a model in eval mode stays in eval mode


def test_predict_uses_eval_mode_and_returns_probabilities():
    torch.manual_seed(0)
    model = EfficientMNIST().train()
    x = torch.randn(7, 1, 28, 28)
    probs = predict(model, x, batch_size=3)  # batches of 3, 3, 1
    assert probs.shape == (7, 10) and torch.allclose(probs.sum(1), torch.ones(7))
    assert model.training  # restored
    with torch.no_grad():
        expected = torch.softmax(model.eval()(x), dim=1)
    assert torch.allclose(probs, expected, atol=1e-6)  # dropout off, BatchNorm's running stats
    assert accuracy(model, x, probs.argmax(1)) == 1.0
