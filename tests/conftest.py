"""Shared test setup: backends, CPU instruction-set levels, hypothesis profile.

Tests that need a GPU are marked ``cuda`` and skip with a reason elsewhere; tests that run
CUDA kernels in the SIMT emulator are marked ``sim`` and skip when qkern._C_sim was not
built. Every kernel test should run on each backend it has (CPU, sim, CUDA).
"""
from __future__ import annotations

import pytest
import torch
from hypothesis import settings

from qkern import _C, _ext

settings.register_profile("qkern", deadline=None, max_examples=200, derandomize=True)
settings.load_profile("qkern")


def pytest_collection_modifyitems(config, items):
    has_gpu = torch.cuda.is_available() and _ext.optional_module("_C_cuda") is not None
    has_sim = _ext.optional_module("_C_sim") is not None
    skip_cuda = pytest.mark.skip(reason="needs a CUDA GPU and qkern._C_cuda")
    skip_sim = pytest.mark.skip(reason=f"qkern._C_sim not built ({_ext.load_error('_C_sim')})")
    for item in items:
        # markers only: item.keywords also holds folder names (tests/sim/...)
        if item.get_closest_marker("cuda") and not has_gpu:
            item.add_marker(skip_cuda)
        if item.get_closest_marker("sim") and not has_sim:
            item.add_marker(skip_sim)


@pytest.fixture(params=list(_C.compiled_isas()))
def cpu_isa(request):
    """Runs a test once per CPU kernel level compiled in (scalar, avx2, avx512), then restores."""
    before = _C.get_isa()
    try:
        _C.set_isa(request.param)
    except ValueError:
        pytest.skip(f"CPU level {request.param} not available on this machine")
    yield request.param
    _C.set_isa(before)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
