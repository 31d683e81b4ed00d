#!/bin/sh
# Checks that the C++ sources are formatted as .clang-format says (changes nothing): lists each
# file clang-format would change and exits non-zero if there is one. To format them instead:
#   clang-format -i $(git ls-files 'native/*.cpp' 'native/*.h' 'binding/*.cpp' 'binding/*.h' 'test/native/*.cpp' 'test/native/*.h')
set -eu
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null 2>&1 || { echo "format-check: clang-format not found (Debian/Ubuntu: sudo apt-get install clang-format)" >&2; exit 2; }
files=$(git ls-files 'native/*.cpp' 'native/*.h' 'binding/*.cpp' 'binding/*.h' 'test/native/*.cpp' 'test/native/*.h')
# shellcheck disable=SC2086  # one word per file (no spaces in these paths)
clang-format --dry-run -Werror $files
echo "format-check: $(echo "$files" | wc -w) C++ files formatted as .clang-format says"
