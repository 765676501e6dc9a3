// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The maps of shared_maps.bpf.h and nothing else: user space loads this
 * object first, which creates them (no program, so no verifier), then
 * hands them to the probe objects, which it loads side by side.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "shared_maps.bpf.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";
