#!/usr/bin/env bash
# Runs "$@" as on a bare machine: in a private mount namespace where /usr/share/datasets and every
# pkg-config directory holding openblas.pc are covered by an empty directory, so CMake finds no
# OpenBLAS (portable GEMM) and the data lookup finds no Fashion-MNIST (synthetic fallback). The
# files stay on disk: the code under test takes its real lookup paths and finds nothing.
# Needs root (unshare -m, mount --bind). Nothing outside the namespace changes.
set -euo pipefail
if [[ "${BIGSTEP_BARE_NS:-}" != 1 ]]; then
  exec env BIGSTEP_BARE_NS=1 unshare --mount --propagation private bash "$0" "$@"
fi
empty=$(mktemp -d)
hide=()
[[ -d /usr/share/datasets ]] && hide+=(/usr/share/datasets)
for pc in /usr/lib/pkgconfig/openblas*.pc /usr/lib/*/pkgconfig/openblas*.pc /usr/lib/*/openblas*/pkgconfig/openblas*.pc \
  /usr/share/pkgconfig/openblas*.pc /usr/local/lib/pkgconfig/openblas*.pc /usr/local/lib/*/pkgconfig/openblas*.pc; do
  [[ -e "$pc" ]] || continue
  d=$(dirname "$pc")
  [[ " ${hide[*]} " == *" $d "* ]] || hide+=("$d")
done
for d in "${hide[@]}"; do mount --bind "$empty" "$d"; done
# Say what is hidden, and check that it really is.
echo "bare: hidden ${hide[*]:-nothing}" >&2
if pkg-config --exists openblas 2>/dev/null; then echo "bare: pkg-config still finds openblas" >&2; exit 1; fi
exec "$@"
