# vmon: `make` installs (as root) or names the build packages, then builds build/vmon; `make test`, `make run`, `make bench`, `make guest`.
BUILD   ?= build
CC      ?= gcc
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)

CFLAGS_BASE := -std=gnu17 -Wall -Wextra -Werror -pthread -Isrc -MMD -MP \
	-D_GNU_SOURCE -DVMON_VERSION='"$(VERSION)"'
OPT     ?= -O2 -g
CFLAGS  := $(CFLAGS_BASE) $(OPT) $(EXTRA_CFLAGS)
LDLIBS  := -pthread -llz4 -lzstd -llzma -lz -lbz2 -llzo2 -lslirp -lnbd -liscsi -lseccomp -lcap-ng -lhttp_parser -ljansson $(EXTRA_LDLIBS)

SRC      := $(shell find src -name '*.c' | sort)
LIB_SRC  := $(filter-out src/main.c,$(SRC))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

all: deps $(BUILD)/vmon

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libvmon.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/vmon: $(BUILD)/obj/src/main.o $(BUILD)/libvmon.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libvmon.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -o $@ $< $(BUILD)/libvmon.a -lcmocka $(LDLIBS)

unit: $(UNIT_BIN)

# Sanitizer build of the unit tests, in a directory of its own.
asan:
	$(MAKE) BUILD=$(BUILD)/asan OPT="-O1 -g -fno-omit-frame-pointer" \
		EXTRA_CFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all" \
		EXTRA_LDLIBS="-fsanitize=address,undefined" unit

# libFuzzer targets (clang): fuzz/fuzz_*.c, each linked with the sources.
FUZZ_SRC := $(sort $(wildcard fuzz/fuzz_*.c))
fuzz:
	$(MAKE) BUILD=$(BUILD)/fuzz CC=clang OPT="-O1 -g" \
		EXTRA_CFLAGS="-fsanitize=fuzzer-no-link,address,undefined -Wno-unknown-warning-option" \
		$(FUZZ_SRC:fuzz/%.c=$(BUILD)/fuzz/bin/%)

$(BUILD)/bin/fuzz_%: fuzz/fuzz_%.c $(BUILD)/libvmon.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fsanitize=fuzzer -o $@ $< $(BUILD)/libvmon.a $(LDLIBS) -fsanitize=fuzzer,address,undefined

guest-programs:
	$(MAKE) -C guest BUILD=$(abspath $(BUILD))/guest

deps:
	@scripts/deps.sh build

guest: deps
	@scripts/deps.sh guest
	scripts/guest-images.sh $(BUILD)/images

test: deps
	@scripts/deps.sh test
	scripts/test.sh

run: deps all guest
	$(BUILD)/vmon run --kernel $(BUILD)/images/vmlinuz --initrd $(BUILD)/images/initramfs.cpio.gz \
		--append "console=ttyS0 quiet" --mem 512M $(RUN_ARGS)

bench: deps all guest-programs guest
	@scripts/deps.sh bench
	bench/run.sh

clean:
	rm -rf $(BUILD)

.PHONY: all unit asan fuzz guest-programs deps guest test run bench clean
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
