// Each kernel family binds its entry points in its own file and registers them here.
// Entry points take raw data pointers (integers), sizes and dtype codes: the extension
// never links libtorch (DESIGN.md section 3); the Python layer validates and allocates.
#pragma once
#include <pybind11/pybind11.h>

#include "qkern/status.h"

namespace qkern::bindings {

namespace py = pybind11;

void register_runtime(py::module_& m);
void register_formats(py::module_& m);
void register_hadamard(py::module_& m);

// Turns a non-OK status into ValueError (bad argument) or RuntimeError, naming the kernel.
void check_status(Status s, const char* kernel);

template <class T = void>
T* ptr(uintptr_t address) { return reinterpret_cast<T*>(address); }

}  // namespace qkern::bindings
