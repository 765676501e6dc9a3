#!/bin/sh
# Regenerate vmlinux/x86/vmlinux.h from the running kernel's BTF.
# The header is committed so that a build does not depend on the build machine's kernel:
# CO-RE relocations adapt the compiled BPF programs to the kernel they load on.
set -eu
cd "$(dirname "$0")/.."
btf=${1:-/sys/kernel/btf/vmlinux}
[ -r "$btf" ] || { echo "gen_vmlinux_h: $btf not readable: this kernel has no BTF" >&2; exit 1; }
bpftool btf dump file "$btf" format c > vmlinux/x86/vmlinux.h.tmp
mv vmlinux/x86/vmlinux.h.tmp vmlinux/x86/vmlinux.h
echo "wrote vmlinux/x86/vmlinux.h from $btf"
