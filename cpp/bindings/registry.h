// Each kernel family binds its entry points in its own file and registers them here.
// Entry points take raw data pointers (integers), sizes and dtype codes: the extension
// never links libtorch (DESIGN.md section 3); the Python layer validates and allocates.
#pragma once
#include <pybind11/pybind11.h>

#include <initializer_list>
#include <stdexcept>
#include <string>
#include <utility>

#include "qkern/status.h"

namespace qkern::bindings {

namespace py = pybind11;

void register_runtime(py::module_& m);
void register_formats(py::module_& m);
void register_hadamard(py::module_& m);
void register_gemm(py::module_& m);

// The exception of a non-OK status: ValueError for a bad argument or an unsupported
// request, RuntimeError otherwise.
[[noreturn]] inline void throw_status(Status s, const std::string& msg) {
  if (s == Status::kInvalidArgument || s == Status::kUnsupported) throw py::value_error(msg);
  throw std::runtime_error(msg);
}

inline std::string no_detail() { return {}; }

// Runs fn() -> Status with the GIL released and turns a non-OK status into the exception
// of throw_status, naming the kernel; `detail()` (called only on failure) adds text such as
// the emulator's or the CUDA launch's message.
template <class Fn, class Detail = std::string (*)()>
void run_kernel(const char* kernel, Fn fn, const Detail& detail = no_detail) {
  Status s;
  {
    py::gil_scoped_release nogil;
    s = fn();
  }
  if (s == Status::kOk) return;
  const std::string d = detail();
  throw_status(s, std::string("qkern kernel '") + kernel + "' failed: " + status_name(s) + (d.empty() ? "" : ": " + d));
}

// {name: value} of a struct's fields.
template <class T>
py::dict fields(std::initializer_list<std::pair<const char*, T>> kv) {
  py::dict d;
  for (const auto& [name, value] : kv) d[name] = value;
  return d;
}

template <class T = void>
T* ptr(uintptr_t address) { return reinterpret_cast<T*>(address); }

}  // namespace qkern::bindings
