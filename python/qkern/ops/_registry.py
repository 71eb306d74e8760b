"""The torch.library namespace ``qkern`` and per-device registration.

Every op is defined once with ``Library.define`` (lower per-call overhead than the
custom_op decorator) and gets: a fake impl (torch.compile, opcheck), a CPU kernel, a CUDA
kernel when qkern._C_cuda provides one, and the pure-PyTorch reference for every other
device, which warns once per op and device type that it is the slow path.

The public functions (qkern.ops.w4a16_linear, hadamard, ...) call their op through
torch.ops, except where :func:`direct_cpu` says the dispatcher would do nothing but run
the CPU implementation: then they call it themselves (the dispatcher's boxing of the
arguments costs ~5 us a call, a third of a small layer's host time).
"""
from __future__ import annotations

import warnings
from typing import Callable, Optional

import torch

from .._ext import optional_module

lib = torch.library.Library("qkern", "DEF")

_is_compiling = torch.compiler.is_compiling
_function_mode_on = torch._C._is_torch_function_mode_enabled
_dispatch_modes = torch._C._len_torch_dispatch_stack
_functorch_layer = torch._C._functorch.peek_interpreter_stack
_profiling = torch._C._autograd._profiler_enabled
_jit_tracing = torch._C._get_tracing_state


# Types that dispatch like a plain tensor: nn.Parameter (a bias, say) has no
# __torch_dispatch__ and disables __torch_function__.
_PLAIN_TENSORS = (torch.Tensor, torch.nn.Parameter)


def direct_cpu(x, *others) -> bool:
    """Whether a call of an op on tensor ``x`` and the optional tensors ``others`` (None
    allowed) may run the op's CPU implementation directly: plain eager execution, where the
    dispatcher would run exactly that function and record nothing. False under
    torch.compile or torch.jit tracing, a TorchFunction or TorchDispatch mode (FakeTensor,
    FlopCounter, ...), a functorch transform (vmap, grad), the profiler (which names the
    op), for any argument that is not a plain CPU tensor (a subclass, another device,
    something else: the dispatcher routes or rejects it as before), and when autograd would
    track an input (the dispatcher records the backward, or the not-differentiable error)."""
    if (type(x) not in _PLAIN_TENSORS or not x.is_cpu or _is_compiling() or _function_mode_on()
            or _dispatch_modes() or _functorch_layer() is not None or _profiling()
            or _jit_tracing() is not None):
        return False
    grad = torch.is_grad_enabled()
    if grad and x.requires_grad:
        return False
    for t in others:
        if t is not None and (type(t) not in _PLAIN_TENSORS or not t.is_cpu or (grad and t.requires_grad)):
            return False
    return True


_warned: set = set()


def reference_fallback(name: str, reference: Callable) -> Callable:
    """``reference`` wrapped to warn once per (op, device type) that it is the slow path;
    also used by device impls whose compiled module failed to load (qkern._C_cuda)."""
    def impl(*args, **kwargs):
        device = next((a.device.type for a in args if isinstance(a, torch.Tensor)), "?")
        if (name, device) not in _warned:
            _warned.add((name, device))
            warnings.warn(f"qkern.{name}: no qkern kernel for device '{device}'; using the "
                          "pure-PyTorch reference (correct, slow)", stacklevel=3)
        return reference(*args, **kwargs)

    return impl


def register(name: str, schema: str, *, fake: Callable, cpu: Callable, reference: Callable,
             cuda: Optional[Callable] = None) -> None:
    """Define qkern::<name> with ``schema`` and its implementations."""
    lib.define(f"{name}{schema}")
    torch.library.register_fake(f"qkern::{name}", fake, lib=lib)
    lib.impl(name, cpu, "CPU")
    if cuda is not None:
        lib.impl(name, cuda, "CUDA")
    lib.impl(name, reference_fallback(name, reference), "CompositeExplicitAutograd")


def cuda_impl(name: str, reference, body):
    """The CUDA impl of op ``name``: body(module, stream, x, *args) with qkern._C_cuda on x's
    device, or ``reference`` (warning once) when _C_cuda is not built or does not load."""
    fallback = reference_fallback(name, reference)

    def impl(x, *args):
        mod = optional_module("_C_cuda")
        if mod is None:
            return fallback(x, *args)
        with torch.cuda.device(x.device):
            return body(mod, torch.cuda.current_stream(x.device).cuda_stream, x, *args)

    return impl
