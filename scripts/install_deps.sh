#!/bin/sh
# Install the Debian packages memtrace's build, demo and tests need, if any
# is missing. Needs root (these machines run as root and have no sudo).
set -eu

PKGS="make gcc clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev pkg-config \
libcriterion-dev python3 python3-pytest gdb"

if [ "$(id -u)" != 0 ]; then
	echo "memtrace: installing packages and loading BPF probes needs root." >&2
	echo "Run this as root (for example: sudo make test, or su -c 'make test')." >&2
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
