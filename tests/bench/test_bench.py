"""The bench suite: runs end to end in quick mode on tiny shapes (as CI does), its JSON
validates against schema.json, its probes are sane, its checks catch a wrong kernel.
No timing is asserted: these machines are shared and noisy (DESIGN.md section 6)."""
from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from importlib import resources

import jsonschema
import pytest
import torch

import qkern
from qkern import cli, reference
from qkern.bench import machine, probes, report, runner, shapes, timing
from qkern.bench.cases import FAMILIES, Context
from qkern.bench.cases.w4a16 import torch_int4_pack
from qkern.formats import INT4

TINY = ["--quick", "--shapes", "64x256", "--m", "1,3", "--no-progress"]


def schema():
    return json.loads(resources.files("qkern.bench").joinpath("schema.json").read_text())


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """One CLI run of every family, as CI runs it: (exit code, table, JSON document)."""
    out = tmp_path_factory.mktemp("bench") / "out.json"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = cli.main(["bench", *TINY, "--json", str(out)])
    return rc, buf.getvalue(), json.loads(out.read_text())


def test_quick_run_validates_against_schema(quick_run):
    rc, table, doc = quick_run
    assert rc == 0
    jsonschema.Draft202012Validator.check_schema(schema())
    jsonschema.validate(doc, schema())
    assert doc["config"]["quick"] and doc["config"]["ops"] == list(FAMILIES)
    assert "measured peaks: memory" in table and "host overhead per call" in table


def test_every_family_reports_something(quick_run):
    _, _, doc = quick_run
    seen = {r["family"] for r in doc["results"]} | {u["family"] for u in doc["unavailable"]}
    assert seen == set(FAMILIES)
    for r in doc["results"]:
        if r["status"] != "ok":
            assert r["note"], r  # every skip says why
    for name in ("hadamard", "prepack", "w4a16_linear"):  # ops that land on other branches
        if not hasattr(qkern.ops, name):
            assert any(r["role"] == "qkern" and r["status"] == "unavailable" and name in r["note"]
                       for r in doc["results"])


def test_probes_are_sane(quick_run):
    _, _, doc = quick_run
    peaks = doc["peaks"]
    assert peaks["copy_gbps"] > 0 and peaks["read_gbps"] > 0
    assert peaks["memory_gbps"] == max(peaks["copy_gbps"], peaks["read_gbps"])
    assert set(doc["peaks"]["matmul_tflops"]) == {"float32", "bfloat16"}
    assert all(v > 0 for v in doc["peaks"]["matmul_tflops"].values())
    fractions = [r["roofline_fraction"] for r in doc["results"] if r["roofline_fraction"] is not None]
    assert fractions and max(fractions) <= 1.05


def test_results_match_their_reference(quick_run):
    """quantize / dequantize bit-exact, torch's int4 GEMM and dense within tolerance: this
    also pins down the torch int4 calling convention written in cases/w4a16.py."""
    _, _, doc = quick_run
    checked = [r for r in doc["results"] if r["check"]]
    assert {r["op"] for r in checked} >= {"quantize", "dequantize", "w4a16_linear"}
    assert any(r["impl"] == "torch int4" for r in checked)
    assert all(r["check"]["ok"] for r in checked), [r for r in checked if not r["check"]["ok"]]
    for r in doc["results"]:
        if r["role"] == "qkern" and r["status"] == "ok":
            assert r["speedup"], r


def test_host_overhead_reported(quick_run):
    _, _, doc = quick_run
    ok = {r["op"]: r["us_per_call"] for r in doc["host_overhead"] if r["status"] == "ok"}
    assert ok["torch.add (trivial op)"] > 0 and ok["qkern.ops.dequantize mxfp4"] > 0


def test_plot(quick_run, tmp_path):
    pytest.importorskip("matplotlib")
    report.plot(quick_run[2], str(tmp_path / "r.png"))
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_without_matplotlib_says_what_to_install(quick_run, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import fails
    with pytest.raises(RuntimeError, match=r"pip install qkern\[bench\]"):
        report.plot(quick_run[2], str(tmp_path / "r.png"))


def test_bad_arguments_exit_2(capsys):
    assert cli.main(["bench", "--ops", "dequantize,gemm"]) == 2
    assert "--ops: unknown gemm" in capsys.readouterr().err
    assert cli.main(["bench", "--shapes", "llama9"]) == 2
    assert cli.main(["bench", "--m", "0"]) == 2
    assert cli.main(["bench", "--threads", "0"]) == 2


# ----------------------------------------------------------------------------- parts


def test_model_shapes():
    assert [(w.n, w.k) for w in shapes.MODELS["llama3-8b"].linears()] == [
        (6144, 4096), (4096, 4096), (28672, 4096), (4096, 14336)]
    assert [(w.n, w.k) for w in shapes.MODELS["qwen2.5-7b"].linears()] == [
        (4608, 3584), (3584, 3584), (37888, 3584), (3584, 18944)]
    s = shapes.parse("llama3-8b,mistral-7b")  # same layer sizes: listed once
    assert [w.label for w in s.weights()] == ["llama3-8b.qkv", "llama3-8b.o", "llama3-8b.gate_up",
                                              "llama3-8b.down"]
    assert s.weights(quick=True) == [shapes.SQUARE]
    assert shapes.parse("qwen2.5-7b").weights()[0] == shapes.SQUARE
    assert s.row_sizes() == [4096, 14336]
    c = shapes.parse("128x256, 64x512")
    assert [(w.n, w.k) for w in c.weights()] == [(128, 256), (64, 512)] and c.row_sizes() == [256, 512]
    with pytest.raises(ValueError, match="neither a model"):
        shapes.parse("4096")


def test_timer_repetitions_and_cap():
    cfg = timing.TimerConfig(warmup_s=0.0, target_s=0.01, min_reps=3, max_reps=7)
    t, out = timing.measure(lambda: 42, torch.device("cpu"), cfg)
    assert out == 42 and 3 <= len(t.times) <= 7 and t.median > 0 and not t.note
    q1, q3 = t.quartiles
    assert q1 <= t.median <= q3
    slow = timing.TimerConfig(warmup_s=0.0, target_s=1.0, min_reps=5, max_reps=10, max_s=1e-9)
    t, _ = timing.measure(lambda: sum(range(1000)), torch.device("cpu"), slow)
    assert len(t.times) == 1 and "only 1 repetition" in t.note


def test_flush_runs_between_repetitions():
    flusher = timing.CacheFlusher(torch.device("cpu"), 1 << 16)
    cfg = timing.TimerConfig(warmup_s=0.0, target_s=0.0, min_reps=4, max_reps=4)
    t, _ = timing.measure(lambda: None, torch.device("cpu"), cfg, flush=flusher)
    assert t.flushed and int(flusher.buf[0]) == 4


def test_copy_probe_sane():
    p = probes.copy_probe(torch.device("cpu"), 8 << 20, timing.TimerConfig(0.0, 0.01, 3, 5))
    assert p["best"] >= p["median"] > 0 and p["bytes_per_call"] == 2 * (8 << 20)


def test_pinning_restores_threads():
    before = (torch.get_num_threads(), qkern._C.get_num_threads(), os.sched_getaffinity(0))
    with machine.pinned_threads(1) as pin:
        assert pin["threads"] == 1 and torch.get_num_threads() == 1 == qkern._C.get_num_threads()
        assert len(os.sched_getaffinity(0)) == 1
    assert (torch.get_num_threads(), qkern._C.get_num_threads(), os.sched_getaffinity(0)) == before


def test_fallback_is_named():
    """A qkern row that would time the reference fallback says so (no CUDA kernels here)."""
    assert runner.fallback_note("dequantize", torch.device("cpu")) == ""
    has_cuda_kernel = torch._C._dispatch_has_kernel_for_dispatch_key("qkern::dequantize", "CUDA")
    assert bool(runner.fallback_note("dequantize", torch.device("cuda"))) != has_cuda_kernel
    assert runner.fallback_note("no_such_op", torch.device("cuda")) == ""


def test_w4a16_cases_check_the_op_their_kernel_runs():
    """qkern's W4A16 row passes a PrepackedWeight: its kernel is w4a16_linear_prepacked (which
    has a CUDA kernel), not the canonical-weight op w4a16_linear (which has none, and made a
    real H100 run say it timed the fallback)."""
    from qkern.bench.cases.w4a16 import w4a16_cases
    cases = w4a16_cases(_ctx())
    assert cases and all(c.kernel_op == "w4a16_linear_prepacked" for c in cases)
    assert torch._C._dispatch_has_kernel_for_dispatch_key("qkern::w4a16_linear_prepacked", "CUDA")
    assert runner.fallback_note("w4a16_linear_prepacked", torch.device("cuda")) == ""


def test_torch_int4_convention():
    """torch's int4 CPU GEMM on torch_int4_pack's operands computes x @ dequantize(q)^T."""
    for fmt in (INT4(128), INT4(128, symmetric=False)):
        q = qkern.ops.quantize(torch.randn(48, 256), fmt)
        x = torch.randn(3, 256)
        packed, sz = torch_int4_pack(q, torch.float32)
        y = torch.ops.aten._weight_int4pack_mm_for_cpu(x, packed, 128, sz)
        want = x @ reference.dequantize(q.qdata, q.scale, q.zero, q.global_scale, fmt).t()
        torch.testing.assert_close(y, want, rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------------- future ops


def _ctx(shape="64x256"):
    return Context(torch.device("cpu"), torch.float32, shapes.parse(shape), (1, 3), True,
                   timing.TimerConfig(0.0, 0.005, 3, 5))


def _run(family, ctx):
    state = runner.RunState(report.Progress(enabled=False))
    return [r for c in FAMILIES[family](ctx) for r in runner._run_case(c, ctx, state)]


def _dense_hadamard(x, scale=None, *, signs=None):
    from scipy.linalg import hadamard

    n = x.shape[-1]
    return x @ (torch.from_numpy(hadamard(n)).to(x.dtype) / n ** 0.5)


def test_hadamard_cases_with_an_op(monkeypatch):
    """When qkern.ops.hadamard lands, its cases run and are checked against dense x @ H."""
    pytest.importorskip("scipy")
    monkeypatch.setattr(qkern.ops, "hadamard", _dense_hadamard, raising=False)
    monkeypatch.setattr(qkern.ops, "hadamard_quantize",
                        lambda x, fmt: qkern.ops.quantize(_dense_hadamard(x), fmt), raising=False)
    records = _run("hadamard", _ctx())
    mine = [r for r in records if r["role"] == "qkern"]
    assert len(mine) == 3 and all(r["status"] == "ok" and r["check"]["ok"] for r in mine)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_fused_hadamard_quantize_passes_its_check_in_half_precision(dtype):
    """The real fused op against quantize(dense x @ H) in x's dtype: the dense path rounds
    the rotation to bf16/fp16 first (the fused one does not), which moved 3.4% of the
    dequantized L2 norm in bf16 and made an H100 run report FAIL under the fp32 bound."""
    pytest.importorskip("scipy")
    ctx = _ctx()
    ctx.dtype = dtype
    records = _run("hadamard", ctx)
    fused = [r for r in records if r["op"] == "hadamard_quantize" and r["role"] == "qkern"]
    assert len(fused) == 2 and all(r["status"] == "ok" and r["check"]["ok"] for r in fused), fused


def test_a_wrong_kernel_fails_its_check(monkeypatch):
    pytest.importorskip("scipy")
    monkeypatch.setattr(qkern.ops, "hadamard", lambda x, scale=None, *, signs=None: x.clone(), raising=False)
    records = _run("hadamard", _ctx())
    bad = [r for r in records if r["op"] == "hadamard" and r["role"] == "qkern"]
    assert bad[0]["status"] == "ok" and not bad[0]["check"]["ok"]


def test_w4a16_cases_with_an_op(monkeypatch):
    monkeypatch.setattr(qkern.ops, "prepack", lambda q, device: q, raising=False)
    monkeypatch.setattr(qkern.ops, "w4a16_linear",
                        lambda x, w, bias=None: x @ qkern.ops.dequantize(w, x.dtype).t(), raising=False)
    records = _run("w4a16", _ctx())
    mine = [r for r in records if r["role"] == "qkern"]
    # per case (M = 1 and 16): qkern in the run's dtype and in bf16 (torch int4's dtype)
    assert [r["impl"] for r in mine] == ["qkern", "qkern bf16 x"] * 2
    assert all(r["status"] == "ok" and r["check"]["ok"] for r in mine)
    runner._derive(records, {"memory_gbps": 10.0, "matmul_tflops": {"float32": 1.0, "bfloat16": 1.0}})
    assert set(mine[0]["speedup"]) == {"dense", "torch int4", "reference"}


def test_shared_baseline_timing_is_reused_and_still_checked():
    ctx = _ctx()
    state = runner.RunState(report.Progress(enabled=False))
    dense = []
    for _ in range(2):  # the same cases twice: the second run reuses the dense timing
        for case in FAMILIES["w4a16"](ctx):
            if case.dims["m"] == 1:
                dense += [r for r in runner._run_case(case, ctx, state) if r["impl"] == "dense"]
    first, again = dense
    assert again["time"] == first["time"] and "same work as in" in again["note"]
    assert again["check"]["ok"]
    assert [e["source"] for e in state.evidence] == ["dense in w4a16_linear int4:g128:sym 64x256, M=1"]


def test_peaks_take_the_best_measurement():
    runs = [{"name": "copy", "best": 10.0, "size": "x"}, {"name": "read", "best": 12.0, "size": "x"},
            {"name": "matmul", "dtype": "float32", "best": 1.0, "size": "n"}]
    p = probes.peaks(runs, [{"name": "matmul", "dtype": "float32", "best": 2.0, "source": "dense"},
                            {"name": "memory", "dtype": None, "best": 11.0, "source": "gemv"}])
    assert p["memory_gbps"] == 12.0 and p["sources"]["memory"] == "read probe"
    assert p["matmul_tflops"] == {"float32": 2.0} and p["sources"]["matmul float32"] == "dense"


def test_importable_without_matplotlib():
    """qkern (and so `qkern bench` without --plot) works where matplotlib is absent."""
    import subprocess

    code = ("import sys; sys.modules['matplotlib'] = None\n"
            "import qkern.cli, qkern.bench.runner, qkern.bench.report\n"
            "print(qkern.cli.COMMANDS['bench'][0])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ)
    assert out.returncode == 0, out.stderr
