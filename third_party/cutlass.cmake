# Locates the CUTLASS/CuTe headers of the `nvidia-cutlass` wheel (PyPI), installed in the
# Python environment that runs the build:
#   <site-packages>/cutlass_library/source/include/{cute,cutlass}
# Sets QKERN_CUTLASS_INCLUDE_DIR (empty when the wheel is missing) and, when found, the
# interface target qkern::cutlass. No CUTLASS code is copied into this repository.
if(NOT DEFINED QKERN_CUTLASS_INCLUDE_DIR OR QKERN_CUTLASS_INCLUDE_DIR STREQUAL "")
  execute_process(
    COMMAND "${Python_EXECUTABLE}" -c
            "import cutlass_library, os; print(os.path.join(os.path.dirname(cutlass_library.__file__), 'source', 'include'))"
    OUTPUT_VARIABLE _cutlass_inc OUTPUT_STRIP_TRAILING_WHITESPACE
    RESULT_VARIABLE _cutlass_rc ERROR_QUIET)
  if(_cutlass_rc EQUAL 0 AND EXISTS "${_cutlass_inc}/cute/tensor.hpp")
    set(QKERN_CUTLASS_INCLUDE_DIR "${_cutlass_inc}" CACHE PATH "CUTLASS/CuTe include dir (nvidia-cutlass wheel)")
  else()
    set(QKERN_CUTLASS_INCLUDE_DIR "" CACHE PATH "CUTLASS/CuTe include dir (nvidia-cutlass wheel)" FORCE)
  endif()
endif()
if(QKERN_CUTLASS_INCLUDE_DIR AND NOT TARGET qkern::cutlass)
  add_library(qkern_cutlass INTERFACE)
  target_include_directories(qkern_cutlass SYSTEM INTERFACE "${QKERN_CUTLASS_INCLUDE_DIR}")
  add_library(qkern::cutlass ALIAS qkern_cutlass)
  message(STATUS "qkern: CUTLASS/CuTe headers: ${QKERN_CUTLASS_INCLUDE_DIR}")
elseif(NOT QKERN_CUTLASS_INCLUDE_DIR)
  message(STATUS "qkern: CUTLASS/CuTe headers not found (pip install nvidia-cutlass)")
endif()
