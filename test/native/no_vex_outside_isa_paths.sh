#!/bin/sh
# The addon must run on any x86-64 CPU: AVX / AVX-512 instructions may appear only in functions
# of an ISA path (namespace isa_avx2 / isa_avx512, or a *_avx2 / *_avx512 variant), which run only
# after CPU detection (native/isa.h). Disassembles the given object or archive and lists every
# other function that uses ymm/zmm registers or VEX-encoded scalar/packed float instructions.
# usage: no_vex_outside_isa_paths.sh <libbigstep_core.a or bigstep.node>
set -eu
objdump -d --no-show-raw-insn -C "$1" | awk '
  /^[0-9a-f]+ <.*>:$/ { fn = $0; next }
  fn != "" && (/%[yz]mm/ || /\tv[a-z0-9]+(ss|sd|ps|pd)[ \t]/ || /\tvfmadd/) {
    if (fn !~ /isa_avx2|isa_avx512|_avx2|_avx512/ && !(fn in seen)) { seen[fn] = 1; print "VEX code outside an ISA path: " fn; bad = 1 }
  }
  END { exit bad }'
echo "no VEX/EVEX code outside the ISA paths in $1"
