#!/usr/bin/env bash
# Builds PocketNN.xcframework (static libraries for iOS devices and the arm64 simulator,
# the header and its module map) on macOS with Xcode's command-line tools.
#   bash bindings/apple/build_xcframework.sh [OUT_DIR]   (default build/apple)
# Not run on this project's Linux CI (no Xcode there); docs/MOBILE.md says what was
# checked: the header and module map through clang's module build, the aarch64 kernels
# under qemu.
set -euo pipefail
if [[ "$(uname -s)" != Darwin ]] || ! command -v xcodebuild >/dev/null; then
  echo "build_xcframework.sh needs macOS with Xcode (xcodebuild); this is $(uname -s)" >&2
  exit 2
fi
REPO=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$(mkdir -p "${1:-$REPO/build/apple}" && cd "${1:-$REPO/build/apple}" && pwd)
DEPLOYMENT_TARGET=${IOS_DEPLOYMENT_TARGET:-13.0}

build_static() {  # $1 = sdk (iphoneos | iphonesimulator)
  cmake -S "$REPO" -B "$OUT/build-$1" -G Xcode -DCMAKE_SYSTEM_NAME=iOS \
    -DCMAKE_OSX_ARCHITECTURES=arm64 -DCMAKE_OSX_SYSROOT="$1" \
    -DCMAKE_OSX_DEPLOYMENT_TARGET="$DEPLOYMENT_TARGET" \
    -DPOCKETNN_BUILD_TESTS=OFF -DPOCKETNN_INSTALL=OFF
  cmake --build "$OUT/build-$1" --config Release --target pocketnn -- -sdk "$1"
}

build_static iphoneos
build_static iphonesimulator
rm -rf "$OUT/headers" "$OUT/PocketNN.xcframework"
mkdir -p "$OUT/headers"
cp "$REPO/runtime/include/pocketnn.h" "$REPO/bindings/apple/module.modulemap" "$OUT/headers/"
xcodebuild -create-xcframework \
  -library "$OUT/build-iphoneos/Release-iphoneos/libpocketnn.a" -headers "$OUT/headers" \
  -library "$OUT/build-iphonesimulator/Release-iphonesimulator/libpocketnn.a" -headers "$OUT/headers" \
  -output "$OUT/PocketNN.xcframework"
echo "wrote $OUT/PocketNN.xcframework"
