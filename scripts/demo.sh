#!/bin/sh
# The README's demo command (make demo): install what is missing, build,
# and trace the bundled leaking service for a few seconds.
set -eu
cd "$(dirname "$0")/.."
scripts/install_deps.sh "make demo"
make -s all
echo "== memtrace -i 2 -n 5 -- build/progs/demo_service 6"
./memtrace -i 2 -n 5 --folded build/demo.folded --json build/demo.json \
	-- build/progs/demo_service 6
echo
echo "folded stacks (flamegraph.pl input): build/demo.folded; JSON reports: build/demo.json"
