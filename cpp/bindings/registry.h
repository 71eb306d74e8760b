// Each kernel family binds its entry points in its own file and registers them here.
// Entry points take raw data pointers (integers), sizes and dtype codes: the extension
// never links libtorch (DESIGN.md section 3); the Python layer validates and allocates.
#pragma once
#include <pybind11/pybind11.h>

#include <stdexcept>
#include <string>

#include "qkern/status.h"

namespace qkern::bindings {

namespace py = pybind11;

void register_runtime(py::module_& m);
void register_formats(py::module_& m);
void register_hadamard(py::module_& m);
void register_gemm(py::module_& m);

// Turns a non-OK status into ValueError (bad argument) or RuntimeError, naming the kernel.
void check_status(Status s, const char* kernel);

// The exception of a non-OK status: ValueError for a bad argument or an unsupported
// request, RuntimeError otherwise.
[[noreturn]] inline void throw_status(Status s, const std::string& msg) {
  if (s == Status::kInvalidArgument || s == Status::kUnsupported) throw py::value_error(msg);
  throw std::runtime_error(msg);
}

// check_status for the backend modules: `detail()` (called only on failure) adds text such
// as the emulator's message.
template <class Detail>
void check_status_detail(Status s, const char* kernel, const Detail& detail) {
  if (s == Status::kOk) return;
  const std::string d = detail();
  throw_status(s, std::string("qkern kernel '") + kernel + "' failed: " + status_name(s) + (d.empty() ? "" : ": " + d));
}

template <class T = void>
T* ptr(uintptr_t address) { return reinterpret_cast<T*>(address); }

}  // namespace qkern::bindings
