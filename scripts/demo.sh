#!/bin/sh
# The README's demo command (make demo): install what is missing, build,
# and trace the bundled leaking service for a few seconds.
set -eu
cd "$(dirname "$0")/.."
scripts/install_deps.sh "make demo"
make -s all
echo "== memtrace -i 2 -n 5 -- build/progs/demo_service 6"
./memtrace -i 2 -n 5 --folded build/demo.folded --json build/demo.json \
	--flamegraph build/demo.svg --html build/demo.html \
	-- build/progs/demo_service 6
echo
echo "pictures, to open in any browser: build/demo.html (memory over time, top stacks,"
echo "flame graph) and build/demo.svg (the flame graph alone);"
echo "folded stacks: build/demo.folded; JSON reports: build/demo.json"
