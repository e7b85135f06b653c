import pytest
import torch

from effmnist.model import (
    EfficientMNIST,
    ModelConfig,
    count_parameters,
    format_breakdown,
    parameter_breakdown,
)


def test_reference_model_has_24048_parameters_and_ten_logits():
    model = EfficientMNIST()
    assert count_parameters(model) == 24_048
    assert model(torch.randn(5, 1, 28, 28)).shape == (5, 10)


def test_breakdown_reproduces_the_reference_table():
    rows = {name: n for name, n, _ in parameter_breakdown(EfficientMNIST())}
    assert rows == {
        "Conv1": 144,
        "Conv2": 4_608,
        "Conv3": 18_432,
        "BatchNorm": 224,
        "Classifier": 640,
        "Total": 24_048,
    }
    assert "18,432" in format_breakdown(EfficientMNIST())


def test_map_after_three_pools_is_3x3_not_7x7():
    model = EfficientMNIST().eval()
    x = torch.randn(1, 1, 28, 28)
    assert model.features(x).shape == (1, 64, 3, 3)
    assert [tuple(m.shape[1:]) for m in model.feature_maps(x)] == [
        (16, 28, 28),
        (32, 14, 14),
        (64, 7, 7),
    ]


def test_variants_build_with_the_parameter_counts_they_should():
    assert count_parameters(EfficientMNIST(head="flatten")) == 23_184 + 224 + 64 * 9 * 10
    # without BatchNorm each conv gets a bias instead
    assert count_parameters(EfficientMNIST(batchnorm=False)) == 23_184 + (16 + 32 + 64) + 640
    assert count_parameters(EfficientMNIST(ModelConfig(stages=((16, 16), (32,), (56,))))) == 23_984


def test_keyword_overrides_apply_on_top_of_a_given_config():
    # before: EfficientMNIST(config, **overrides) silently dropped the overrides
    model = EfficientMNIST(ModelConfig(stages=((8,), (16,))), dropout=0.0, head="flatten")
    assert model.config == ModelConfig(stages=((8,), (16,)), dropout=0.0, head="flatten")
    assert model.dropout.p == 0.0 and model.classifier.in_features == 16 * 7 * 7


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"head": "attention"}, "head must be one of"),
        ({"dropout": 1.0}, r"dropout must be in \[0, 1\)"),
        ({"stages": ()}, "stages must be 1 to 4 stages"),
        ({"stages": ((16,), (0,))}, "positive channel counts"),
        ({"stages": ((8,),) * 5}, "stages must be 1 to 4 stages"),
    ],
)
def test_configs_that_cannot_build_a_model_are_refused(overrides, message):
    with pytest.raises(ValueError, match=message):
        ModelConfig(**overrides)
