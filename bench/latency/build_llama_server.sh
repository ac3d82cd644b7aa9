#!/usr/bin/env bash
# Build llama.cpp's llama-server from the llama-cpp-python source distribution that matches the
# installed llama-cpp-python, so the peer runs the same llama.cpp as our in-process tier.
# Usage: bench/latency/build_llama_server.sh [SOURCE_DIR]
#   SOURCE_DIR: an extracted llama_cpp_python-<version> tree (default: downloaded into bench/.work)
# Env: PYTHON (default .venv/bin/python), JOBS (default 2), LLAMA_EXTRA_CMAKE (more -D flags).
# Prints the path of the built binary on its last line.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
JOBS="${JOBS:-2}"
WORK="$ROOT/bench/.work"
mkdir -p "$WORK"

VERSION="$("$PYTHON" -c 'import llama_cpp; print(llama_cpp.__version__)')"
SRC="${1:-$WORK/llama_cpp_python-$VERSION}"

if [[ ! -d "$SRC/vendor/llama.cpp" ]]; then
    echo "downloading llama-cpp-python==$VERSION source distribution" >&2
    "$PYTHON" -m pip download --no-deps --no-binary :all: "llama-cpp-python==$VERSION" \
        -d "$WORK/sdists" >&2
    tar -xzf "$WORK/sdists/llama_cpp_python-$VERSION.tar.gz" -C "$WORK"
    SRC="$WORK/llama_cpp_python-$VERSION"
fi

BUILD="$WORK/llama-server-build-$VERSION"
GEN=()
command -v ninja >/dev/null && GEN=(-G Ninja)
# shellcheck disable=SC2086
cmake -S "$SRC/vendor/llama.cpp" -B "$BUILD" "${GEN[@]}" \
    -DCMAKE_BUILD_TYPE=Release \
    -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_TOOLS=ON \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF \
    -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF \
    -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DGGML_NATIVE=ON \
    ${LLAMA_EXTRA_CMAKE:-} >&2
cmake --build "$BUILD" --target llama-server -j "$JOBS" >&2
echo "$BUILD/bin/llama-server"
