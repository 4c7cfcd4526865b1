# veribench build. `make` builds build/veribench; see README for the other targets.
#
# Variables:
#   VERIBENCH_DATA  folder holding lfw/ and fvc2002/ (also read from the environment)
#   SAN=1           AddressSanitizer + UndefinedBehaviorSanitizer build in build/san
#   STATIC=1        link libcsv, libjpeg, libpng, libtiff, libcrypto and zlib statically
#                   (for GPU machines that lack those shared libraries)
#   BUILD           output folder (default build, or build/san with SAN=1)

VERIBENCH_DATA ?= ../shared/datasets
export VERIBENCH_DATA
VB_MODELS ?= build/models
export VB_MODELS

ifeq ($(FUZZ),1)
# libFuzzer build (make fuzz): clang with the fuzzer's coverage hooks and ASan+UBSan.
BUILD ?= build/fuzz
CC := clang
SANFLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer \
            -Wno-unknown-warning-option
OPT := -O1
else ifeq ($(SAN),1)
BUILD ?= build/san
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
OPT := -O1
else
BUILD ?= build
SANFLAGS :=
OPT := -O2
endif

CC ?= cc
CFLAGS ?= $(OPT) -g
CFLAGS += -std=c11 -Wall -Wextra -Werror -Wno-format-truncation -D_GNU_SOURCE -pthread -I. -I$(BUILD)/gen $(SANFLAGS)
LDFLAGS += -pthread $(SANFLAGS)
# The commit a binary was built from goes into provenance.csv and report.md, through a
# generated header that is rewritten only when the commit changes (so only its users rebuild).
GIT_COMMIT := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)$(shell git diff --quiet HEAD -- 2>/dev/null || echo -dirty)

LIB_NAMES := csv jpeg png16 tiff cjson crypto z
ifeq ($(STATIC),1)
# libtiff's static archive pulls its codecs in; list them after it. Debian ships no static
# cJSON, so libcjson.so.1 stays dynamic (carry it along: see backends/vulkan/README.md).
LDLIBS += -Wl,-Bstatic -lcsv -ltiff -ljpeg -lpng16 -ldeflate -ljbig -llzma -lzstd -lLerc -lwebp -lcrypto -lz \
          -Wl,-Bdynamic -lcjson -lstdc++ -lm -ldl -pthread
else
LDLIBS += $(addprefix -l,$(LIB_NAMES)) -lm -ldl
endif

SRC_DIRS := core cli models backends backends/cpu backends/vulkan datasets reports
LIB_SRCS := $(filter-out cli/main.c,$(foreach d,$(SRC_DIRS),$(wildcard $(d)/*.c)))
GEN_SRCS :=
-include shaders/shaders.mk
GEN_HDRS := $(BUILD)/gen/version.h

LIB_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRCS)) $(patsubst $(BUILD)/gen/%.c,$(BUILD)/obj/gen/%.o,$(GEN_SRCS))
TEST_SRCS := $(wildcard tests/test_*.c)
TEST_BINS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRCS))

.PHONY: all models test check check-layers bench bench-peers fuzz fuzz-build fuzz-seeds clean distclean FORCE
all: $(BUILD)/veribench $(TEST_BINS) $(VB_MODELS)/fingerprint_mcc.gguf

$(BUILD)/gen/version.h: FORCE
	@mkdir -p $(dir $@)
	@echo '#define VB_GIT_COMMIT "$(GIT_COMMIT)"' > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@
FORCE:

$(BUILD)/obj/%.o: %.c | $(GEN_SRCS) $(GEN_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libveribench.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/veribench: $(BUILD)/obj/cli/main.o $(BUILD)/libveribench.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(BUILD)/obj/tests/testlib.o $(BUILD)/libveribench.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Fetch @vladmandic/face-api, check its pinned SHA-256 sums, convert to GGUF; write the
# fingerprint matcher's parameter file.
models: $(BUILD)/veribench $(VB_MODELS)/fingerprint_mcc.gguf
	BUILD=$(BUILD) sh models/fetch-faceapi.sh

# The fingerprint matcher's parameters (models/fingerprint.h), written by the binary itself.
$(VB_MODELS)/fingerprint_mcc.gguf: $(BUILD)/veribench
	$(BUILD)/veribench convert --from fingerprint --out $(VB_MODELS) >/dev/null

# The include rules of ARCHITECTURE.md: layers point down, no include cycles.
check-layers:
	sh tests/check-layers.sh

# The whole suite (layer check, unit tests, CLI tests, Vulkan tests on whatever device exists).
test: all check-layers
	BUILD=$(BUILD) sh tests/run.sh

check: test

bench: $(BUILD)/veribench
	BUILD=$(BUILD) sh bench/bench.sh

# The CPU backend against PyTorch and ONNX Runtime, same net and weights (bench/peers/run.sh).
bench-peers: $(BUILD)/veribench
	BUILD=$(BUILD) sh bench/peers/run.sh

# Fuzzing: every parser of outside input has a libFuzzer target (tests/fuzz/fuzz_*.c).
# make fuzz FUZZ_SECONDS=N runs each for N seconds from its committed seeds
# (tests/fuzz/corpus/<target>/) plus what earlier runs found (build/fuzz/corpus/<target>/);
# a crash leaves its input in build/fuzz/crashes/ and fails. Clang 14 + libclang-rt-14-dev.
FUZZ_SECONDS ?= 10
FUZZ_SRCS := $(filter-out tests/fuzz/fuzz_util.c,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(patsubst tests/fuzz/%.c,build/fuzz/bin/%,$(FUZZ_SRCS))
fuzz:
	$(MAKE) FUZZ=1 fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) sh tests/fuzz/run.sh $(FUZZ_BINS)

fuzz-build: $(FUZZ_BINS)

# Rewrites the committed seed corpora (tests/fuzz/make_seeds.c).
fuzz-seeds: $(BUILD)/obj/tests/fuzz/make_seeds.o $(BUILD)/libveribench.a
	$(CC) $(LDFLAGS) -o $(BUILD)/make_seeds $^ $(LDLIBS)
	$(BUILD)/make_seeds

build/fuzz/bin/%: $(BUILD)/obj/tests/fuzz/%.o $(BUILD)/libveribench.a
	@mkdir -p $(dir $@)
	$(CC) -fsanitize=fuzzer,address,undefined -pthread -o $@ $^ $(LDLIBS)

clean:
	rm -rf $(BUILD)/obj $(BUILD)/gen $(BUILD)/tests $(BUILD)/veribench $(BUILD)/libveribench.a

distclean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
