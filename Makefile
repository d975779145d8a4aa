# tokend — the commands a newcomer can guess. Each target installs the Debian
# packages it needs first (scripts/install-deps.sh, list in scripts/packages.txt).

BUILD_DIR    ?= build
ASAN_DIR     ?= build-asan
JOBS         ?= $(shell nproc)
LISTEN       ?= 127.0.0.1:7700
STORE        ?= sqlite:./data/tokend.db
CMAKE_FLAGS  ?=

.PHONY: all deps build run test test-release bench soak fuzz format clean deb

all: build

deps:
	@bash scripts/install-deps.sh

# Release build (-O2); the binary is $(BUILD_DIR)/tokend.
build: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD_DIR) -j $(JOBS)

# Builds the tokend binary alone (no tests), then serves on the embedded
# SQLite store.
run: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD_DIR) -j $(JOBS) --target tokend
	@mkdir -p -m 700 data
	./$(BUILD_DIR)/tokend serve --listen $(LISTEN) --store $(STORE)

# Every test: the Release build and an AddressSanitizer + UBSan build, each
# against SQLite and a throwaway PostgreSQL cluster started for the run, after
# a short run of every fuzzer (FUZZ_SECONDS per target; 0 skips it), built in
# the sanitizer tree.
FUZZ_SECONDS ?= 20
test: deps
	@FUZZ_SECONDS=$(FUZZ_SECONDS) bash scripts/run-tests.sh $(BUILD_DIR) $(ASAN_DIR)

# Only the Release build's tests (faster while iterating).
test-release: deps
	@bash scripts/run-tests.sh $(BUILD_DIR)

# A Debian package of the Release binary: $(BUILD_DIR)/package/tokend_*.deb.
deb: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD_DIR) -j $(JOBS) --target tokend
	@cd $(BUILD_DIR) && cpack -G DEB >/dev/null && ls package/tokend_*.deb

bench: deps
	@bash bench/run.sh

# A minute of mixed load: errors (must be 0) and RSS at start and end.
soak: deps
	@bash bench/soak.sh

# Every fuzzer for FUZZ_TIME seconds.
FUZZ_TIME ?= 60
fuzz: deps
	@bash scripts/fuzz.sh $(FUZZ_TIME)

format:
	@clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR) build-fuzz
