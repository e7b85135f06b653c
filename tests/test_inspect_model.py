import pytest
import torch
from torch import nn

from effmnist.insight.inspect_model import (
    apply_head,
    format_head_comparison,
    format_receptive_fields,
    head_comparison,
    permute_positions,
    receptive_fields,
    stage_shapes,
)
from effmnist.model import EfficientMNIST, ModelConfig


def test_stage_shapes_halve_the_map_three_times_to_3x3():
    model = EfficientMNIST()
    assert stage_shapes(model) == [
        ("input", (1, 1, 28, 28)),
        ("stage 1", (1, 16, 14, 14)),
        ("stage 2", (1, 32, 7, 7)),
        ("stage 3", (1, 64, 3, 3)),
        ("head pool", (1, 64)),
        ("classifier", (1, 10)),
    ]
    assert model.training  # the mode is restored


def test_receptive_field_grows_3_4_8_10_18_22_then_covers_the_image():
    rows = receptive_fields(EfficientMNIST())
    assert [r.layer for r in rows] == [
        "conv1",
        "pool1",
        "conv2",
        "pool2",
        "conv3",
        "pool3",
        "global avg pool",
    ]
    assert [r.rf for r in rows] == [3, 4, 8, 10, 18, 22, 38]
    assert [r.jump for r in rows] == [1, 2, 2, 4, 4, 8, 24]
    assert [r.size for r in rows] == [28, 14, 14, 7, 7, 3, 1]
    table = format_receptive_fields(rows)
    assert "22x22" in table and table.count("(whole image)") == 1


def _linear_proxy(model: EfficientMNIST, n_layers: int) -> nn.Sequential:
    """The first n conv/pool layers with all-ones kernels, max-pool replaced by avg-pool and no BN/ReLU:
    a unit's gradient is then non-zero exactly on the input pixels it can see."""
    layers = []
    for m in model.features.modules():
        if isinstance(m, nn.Conv2d):
            conv = nn.Conv2d(1, 1, m.kernel_size, m.stride, m.padding, bias=False)
            nn.init.ones_(conv.weight)
            layers.append(conv)
        elif isinstance(m, nn.MaxPool2d):
            layers.append(nn.AvgPool2d(m.kernel_size, m.stride))
    return nn.Sequential(*layers[:n_layers])


@pytest.mark.parametrize("n_layers", range(1, 7))
def test_receptive_field_formula_agrees_with_gradients(n_layers):
    model = EfficientMNIST()
    x = torch.ones(1, 1, 28, 28, requires_grad=True)
    out = _linear_proxy(model, n_layers)(x)
    centre = out.shape[-1] // 2  # the central unit's field does not reach the border at any depth
    out[0, 0, centre, centre].backward()
    seen = (x.grad[0, 0] != 0).nonzero()
    side = int(seen[:, 0].max() - seen[:, 0].min() + 1)
    assert side == receptive_fields(model)[n_layers - 1].rf


def test_head_comparison_uses_the_real_3x3_map():
    gap, flatten, claim = head_comparison()
    assert (gap.map_shape, gap.features, gap.classifier_params, gap.total_params) == (
        (64, 3, 3),
        64,
        640,
        24_048,
    )
    assert (flatten.features, flatten.classifier_params, flatten.total_params) == (
        576,
        5_760,
        29_168,
    )
    assert gap.within_budget and not flatten.within_budget
    assert claim.classifier_params == 64 * 7 * 7 * 10 == 31_360 and claim.map_shape == (64, 7, 7)
    assert "5,760" in format_head_comparison([gap, flatten, claim])


def test_permute_positions_moves_whole_positions_across_all_channels():
    fmap = torch.arange(2 * 3 * 9, dtype=torch.float32).reshape(2, 3, 3, 3)
    perm = torch.tensor([8, 7, 6, 5, 4, 3, 2, 1, 0])
    out = permute_positions(fmap, perm)
    assert torch.equal(
        out, fmap.flip(-1).flip(-2)
    )  # reversing row-major order = rotating by 180 degrees
    with pytest.raises(ValueError, match="permutation"):
        permute_positions(fmap, torch.tensor([0, 0, 1, 2, 3, 4, 5, 6, 7]))


def test_gap_head_ignores_where_features_are_and_flatten_head_does_not():
    torch.manual_seed(0)
    fmap = torch.rand(4, 64, 3, 3)
    perm = torch.randperm(9, generator=torch.Generator().manual_seed(1))
    gap, flat = EfficientMNIST(), EfficientMNIST(ModelConfig(head="flatten"))
    assert torch.allclose(
        apply_head(gap, fmap), apply_head(gap, permute_positions(fmap, perm)), atol=1e-6
    )
    assert not torch.allclose(
        apply_head(flat, fmap), apply_head(flat, permute_positions(fmap, perm)), atol=1e-3
    )
    assert gap.training  # the mode is restored
