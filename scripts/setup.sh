#!/usr/bin/env bash
# npm run setup: everything a fresh Debian/Ubuntu checkout needs, then the paper's experiments.
#
#   bash scripts/setup.sh [--check] [--no-start]
#
# 1. System packages: the compiler and build tools, OpenBLAS (full speed) and Debian's
#    Fashion-MNIST (the data E2 and E3 need to say anything about the paper). Missing ones are
#    installed with apt-get as root, or through sudo when it works without a password prompt.
#    Without those rights it names what is missing and the command that installs it, and goes on:
#    without OpenBLAS the addon builds with the portable GEMM (several times slower); without
#    Fashion-MNIST, E2 and E3 run on a synthetic stand-in and their verdicts are "uninformative".
#    Only a missing compiler or cmake stops it (nothing can be built then).
# 2. npm install (builds the addon, compiles the TypeScript), then npm start (E1–E3, the report).
#
# --check     only say what is missing and what would be done; install and run nothing
# --no-start  stop after npm install (CI, or to run other commands first)
set -euo pipefail
cd "$(dirname "$0")/.."

check=0
start=1
for a in "$@"; do
  case "$a" in
    --check) check=1 ;;
    --no-start) start=0 ;;
    -h | --help)
      sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "setup: unknown option $a (options: --check, --no-start)" >&2
      exit 2
      ;;
  esac
done

say() { echo "setup: $*"; }

# What each package is for; BUILD ones are required, the others degrade gracefully.
BUILD=(g++ make cmake)
FULL=(pkg-config libopenblas-dev dataset-fashion-mnist)
declare -A WHY=(
  [g++]="the C++ compiler (required: builds the native addon)"
  [make]="the build tool cmake drives (required)"
  [cmake]="configures the native build (required)"
  [pkg-config]="lets the build find OpenBLAS"
  [libopenblas-dev]="OpenBLAS, several times faster than the portable GEMM"
  [dataset-fashion-mnist]="Fashion-MNIST, the data E2 and E3 need to test the paper (without it they run on synthetic data)"
)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for p in "${BUILD[@]}" "${FULL[@]}"; do installed "$p" || missing+=("$p"); done
else
  say "not a Debian/Ubuntu system (no dpkg-query): install a C++17 compiler, make, cmake, pkg-config and OpenBLAS"
  say "with your package manager, and put Fashion-MNIST's four .gz files in ~/.cache/bigstep/fashion-mnist/ (docs/data.md)"
fi

# How to run apt-get: as root, or through sudo when it works without a password; else not at all.
as=none
if [[ "$(id -u)" == 0 ]]; then
  as=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as="sudo"
fi

if ((${#missing[@]} == 0)); then
  command -v dpkg-query >/dev/null 2>&1 && say "system packages: all there (${BUILD[*]} ${FULL[*]})"
elif [[ "$as" == none ]]; then
  say "cannot install system packages (not root, and sudo is missing or asks for a password). Missing:"
  for p in "${missing[@]}"; do say "  $p: ${WHY[$p]}"; done
  say "install them with:  sudo apt-get update && sudo apt-get install -y ${missing[*]}"
  say "then run npm run setup again. Going on with what is there."
elif ((check)); then
  say "would install with ${as:-root} apt-get: ${missing[*]}"
else
  say "installing ${missing[*]} (apt-get${as:+ through sudo})"
  export DEBIAN_FRONTEND=noninteractive
  $as apt-get update -qq || say "apt-get update failed; trying the install with the package lists there are"
  if ! $as apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
    # One at a time, so that one unavailable package (e.g. no dataset-fashion-mnist on an older
    # release) does not keep the others out.
    for p in "${missing[@]}"; do
      $as apt-get install -y -qq --no-install-recommends "$p" >/dev/null 2>&1 || say "could not install $p (${WHY[$p]})"
    done
  fi
  still=()
  for p in "${missing[@]}"; do installed "$p" || still+=("$p"); done
  missing=("${still[@]}")
  ((${#missing[@]} == 0)) && say "system packages installed"
fi

# What the build and the runs will do with what is there now.
have() { command -v "$1" >/dev/null 2>&1; }
nobuild=()
have g++ || have c++ || nobuild+=(g++)
have cmake || nobuild+=(cmake)
have make || have ninja || nobuild+=(make)
if ((${#nobuild[@]} > 0)) && ((!check)); then
  say "cannot build the native addon without ${nobuild[*]}: sudo apt-get install -y ${nobuild[*]}" >&2
  exit 1
fi
if have pkg-config && pkg-config --exists openblas 2>/dev/null; then
  say "BLAS: OpenBLAS $(pkg-config --modversion openblas)"
else
  say "BLAS: none found; the addon builds with the portable GEMM (several times slower). For full speed: sudo apt-get install -y libopenblas-dev pkg-config"
fi
# The places src/data/locate.ts looks (BIGSTEP_DATA, else the cache, then Debian's directory).
root="${BIGSTEP_DATA:-${XDG_CACHE_HOME:-$HOME/.cache}/bigstep}"
fm=""
for d in "$root/fashion-mnist" /usr/share/datasets/fashion-mnist; do
  [[ -e "$d/train-images-idx3-ubyte.gz" || -e "$d/train-images-idx3-ubyte" ]] && { fm="$d"; break; }
done
if [[ -n "$fm" ]]; then
  say "data: Fashion-MNIST in $fm"
else
  say "data: no Fashion-MNIST found; E2 and E3 will run on synthetic data and make no verdict about the paper. To get it: sudo apt-get install -y dataset-fashion-mnist"
fi

if ((check)); then
  say "would run: npm install, then $( ((start)) && echo 'npm start' || echo 'nothing else (--no-start)')"
  exit 0
fi

say "npm install (builds the addon and the TypeScript)"
npm install --no-audit --no-fund
if ((start)); then
  say "npm start (E1–E3 at quick size, then the report)"
  npm start
fi
