#!/usr/bin/env bash
# Runs "$@" as on a bare machine: in a private mount namespace where /usr/share/datasets, every
# pkg-config directory holding openblas.pc and every directory holding Open MPI's mpi.h are covered
# by an empty directory, so CMake finds no OpenBLAS (portable GEMM) and no MPI (no data-parallel
# training), and the data lookup finds no Fashion-MNIST (synthetic fallback). The
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
for h in /usr/lib/*/openmpi/include/mpi.h /usr/include/*/openmpi/mpi.h /usr/include/openmpi*/mpi.h /usr/include/mpi.h \
  /usr/local/include/mpi.h; do
  [[ -e "$h" ]] || continue
  d=$(dirname "$h")
  [[ " ${hide[*]} " == *" $d "* ]] || hide+=("$d")
done
for d in "${hide[@]}"; do mount --bind "$empty" "$d"; done
# The MPI compiler wrappers (from libopenmpi-dev) answer as if they were not installed.
missing="$empty.wrapper"
printf '#!/bin/sh\nexit 127\n' > "$missing"
chmod +x "$missing"
wrappers=()
for w in /usr/bin/mpicxx /usr/bin/mpic++ /usr/bin/mpiCC /usr/bin/mpicxx.openmpi /usr/bin/mpic++.openmpi /usr/bin/mpiCC.openmpi; do
  [[ -e "$w" ]] && { mount --bind "$missing" "$w"; wrappers+=("$w"); }
done
# Say what is hidden, and check that it really is.
echo "bare: hidden ${hide[*]:-nothing} ${wrappers[*]:-}" >&2
if pkg-config --exists openblas 2>/dev/null; then echo "bare: pkg-config still finds openblas" >&2; exit 1; fi
exec "$@"
