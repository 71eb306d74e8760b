// The text behind a non-OK Status of a CUDA launcher (emulated or real), for the bindings'
// exception message. Host-only: included by launch.cuh and by the binding code.
#pragma once
#include <string>

namespace qkern {

// The message of the last failed launch on this OS thread; launchers clear it when a
// launch succeeds.
inline std::string& launch_error_message() {
  thread_local std::string msg;
  return msg;
}

// Returns s after recording why (for launchers rejecting a request before any launch).
template <class StatusT>
StatusT fail_with(StatusT s, std::string why) {
  launch_error_message() = std::move(why);
  return s;
}

}  // namespace qkern
