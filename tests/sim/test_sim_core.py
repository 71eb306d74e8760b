"""The SIMT emulator itself (cuda/sim): schedules, barriers, warp collectives, atomics, and
the misuse it must report as Python exceptions (never a crash or a hang). Kernels are the
self-test scenarios of cuda/sim/selftest/scenarios.cu."""
from __future__ import annotations

import pytest
import torch

from qkern import _ext

pytestmark = pytest.mark.sim
SCHEDULES = ["forward", "reverse", "shuffle"]


@pytest.fixture
def sim():
    mod = _ext.optional_module("_C_sim")
    yield mod
    mod.set_schedule("forward", 0)


def run(sim, name, n_out=1024, **kw):
    out = torch.zeros(n_out, dtype=torch.int32)
    sim.selftest(name, out.data_ptr(), **kw)
    return out


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("threads", [1, 37, 256, 1024])
def test_block_sum_with_barriers(sim, schedule, threads):
    sim.set_schedule(schedule, 3)
    out = run(sim, "block_sum", blocks=3, threads=threads, smem=4 * threads)
    assert out[:3].tolist() == [threads * (threads + 1) // 2] * 3


def test_missing_barrier_shows_under_some_schedule(sim):
    """neighbour_race reads a neighbour's shared-memory write without a barrier: forward order
    reads poison, reverse order happens to work, so at least one schedule exposes it."""
    results = {}
    for schedule in SCHEDULES:
        sim.set_schedule(schedule, 11)
        results[schedule] = run(sim, "neighbour_race", threads=8, smem=32)[:8].tolist()
    correct = [(t + 1) % 8 + 1 for t in range(8)]
    assert any(r != correct for r in results.values())
    assert results["forward"] != correct


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_warp_shuffle_sum_full_and_partial_warp(sim, schedule):
    sim.set_schedule(schedule, 5)
    out = run(sim, "warp_sum", threads=48)[:48].tolist()
    assert out == [528] * 32 + [136] * 16  # sum(1..32), sum(1..16)


def test_votes(sim):
    out = run(sim, "votes", threads=64)
    n = 64
    assert out[:n].tolist() == [int(torch.tensor(0xAAAAAAAA).to(torch.int32))] * n
    assert out[n:2 * n].tolist() == [1] * n
    assert out[2 * n:3 * n].tolist() == [1] * n


def test_atomics_across_blocks(sim):
    assert run(sim, "atomic_count", blocks=5, threads=96)[0] == 480


@pytest.mark.parametrize("name,message", [
    ("divergent_barrier", r"__syncthreads not reached by all threads"),
    ("exit_before_barrier", r"__syncthreads not reached by all threads"),
    ("mismatched_collectives", r"waits at a different collective \(__(ballot|shfl_xor)_sync"),
    ("collective_after_exit", r"__shfl_sync with mask 0xffffffff not reached by lane 0 \(it exited\)"),
    ("shuffle_outside_mask", r"reads lane 16, which is not in the mask"),
    ("smem_overflow", r"shared-memory out-of-bounds write .* offset 128 of the dynamic shared memory \(128 bytes\)"),
    ("trap", r"__trap\(\) executed .* thread \(3,0,0\)"),
])
@pytest.mark.parametrize("schedule", SCHEDULES)
def test_misuse_is_a_runtime_error(sim, name, message, schedule):
    sim.set_schedule(schedule, 1)
    with pytest.raises(RuntimeError, match=message) as e:
        run(sim, name, threads=32, smem=128)
    assert f"kernel '{name}' block (0,0,0)" in str(e.value)
    # the emulator is usable again afterwards
    assert run(sim, "block_sum", threads=32, smem=128)[0] == 528


@pytest.mark.parametrize("kw,message", [
    (dict(threads=1025), r"1025 threads per block .* limit is 1024"),
    (dict(threads=32, smem=166913), r"166913 bytes of dynamic shared memory; sm_80 allows at most 166912"),
    (dict(threads=0), r"empty grid or block"),
])
def test_refused_launch_is_a_value_error(sim, kw, message):
    with pytest.raises(ValueError, match=message):
        run(sim, "block_sum", **kw)


def test_unknown_scenario_and_schedule(sim):
    with pytest.raises(ValueError, match="unknown self-test scenario"):
        run(sim, "nope")
    with pytest.raises(ValueError, match="expected 'forward', 'reverse' or 'shuffle'"):
        sim.set_schedule("random")


def test_arch_limits(sim):
    assert sim.arch_limits(800)["max_dyn_smem_optin"] == 166912
    assert sim.arch_limits(890)["max_dyn_smem_optin"] == 101376
    assert sim.arch_limits(900)["max_dyn_smem_optin"] == 232448
    assert sim.arch_limits(1200)["max_dyn_smem_optin"] == 101376


def test_throughput_counters(sim):
    """switch_bench: 4 blocks x 256 threads x 50 rounds of one barrier + one shuffle. Every
    thread parks twice per round (barrier, shuffle) and is resumed twice."""
    sim.reset_stats()
    run(sim, "switch_bench", blocks=4, threads=256, iters=50)
    s = sim.stats()
    assert s["threads"] == 1024 and s["blocks"] == 4 and s["barriers"] == 200
    assert s["collectives"] == 4 * 8 * 50
    assert s["switches"] >= 4 * 256 * 50 * 4
    assert s["seconds"] > 0
