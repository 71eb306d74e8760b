// qkern._C: the CPU extension module.
#include "bindings/registry.h"

PYBIND11_MODULE(_C, m) {
  m.doc() = "qkern CPU kernels (no libtorch: pointers, sizes and dtype codes in, Status out)";
  qkern::bindings::register_runtime(m);
  qkern::bindings::register_formats(m);
  qkern::bindings::register_hadamard(m);
}
