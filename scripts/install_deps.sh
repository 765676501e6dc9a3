#!/bin/sh
# Usage: install_deps.sh [WHAT]   (WHAT names the command for messages)
# Install the Debian packages memtrace's build, demo and tests need, if any
# is missing. Needs root (these machines run as root and have no sudo).
# golang-go (go tool pprof) and chromium read memtrace's pprof profiles,
# flame graphs and HTML pages in the tests.
set -eu

PKGS="make gcc g++ clang llvm libbpf-dev bpftool libelf-dev libdw-dev zlib1g-dev pkg-config \
libcriterion-dev python3 python3-pytest gdb libc6-dbg binutils libcapstone-dev \
golang-go chromium libclang-rt-14-dev util-linux libiberty-dev libdebuginfod-dev debuginfod \
curl iproute2 libjemalloc2 libjemalloc-dev libtcmalloc-minimal4 libgoogle-perftools-dev \
libmimalloc2.0 libmimalloc-dev redis-server redis-tools"

if [ "$(id -u)" != 0 ]; then
	what=${1:-make test}
	echo "memtrace: '$what' installs packages and loads BPF probes: it needs root." >&2
	echo "Run it as root: sudo $what (or su -c '$what')." >&2
	exit 1
fi

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "installing:$missing"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
fi
