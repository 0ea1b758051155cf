# Cross toolchain for aarch64 Linux (Debian: gcc-aarch64-linux-gnu, qemu-user).
#   cmake -S . -B /tmp/build-a64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
#   cmake --build /tmp/build-a64 -j2 && ctest --test-dir /tmp/build-a64
# ctest runs the test programs through qemu-aarch64 (there is no binfmt handler).
#
# Baseline ARMv8-A on purpose: NEON (Advanced SIMD) is part of it, and the f32 kernels
# need nothing more. Optional extensions (dotprod for the integer kernels) belong in
# per-function target attributes chosen at run time, so the library still runs on
# cores without them (e.g. Cortex-A53).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_C_FLAGS_INIT "-march=armv8-a")

set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

set(CMAKE_CROSSCOMPILING_EMULATOR "qemu-aarch64;-L;/usr/aarch64-linux-gnu")
