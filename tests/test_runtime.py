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
    # it, so the child runs torch ops single-threaded. qkern drops the OpenMP runtime in a
    # forked child and starts its own pool there, still at 2+ threads.
    torch.set_num_threads(1)
    x = torch.randn(64, 4096)
    q = qkern.ops.quantize(x, qkern.NVFP4())
    queue.put(float((q.dequantize() - x).norm() / x.norm()))


def test_kernels_work_after_fork():
    qkern.ops.quantize(torch.randn(64, 4096), qkern.MXFP4())  # use the threads in the parent
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


def test_thread_runtimes_give_the_same_results():
    """torch's OpenMP runtime (the default where found) and qkern's own pool split the
    work the same way, so results are bit-identical; either can be selected."""
    from qkern import _threads
    address = _threads.gomp_parallel_address(_threads.torch_cpu_library())
    if address == 0:
        pytest.skip("no OpenMP runtime found behind libtorch_cpu")
    before_runtime, before_threads = _C.thread_runtime(), _C.get_num_threads()
    x = torch.randn(300, 4096)
    p = qkern.ops.prepack(qkern.ops.quantize(torch.randn(512, 4096), "int4:g128:asym"))
    try:
        qkern.set_num_threads(2)
        runs = {}
        for name, addr in (("openmp", address), ("qkern pool", 0)):
            _C.set_openmp_parallel(addr)
            assert _C.thread_runtime() == name
            runs[name] = (qkern.ops.quantize(x, "nvfp4").qdata, qkern.ops.w4a16_linear(x[:5], p),
                          qkern.ops.w4a16_linear(x.bfloat16(), p))
        for a, b in zip(*runs.values()):
            assert torch.equal(a, b)
    finally:
        _C.set_openmp_parallel(address if before_runtime == "openmp" else 0)
        qkern.set_num_threads(before_threads)


def test_own_pool_resizes_between_jobs():
    """Resizing qkern's own pool after it has run jobs: new workers wait for the next job
    (they once took a stale one), and results stay the same at every size."""
    before_runtime, before_threads = _C.thread_runtime(), _C.get_num_threads()
    from qkern import _threads
    address = _threads.gomp_parallel_address(_threads.torch_cpu_library())
    x = torch.randn(64, 4096)
    try:
        _C.set_openmp_parallel(0)
        expected = qkern.ops.quantize(x, "mxfp4").qdata
        for n in (3, 2, 4, 1, 2):
            qkern.set_num_threads(n)
            for _ in range(3):
                assert torch.equal(qkern.ops.quantize(x, "mxfp4").qdata, expected)
    finally:
        _C.set_openmp_parallel(address if before_runtime == "openmp" else 0)
        qkern.set_num_threads(before_threads)


def test_default_thread_runtime_is_torchs_openmp():
    if os.environ.get("QKERN_THREAD_POOL", "openmp") != "openmp" or sys.platform != "linux":
        pytest.skip("runtime chosen by QKERN_THREAD_POOL, or no /proc/self/maps")
    code = "import qkern; print(qkern._C.thread_runtime())"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "openmp"


@pytest.mark.parametrize("value, runtime", [("qkern", "qkern pool"), ("bogus", None)])
def test_thread_pool_environment_variable(value, runtime):
    code = "import qkern; print(qkern._C.thread_runtime())"
    env = dict(os.environ, QKERN_THREAD_POOL=value)
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    if runtime is None:
        assert r.returncode != 0 and "QKERN_THREAD_POOL: expected 'openmp' or 'qkern', got 'bogus'" in r.stderr
    else:
        assert r.returncode == 0 and r.stdout.strip() == runtime, r.stderr


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
