// Status codes returned by every C++ and CUDA entry point. The Python layer turns a
// non-OK status into an exception naming the kernel (bindings/status.cpp).
#pragma once

namespace qkern {

enum class Status : int {
  kOk = 0,
  kInvalidArgument = 1,  // a size, dtype or format code the kernel does not accept
  kUnsupported = 2,      // a valid request this build or device cannot serve
  kCudaError = 3,        // the CUDA runtime reported an error
};

inline const char* status_name(Status s) {
  switch (s) {
    case Status::kOk: return "ok";
    case Status::kInvalidArgument: return "invalid argument";
    case Status::kUnsupported: return "unsupported";
    case Status::kCudaError: return "CUDA error";
  }
  return "unknown status";
}

}  // namespace qkern
