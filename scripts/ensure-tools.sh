# Sourced by scripts/test, scripts/run and scripts/run-example: makes sure the build tools are
# present, installing what is missing (Debian packages as root; Rust through rustup). The
# embedded engine builds llama.cpp from source: cmake, a C++ compiler and libclang (bindgen).

have() { command -v "$1" >/dev/null 2>&1; }

ensure_debian_packages() {
  local missing=()
  { have cc && have c++; } || missing+=(build-essential)
  have cmake || missing+=(cmake)
  { have clang && ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1; } || missing+=(clang libclang-dev)
  have python3 || missing+=(python3)
  python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
  have curl || missing+=(curl ca-certificates)
  # The offline-mode test runs the server in a network namespace (scripts/test).
  have ip || missing+=(iproute2)
  have unshare || missing+=(util-linux)
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" = 0 ] && have apt-get; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  else
    echo "switchyard: please install: ${missing[*]}" >&2
    return 1
  fi
}

ensure_rust() {
  [ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
  have cargo && return 0
  echo "switchyard: no Rust toolchain found; installing it with rustup" >&2
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --component rustfmt,clippy \
    || { echo "switchyard: could not install Rust; see https://rustup.rs" >&2; return 1; }
  . "$HOME/.cargo/env"
}

ensure_debian_packages
ensure_rust
