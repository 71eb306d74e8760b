"""The CPU runtime: thread pool (sizes, fork safety) and the ISA switch."""
from __future__ import annotations

import multiprocessing as mp
import os
import subprocess
import sys

import pytest
import torch

import qkern
from qkern import _C


def _quantize_in_child(queue):
    # As DataLoader workers do: torch's OpenMP pool is not fork-safe once the parent used
    # it, so the child runs torch ops single-threaded. qkern's own pool stays at 2+ threads.
    torch.set_num_threads(1)
    x = torch.randn(64, 4096)
    q = qkern.ops.quantize(x, qkern.NVFP4())
    queue.put(float((q.dequantize() - x).norm() / x.norm()))


def test_kernels_work_after_fork():
    qkern.ops.quantize(torch.randn(64, 4096), qkern.MXFP4())  # start the pool in the parent
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_quantize_in_child, args=(queue,))
    child.start()
    child.join(timeout=60)
    if child.is_alive():
        child.kill()
    assert child.exitcode == 0, "the forked child hung or crashed in a qkern kernel"
    assert 0.05 < queue.get(timeout=5) < 0.2


def test_thread_count():
    before = _C.get_num_threads()
    try:
        qkern.set_num_threads(3)
        assert _C.get_num_threads() == 3
        with pytest.raises(ValueError, match="expected n >= 1"):
            qkern.set_num_threads(0)
    finally:
        qkern.set_num_threads(before)


def test_isa_switch():
    assert "scalar" in _C.compiled_isas()
    before = _C.get_isa()
    try:
        _C.set_isa("scalar")
        assert _C.get_isa() == "scalar"
        with pytest.raises(ValueError, match="expected 'scalar' or an available level"):
            _C.set_isa("avx9000")
    finally:
        _C.set_isa(before)


def test_default_isa_is_the_best_available():
    """Levels are ordered scalar < avx2 < avx512; the module starts at the highest one that
    is compiled in and that this CPU supports (unless QKERN_CPU_ISA lowers it)."""
    if "QKERN_CPU_ISA" in os.environ:
        pytest.skip("QKERN_CPU_ISA set: the default level is lowered on purpose")
    f = _C.cpu_features()
    supported = {"scalar": True, "avx2": f["avx2"] and f["fma"] and f["f16c"]}
    supported["avx512"] = supported["avx2"] and f["avx512f"] and f["avx512bw"] and f["avx512vl"]
    best = [isa for isa in _C.compiled_isas() if supported[isa]][-1]
    code = "from qkern import _C; print(_C.get_isa())"
    env = {k: v for k, v in os.environ.items() if k != "QKERN_CPU_ISA"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == best
    env["QKERN_CPU_ISA"] = "scalar"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "scalar"


def test_info_reports_the_machine():
    from qkern import info

    data = info.collect()
    assert data["backends"][0] == "cpu" and data["qkern"] == qkern.__version__
    assert set(data["cpu_features"]) == {"avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl",
                                          "avx512bf16"}
    text = info.format_info(data)
    assert "cpu features" in text and "cuda" in text


def test_cli_info_and_demo(capsys):
    from qkern.cli import main

    assert main(["info", "--json"]) == 0
    assert '"backends"' in capsys.readouterr().out
    assert main(["demo", "--rows", "64", "--cols", "256", "--no-model"]) == 0
    out = capsys.readouterr().out
    assert "nvfp4" in out and "mxfp4:floor" in out
