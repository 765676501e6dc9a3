# memtrace build.
#   make            the memtrace binary (BPF objects, skeletons, user space)
#   make asan       the same with AddressSanitizer and UBSan, as build/asan/memtrace
#   make unit       the unit tests under ASan/UBSan: no root, no BPF, no packages installed
#   make fuzz       every fuzz harness (clang libFuzzer) for FUZZ_SECONDS each
#   make test       install what is missing, build, run every test (needs root)
#   make demo       install what is missing, build, trace a small leaking program
#   make deps       install the Debian packages the build and tests need
#
# Every object depends on the headers it includes, as the compiler saw them
# (-MMD -MP writes build/**/*.d); a recipe that fails deletes its half-written
# target (.DELETE_ON_ERROR), and skeletons are kept, not treated as
# intermediates (.SECONDARY), so what is up to date really is.

CC       ?= gcc
CLANG    ?= clang
BPFTOOL  ?= bpftool
VERSION  := 0.1.0

OUT      ?= build
ARCH     := x86

# CFLAGS is the user's to set (make asan sets it); the project's own flags
# are always added.
CFLAGS   ?= -O2 -g
DEPFLAGS  = -MMD -MP
MT_CFLAGS := -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter \
	     -D_GNU_SOURCE -DMEMTRACE_VERSION=\"$(VERSION)\"
INCLUDES := -Iinclude -Iuser -I$(OUT)
LDLIBS   := -lbpf -ldw -lelf -lz -lm -lcapstone -liberty -ldl -lpthread

BPF_CFLAGS := -target bpf -g -O2 -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
	      -Ivmlinux/$(ARCH) -Iinclude -Ibpf

BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(patsubst bpf/%.bpf.c,$(OUT)/%.bpf.o,$(BPF_SRCS))
SKELS     := $(patsubst bpf/%.bpf.c,$(OUT)/%.skel.h,$(BPF_SRCS))

# Everything in user/ but main.c is a library the unit tests link against.
USER_SRCS := $(filter-out user/main.c,$(shell find user -name '*.c' | sort))
USER_OBJS := $(patsubst user/%.c,$(OUT)/user/%.o,$(USER_SRCS))

# tests/unit/ mirrors user/: tests/unit/unwind/test_unwind_table.c tests
# user/unwind/unwind_table.c and builds as build/tests/unwind/test_unwind_table.
UNIT_SRCS := $(shell find tests/unit -name 'test_*.c' | sort)
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUT)/tests/%,$(UNIT_SRCS))

# Test programs: built as a distro would, and with frame pointers so that
# the frame-pointer stack source can walk their own frames.
PROG_SRCS := $(wildcard tests/progs/*.c)
PROG_BINS := $(patsubst tests/progs/%.c,$(OUT)/progs/%,$(PROG_SRCS))
PROG_CFLAGS := -O1 -g -fno-omit-frame-pointer -fno-optimize-sibling-calls \
	       -fno-inline -Wall -Wextra -Werror -pthread
# ... and as distros build: no frame pointers anywhere, for the DWARF
# unwinder's tests (tests/progs/nofp/).
NOFP_SRCS := $(wildcard tests/progs/nofp/*.c tests/progs/nofp/*.cc)
NOFP_BINS := $(patsubst tests/progs/nofp/%,$(OUT)/progs/%,$(basename $(NOFP_SRCS)))
NOFP_CFLAGS := -O2 -g -fomit-frame-pointer -Wall -Wextra -Werror -pthread

.PHONY: all asan test unit integration demo deps bench clean vmlinux
.DELETE_ON_ERROR:
.SECONDARY:

# tests/progs/leaky.c again, linked with each other allocator that is
# installed (scripts/install_deps.sh installs them; the tests of one that
# is missing say so and skip): dynamically, and jemalloc statically too;
# and fully static, glibc's malloc in the executable.
ALLOC_LIBDIR := /usr/lib/x86_64-linux-gnu
ALLOC_BINS := $(if $(wildcard $(ALLOC_LIBDIR)/libjemalloc.so),$(OUT)/progs/leaky_jemalloc) \
	$(if $(wildcard $(ALLOC_LIBDIR)/libtcmalloc_minimal.so),$(OUT)/progs/leaky_tcmalloc) \
	$(if $(wildcard $(ALLOC_LIBDIR)/libmimalloc.so),$(OUT)/progs/leaky_mimalloc) \
	$(if $(wildcard $(ALLOC_LIBDIR)/libjemalloc_pic.a),$(OUT)/progs/leaky_jemalloc_static) \
	$(if $(wildcard $(ALLOC_LIBDIR)/libc.a),$(OUT)/progs/leaky_static)

all: memtrace $(PROG_BINS) $(NOFP_BINS) $(OUT)/progs/libplugin.so $(ALLOC_BINS) \
	$(OUT)/progs/libbumpalloc.so

memtrace: $(OUT)/memtrace
	cp $< $@

$(OUT)/memtrace: $(OUT)/user/main.o $(USER_OBJS)
	$(CC) $(CFLAGS) $(MT_CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(OUT)/%.bpf.o: bpf/%.bpf.c vmlinux/$(ARCH)/vmlinux.h | $(OUT)
	$(CLANG) $(BPF_CFLAGS) $(DEPFLAGS) -c $< -o $@
	llvm-strip -g $@ 2>/dev/null || true

$(OUT)/%.skel.h: $(OUT)/%.bpf.o
	$(BPFTOOL) gen skeleton $< > $@

# The kernel types the BPF objects relocate against, cut from this
# machine's kernel BTF (user/kernel_btf.h): cut again when an object
# changes, or when the machine has booted another kernel since (sysfs
# files are as new as the boot).
# (shared_maps holds maps only: nothing to relocate, and bpftool refuses
# an object without relocations.)
KERNEL_BTF_H := $(OUT)/kernel_btf_types.h
CORE_OBJS := $(filter-out $(OUT)/shared_maps.bpf.o,$(BPF_OBJS))
$(KERNEL_BTF_H): scripts/kernel_btf_header.sh $(CORE_OBJS) $(wildcard /sys/kernel/btf/vmlinux)
	scripts/kernel_btf_header.sh $(BPFTOOL) $@ $(CORE_OBJS)

# Scripts built into the SVG and HTML writers, as C string literals:
# user/report/flame_svg.js is build/report/flame_svg.js.h.
GEN_JS := $(patsubst user/%.js,$(OUT)/%.js.h,$(shell find user -name '*.js' | sort))
$(OUT)/%.js.h: user/%.js
	@mkdir -p $(@D)
	sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' $< > $@

# The skeletons and scripts must exist before the first compile; after it,
# the .d file names the ones each object really includes.
$(OUT)/user/%.o: user/%.c | $(SKELS) $(GEN_JS) $(KERNEL_BTF_H)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(MT_CFLAGS) $(DEPFLAGS) $(INCLUDES) -c $< -o $@

$(OUT)/tests/%: tests/unit/%.c $(USER_OBJS) | $(SKELS) $(GEN_JS) $(KERNEL_BTF_H)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(MT_CFLAGS) $(DEPFLAGS) $(LDFLAGS) $(INCLUDES) $< $(USER_OBJS) $(LDLIBS) -lcriterion -o $@

$(OUT)/progs/%: tests/progs/%.c | $(OUT)/progs
	$(CC) $(PROG_CFLAGS) $< -o $@ -ldl

$(OUT)/progs/%: tests/progs/nofp/%.c | $(OUT)/progs
	$(CC) $(NOFP_CFLAGS) $< -o $@ -ldl

$(OUT)/progs/%: tests/progs/nofp/%.cc | $(OUT)/progs
	$(CXX) $(NOFP_CFLAGS) $< -o $@

$(OUT)/progs/leaky_jemalloc: tests/progs/leaky.c | $(OUT)/progs
	$(CC) $(PROG_CFLAGS) $< -o $@ -ldl -ljemalloc

$(OUT)/progs/leaky_tcmalloc: tests/progs/leaky.c | $(OUT)/progs
	$(CC) $(PROG_CFLAGS) $< -o $@ -ldl -ltcmalloc_minimal

$(OUT)/progs/leaky_mimalloc: tests/progs/leaky.c | $(OUT)/progs
	$(CC) $(PROG_CFLAGS) $< -o $@ -ldl -lmimalloc

# A fully static program: glibc's malloc is in the executable.
$(OUT)/progs/leaky_static: tests/progs/leaky.c | $(OUT)/progs
	$(CC) $(PROG_CFLAGS) -static $< -o $@ -ldl

# jemalloc's C++ operators need libstdc++.
$(OUT)/progs/leaky_jemalloc_static: tests/progs/leaky.c | $(OUT)/progs
	$(CC) $(PROG_CFLAGS) $< -o $@ $(ALLOC_LIBDIR)/libjemalloc_pic.a -ldl -lm -lstdc++

$(OUT)/progs/lib%.so: tests/progs/nofp/lib/%.c | $(OUT)/progs
	$(CC) $(NOFP_CFLAGS) -shared -fPIC $< -o $@

$(OUT) $(OUT)/progs:
	mkdir -p $@

# Fuzzing with clang's libFuzzer, under ASan/UBSan: one harness per parser
# of what a traced process controls (tests/fuzz/fuzz_NAME.c), each with its
# seed corpus (tests/fuzz/corpus/NAME/). `make fuzz` runs each for
# FUZZ_SECONDS; `make test` runs each for 20 s (scripts/run_fuzz.sh).
FUZZ_CC      ?= clang
FUZZ_OUT     := build/fuzz
FUZZ_SECONDS ?= 120
FUZZ_CFLAGS  := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
		-fno-sanitize-recover=undefined
FUZZ_SRCS    := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS    := $(patsubst tests/fuzz/%.c,$(FUZZ_OUT)/%,$(FUZZ_SRCS))
FUZZ_OBJS    := $(patsubst user/%.c,$(FUZZ_OUT)/user/%.o,$(USER_SRCS))

$(FUZZ_OUT)/user/%.o: user/%.c | $(SKELS) $(KERNEL_BTF_H)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(MT_CFLAGS) $(DEPFLAGS) \
		$(INCLUDES) -c $< -o $@

$(FUZZ_OUT)/libmemtrace.a: $(FUZZ_OBJS)
	rm -f $@
	ar rcs $@ $^

$(FUZZ_OUT)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OUT)/libmemtrace.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(MT_CFLAGS) $(DEPFLAGS) $(INCLUDES) \
		-Itests/fuzz $< $(FUZZ_OUT)/libmemtrace.a $(LDLIBS) -o $@

.PHONY: fuzz fuzz-build
fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	@scripts/run_fuzz.sh $(FUZZ_SECONDS) $(FUZZ_BINS)

-include $(wildcard $(USER_OBJS:.o=.d) $(OUT)/user/main.d $(BPF_OBJS:.o=.d) $(UNIT_BINS:=.d) \
	   $(FUZZ_OBJS:.o=.d) $(FUZZ_BINS:=.d))

# Sanitizer build: a separate tree so it never mixes with the normal objects.
ASAN_FLAGS := OUT=build/asan CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer" \
	      LDFLAGS="-fsanitize=address,undefined"
asan:
	$(MAKE) $(ASAN_FLAGS) build/asan/memtrace $(patsubst $(OUT)/%,build/asan/%,$(UNIT_BINS))

deps:
	@scripts/install_deps.sh

# The unit tests read files and their own child processes only: they run as
# any user, under the sanitizers.
unit:
	@$(MAKE) -s $(ASAN_FLAGS) $(patsubst $(OUT)/%,build/asan/%,$(UNIT_BINS))
	@scripts/run_unit.sh build/asan/tests

integration: all
	python3 -m pytest -v tests/integration

test:
	@scripts/run_tests.sh

demo:
	@scripts/demo.sh

bench: all
	scripts/bench_overhead.sh

vmlinux:
	scripts/gen_vmlinux_h.sh

clean:
	rm -rf build memtrace
