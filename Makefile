# kforensics — one non-recursive GNU Makefile.
#   make            build every tool into bin/
#   make test       install what is missing, build, run every test (prints "N passed, N failed")
#   make demo       install what is missing, build, run the pipeline on bundled sample data
#   make SANITIZE=1 ...   the same with ASan+UBSan (separate build folder, build-san/)
#   make fuzz-smoke run each fuzz target for a short time
#   make fuzz-long  run each fuzz target for 10 minutes (KF_FUZZ_SECONDS), not part of make test
#   make install PREFIX=/usr/local   (tools, man pages, docs, bash completion); make uninstall
#   make docs       regenerate what the docs and man kdissect say from the field registry and the
#                   dissector table (committed; tests/bats/fields.bats fails while they are stale)
# Adding a file needs no edit here: lib/*.c form libkf.a, tools/<tool>/**/*.c form bin/<tool>
# (tools/common/*.c are linked into every tool), tests/unit/test_*.c are unit tests,
# tests/fuzz/fuzz_*.c fuzz targets, bpf/*.bpf.c become build/<name>.skel.h.

SHELL    := /bin/bash
CC       ?= cc
CLANG    ?= clang
BPFTOOL  ?= bpftool
PREFIX   ?= /usr/local
SANITIZE ?= 0

ifeq ($(SANITIZE),1)
BUILD    := build-san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD    := build
SANFLAGS :=
endif
BIN      := $(BUILD)/bin
ifeq ($(SANITIZE),0)
BIN      := bin
endif

OPT      ?= -O2
CFLAGS   ?= $(OPT) -g
CFLAGS   += -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
            -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -Ilib -Ilib/kfl -Itools/common -I$(BUILD)/gen $(SANFLAGS) -MMD -MP
LDFLAGS  += $(SANFLAGS)
LDLIBS   := -lpcap -lbpf -lelf -larchive -ljansson -lz -lcrypto -lm -lpthread

ARCH     := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
MULTIARCH:= $(shell $(CC) -print-multiarch 2>/dev/null)

LIB_SRC    := $(sort $(wildcard lib/*.c))
LIB_OBJ    := $(LIB_SRC:%.c=$(BUILD)/%.o)
# KFL's engine (lexer, parser, checker, evaluator, scanner): its own archive, linked into every
# tool (kfl, kstat, …); fuzz targets and unit tests that need its internals #include its .c files
KFL_SRC    := $(sort $(wildcard lib/kfl/*.c))
KFL_OBJ    := $(KFL_SRC:%.c=$(BUILD)/%.o)
COMMON_SRC := $(sort $(wildcard tools/common/*.c))
COMMON_OBJ := $(COMMON_SRC:%.c=$(BUILD)/%.o)
TOOLS      := $(filter-out common,$(notdir $(patsubst %/,%,$(wildcard tools/*/))))
BPF_SRC    := $(sort $(wildcard bpf/*.bpf.c))
SKELS      := $(BPF_SRC:bpf/%.bpf.c=$(BUILD)/gen/%.skel.h)
UNIT_SRC   := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC   := $(sort $(wildcard tests/fuzz/fuzz_*.c))
TOOL_FILES := $(shell find tools lib/kfl -name '*.[ch]')
GEN_H      := $(BUILD)/gen/kfl_vars.h

.PHONY: all tools units test demo deps docs install uninstall clean fuzz fuzz-smoke fuzz-long bench
all: tools

deps:
	@scripts/install-deps

$(BUILD)/libkf.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^
$(BUILD)/libkfl.a: $(KFL_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/%.o: %.c | $(SKELS) $(GEN_H)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

# --- the field registry (docs/fields.tsv) -> kfl's variable table; the docs generated from it are
# committed and checked by tests/bats/fields.bats (scripts/fields docs regenerates them)
$(BUILD)/gen/kfl_vars.h: docs/fields.tsv scripts/fields
	@mkdir -p $(@D)
	scripts/fields gen-c $@

# --- docs: the field tables, docs/record.schema.json and every list of the dissectors (man kdissect,
# docs/dissectors.md, docs/schema-l7.md's generated sections, docs/kfl.md's flags) from the
# registry and from the dissector table as kdissect prints it (docs/dissectors.md: adding a protocol)
docs: $(BIN)/kdissect
	scripts/fields docs --kdissect $(BIN)/kdissect

# --- eBPF: bpf/x.bpf.c -> build/gen/x.skel.h (bpftool gen skeleton)
$(BUILD)/gen/vmlinux.h:
	@mkdir -p $(@D)
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@
$(BUILD)/gen/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h)
	@mkdir -p $(@D)
	$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Ibpf -I$(BUILD)/gen \
	  $(if $(MULTIARCH),-I/usr/include/$(MULTIARCH)) -c $< -o $@
$(BUILD)/gen/%.skel.h: $(BUILD)/gen/%.bpf.o
	$(BPFTOOL) gen skeleton $< > $@.tmp && mv $@.tmp $@

# --- tools
define tool_rule
$(1)_SRC := $$(shell find tools/$(1) -name '*.c' | sort)
$(1)_OBJ := $$($(1)_SRC:%.c=$(BUILD)/%.o)
$(BIN)/$(1): $$($(1)_OBJ) $(COMMON_OBJ) $(BUILD)/libkfl.a $(BUILD)/libkf.a
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) -o $$@ $$($(1)_OBJ) $(COMMON_OBJ) $(BUILD)/libkfl.a $(BUILD)/libkf.a $$(LDLIBS)
endef
$(foreach t,$(TOOLS),$(eval $(call tool_rule,$(t))))
tools: $(TOOLS:%=$(BIN)/%)

# --- unit tests (each tests/unit/test_x.c is a program printing TAP lines)
$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libkf.a tests/unit/t.h $(GEN_H)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(BUILD)/libkf.a $(LDFLAGS) $(LDLIBS)
# fuzz targets also build with the normal compiler against a replay driver, so every build
# (gcc, SANITIZE=1) runs their seed corpora as tests (tests/bats/fuzz_replay.bats)
REPLAY_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz-replay/%)
$(BUILD)/fuzz-replay/%: tests/fuzz/%.c tests/fuzz/replay_main.c $(BUILD)/libkf.a $(TOOL_FILES) $(GEN_H)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -DKF_FUZZ -o $@ $< tests/fuzz/replay_main.c $(BUILD)/libkf.a $(LDFLAGS) $(LDLIBS)
# fuzz_proto fuzzes every dissector of the table: it links kdissect's proto/*.c (objects here,
# sources for libFuzzer), so a new protocol file is in it without an edit
KD_PROTO_SRC := $(sort $(wildcard tools/kdissect/proto/*.c))
$(BUILD)/fuzz-replay/fuzz_proto: tests/fuzz/fuzz_proto.c tests/fuzz/replay_main.c $(KD_PROTO_SRC:%.c=$(BUILD)/%.o) $(BUILD)/libkf.a tests/l7/fake_engine.h tools/kdissect/engine_pend.c $(GEN_H)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -DKF_FUZZ -o $@ $< tests/fuzz/replay_main.c $(KD_PROTO_SRC:%.c=$(BUILD)/%.o) $(BUILD)/libkf.a $(LDFLAGS) $(LDLIBS)
units: $(UNIT_BIN) $(REPLAY_BIN)

test: deps
	@$(MAKE) --no-print-directory tools units
	@KF_BIN=$(abspath $(BIN)) KF_UNITS=$(abspath $(BUILD)/tests) KF_REPLAY=$(abspath $(BUILD)/fuzz-replay) tests/run.sh

demo: deps
	@$(MAKE) --no-print-directory tools
	@KF_BIN=$(abspath $(BIN)) scripts/demo

# --- fuzzing: libFuzzer with clang; the replay driver runs the seeds under any compiler
FUZZ_FLAGS := -std=gnu11 -g -O1 -D_GNU_SOURCE -Ilib -Ilib/kfl -Itools/common -I$(BUILD)/gen -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
# a target that needs a tool's code #includes that tool's .c files itself
$(BUILD)/fuzz/%: tests/fuzz/%.c $(LIB_SRC) $(TOOL_FILES) $(GEN_H) | $(SKELS)
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_FLAGS) -DKF_FUZZ -o $@ $< $(LIB_SRC) $(LDLIBS)
$(BUILD)/fuzz/fuzz_proto: tests/fuzz/fuzz_proto.c $(LIB_SRC) $(TOOL_FILES) $(GEN_H) | $(SKELS)
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_FLAGS) -DKF_FUZZ -o $@ $< $(KD_PROTO_SRC) $(LIB_SRC) $(LDLIBS)
fuzz: $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)
fuzz-smoke: deps fuzz
	@tests/fuzz/smoke.sh $(BUILD)/fuzz
fuzz-long: deps fuzz
	@tests/fuzz/long.sh $(BUILD)/fuzz

bench: tools
	@for b in bench/*.sh; do [ $$b = bench/lib.sh ] && continue; echo "== $$b"; KF_BIN=$(abspath $(BIN)) $$b || exit 1; done

# make install [PREFIX=/usr/local] [DESTDIR=…]: the tools, their man pages, the docs (docs/,
# README.md, deploy/) and bash completion for every tool in tools/ (one generated script; each
# tool's name links to it, as bash-completion loads completions by command name).
# make uninstall removes exactly those files.
DOCDIR  := $(PREFIX)/share/doc/kforensics
COMPDIR := $(PREFIX)/share/bash-completion/completions

install: tools
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(DOCDIR)/docs \
	  $(DESTDIR)$(DOCDIR)/deploy $(DESTDIR)$(COMPDIR)
	install -m 0755 $(TOOLS:%=$(BIN)/%) $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 $(wildcard man/*.1) $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 0644 README.md $(DESTDIR)$(DOCDIR)/
	install -m 0644 $(shell find docs -maxdepth 1 -type f) $(DESTDIR)$(DOCDIR)/docs/
	install -m 0644 $(wildcard deploy/*) $(DESTDIR)$(DOCDIR)/deploy/
	sed 's/^complete -F _kforensics .*/complete -F _kforensics $(TOOLS)/' scripts/kforensics-completion.bash \
	  > $(DESTDIR)$(COMPDIR)/kforensics && chmod 0644 $(DESTDIR)$(COMPDIR)/kforensics
	for t in $(TOOLS); do ln -sf kforensics $(DESTDIR)$(COMPDIR)/$$t; done

uninstall:
	rm -f $(TOOLS:%=$(DESTDIR)$(PREFIX)/bin/%) $(addprefix $(DESTDIR)$(PREFIX)/share/man/man1/,$(notdir $(wildcard man/*.1)))
	rm -f $(TOOLS:%=$(DESTDIR)$(COMPDIR)/%) $(DESTDIR)$(COMPDIR)/kforensics
	rm -rf $(DESTDIR)$(DOCDIR)

clean:
	rm -rf build build-san bin

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
