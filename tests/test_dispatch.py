"""The public functions' direct CPU path (qkern/ops/_registry.direct_cpu): in plain eager
execution they run the op's CPU implementation themselves; wherever the dispatcher would
do more than that (modes, transforms, profiler, autograd, compile) they go through torch.ops,
and both paths give the same results."""
import importlib

import pytest
import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

import qkern
from qkern.ops import _registry, formats, gemm

had_ops = importlib.import_module("qkern.ops.hadamard")  # qkern.ops.hadamard is also the function
direct_cpu = _registry.direct_cpu


class _LogDispatch(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.ops = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops.append(str(func))
        return func(*args, **(kwargs or {}))


class _Sub(torch.Tensor):
    pass


class _PassFunction(TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        return func(*args, **(kwargs or {}))


def test_direct_only_in_plain_eager_execution():
    x = torch.randn(2, 8)
    assert direct_cpu(x) and direct_cpu(x, None, torch.ones(3))
    grad_x = torch.randn(2, 8, requires_grad=True)
    assert not direct_cpu(grad_x)
    assert not direct_cpu(x, torch.ones(8, requires_grad=True))  # e.g. a bias Parameter
    with torch.no_grad():
        assert direct_cpu(grad_x) and direct_cpu(x, torch.ones(8, requires_grad=True))
    with torch.inference_mode():
        assert direct_cpu(torch.randn(2, 8))
    assert direct_cpu(torch.nn.Parameter(x, requires_grad=False))  # dispatches as a tensor
    assert not direct_cpu(x.as_subclass(_Sub)) and not direct_cpu(x, x.as_subclass(_Sub))
    assert not direct_cpu(torch.empty(2, 8, device="meta"))
    assert not direct_cpu(x, torch.empty(8, device="meta"))
    assert not direct_cpu(x.numpy()) and not direct_cpu(x, [1.0] * 8)  # bad input: the op says why
    with _LogDispatch():
        assert not direct_cpu(x)
    with _PassFunction():
        assert not direct_cpu(x)
    seen = []
    torch.vmap(lambda row: seen.append(direct_cpu(row)) or row)(x)
    assert seen == [False]
    with torch.profiler.profile():
        assert not direct_cpu(x)
    assert direct_cpu(x)  # nothing left switched on


def _w4_weight(fmt="int4:g128:asym", n=24, k=256):
    torch.manual_seed(0)
    return qkern.ops.prepack(qkern.ops.quantize(torch.randn(n, k), fmt), "cpu")


# (public call, op name seen by the dispatcher, CPU implementation the direct path runs)
def _calls():
    p = _w4_weight()
    q = qkern.ops.quantize(torch.randn(24, 256), "mxfp4")
    x = torch.randn(3, 256, dtype=torch.bfloat16)
    signs = torch.where(torch.rand(256) < 0.5, -1.0, 1.0)
    bias = torch.randn(24, dtype=torch.bfloat16)
    return [
        (lambda: qkern.ops.w4a16_linear(x, p, bias), "qkern.w4a16_linear_prepacked", gemm,
         "_linear_prepacked_weight_cpu"),
        (lambda: qkern.ops.w4a16_linear(x, q), "qkern.w4a16_linear", gemm, "_linear_cpu"),
        (lambda: qkern.ops.hadamard(x, signs=signs), "qkern.hadamard", had_ops, "_hadamard_cpu"),
        (lambda: qkern.ops.hadamard_(x.clone(), signs=signs), "qkern.hadamard_", had_ops, "_hadamard_inplace_cpu"),
        (lambda: qkern.ops.hadamard_quantize(x, "nvfp4", signs=signs).qdata, "qkern.hadamard_quantize",
         had_ops, "_hadamard_quantize_cpu"),
        (lambda: qkern.ops.quantize(x, "int4:g32:asym").zero, "qkern.quantize", formats, "_quantize_cpu"),
        (lambda: qkern.ops.dequantize(q, torch.bfloat16), "qkern.dequantize", formats, "_dequantize_cpu"),
        (lambda: qkern.ops.dequantize(q, out=torch.empty(24, 256)), "qkern.dequantize_into", formats,
         "_dequantize_into_cpu"),
    ]


@pytest.mark.parametrize("case", range(8))
def test_direct_and_dispatched_paths_agree(case, monkeypatch):
    call, op_name, module, impl_name = _calls()[case]
    impl = getattr(module, impl_name)
    direct_calls = []

    def spy(*args):
        direct_calls.append(1)
        return impl(*args)

    monkeypatch.setattr(module, impl_name, spy)
    direct = call()
    assert direct_calls == [1]  # eager: the implementation ran without the dispatcher

    mode = _LogDispatch()
    with mode:
        dispatched = call()
    assert direct_calls == [1] and any(op_name in o for o in mode.ops), mode.ops
    assert torch.equal(direct, dispatched)

    with torch.profiler.profile() as prof:
        profiled = call()
    assert direct_calls == [1]
    assert any(op_name.replace(".", "::") in e.name for e in prof.events())
    assert torch.equal(direct, profiled)


def test_autograd_still_goes_through_the_dispatcher():
    x = torch.randn(2, 64, requires_grad=True)
    y = qkern.ops.hadamard(x)
    assert y.grad_fn is not None
    y.sum().backward()
    torch.testing.assert_close(x.grad, qkern.ops.hadamard(torch.ones(2, 64), transpose=True))
    # w4a16 with a bias that requires grad: as the op itself behaves through torch.ops
    p = _w4_weight("int4:g128:sym", 16, 128)
    bias = torch.zeros(16, requires_grad=True)
    xw = torch.randn(2, 128)
    public = qkern.ops.w4a16_linear(xw, p, bias)
    via_op = torch.ops.qkern.w4a16_linear_prepacked(xw, p.packed, p.scale, p.zero, p.global_scale, p.perm, bias,
                                                    p.fmt.spec, p.layout, *p.shape)
    assert public.requires_grad == via_op.requires_grad
    torch.testing.assert_close(public, via_op, rtol=0, atol=0)
