// Switch helpers: turn a run-time value into a compile-time one by calling f with a tag
// type; values that are not instantiated fail loudly (kInvalidArgument and a message in
// launch_error_message()), never fall through to a default kernel.
#pragma once
#include <string>

#include "cuda/common/launch_error.h"
#include "qkern/dtype.h"
#include "qkern/elements.h"
#include "qkern/formats.h"
#include "qkern/status.h"

namespace qkern {

// DTypeTag (qkern/elements.h, shared with the CPU kernels): DType as a type, ::value.
template <FormatKind kK>
struct KindTag {
  static constexpr FormatKind value = kK;
};

inline Status not_instantiated(const char* what, int value, const char* where) {
  return fail_with(Status::kInvalidArgument,
                   std::string(where) + ": " + what + " " + std::to_string(value) + " is not instantiated");
}

// f(DTypeTag<t>) for the float dtypes f32, f16, bf16.
template <class F>
Status switch_float_dtype(DType t, const char* where, F&& f) {
  switch (t) {
    case DType::kF32: return f(DTypeTag<DType::kF32>{});
    case DType::kF16: return f(DTypeTag<DType::kF16>{});
    case DType::kBF16: return f(DTypeTag<DType::kBF16>{});
    default: return not_instantiated("dtype", int(t), where);
  }
}

// f(KindTag<k>) for every format kind.
template <class F>
Status switch_format(FormatKind k, const char* where, F&& f) {
  switch (k) {
    case FormatKind::kInt4: return f(KindTag<FormatKind::kInt4>{});
    case FormatKind::kMxfp4: return f(KindTag<FormatKind::kMxfp4>{});
    case FormatKind::kNvfp4: return f(KindTag<FormatKind::kNvfp4>{});
    case FormatKind::kInt8: return f(KindTag<FormatKind::kInt8>{});
    case FormatKind::kFp8: return f(KindTag<FormatKind::kFp8>{});
  }
  return not_instantiated("format kind", int(k), where);
}

}  // namespace qkern
