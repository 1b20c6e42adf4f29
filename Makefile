# Thin wrapper around CMake. The two set-up commands on a fresh Debian 12 machine (as root):
#   make demo   install build dependencies, build, run `driftd demo`
#   make test   install dependencies and oracles, build (plain and ASan+UBSan), run every test
# `make bench` runs the benchmarks in bench/; `make deb` builds the Debian package.
BUILD      ?= build
ASAN_BUILD ?= build-asan
VENV       ?= $(BUILD)/oracle-venv
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=

.PHONY: all deps build build-asan venv demo test test-fast bench docs format clean deb

all: build

deps:
	@sh packaging/install-deps.sh

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DDRIFTD_ORACLE_PYTHON=$(abspath $(VENV))/bin/python $(CMAKE_ARGS)

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

$(ASAN_BUILD)/build.ninja:
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DDRIFTD_SANITIZE=ON \
		$(CMAKE_ARGS)

build-asan: deps $(ASAN_BUILD)/build.ninja
	cmake --build $(ASAN_BUILD) -j $(JOBS)

# Pinned oracles (scipy, River) from PyPI, used to regenerate the committed expected values.
$(VENV)/.stamp: tests/oracle/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r tests/oracle/requirements.txt
	touch $@

venv: deps $(VENV)/.stamp

demo: build
	$(BUILD)/daemon/driftd demo

test: build build-asan venv
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS) -L 'unit|detectors'

# The inner loop: unit tests only, seconds.
test-fast: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -L unit

bench: build venv
	$(VENV)/bin/python bench/run.py $(BUILD)

# The Debian package from this tree (packaging/debian), into $(BUILD)-deb/, checked by lintian.
deb: deps
	sh packaging/build-deb.sh $(abspath $(BUILD))-deb $(JOBS)
	lintian --fail-on error $(BUILD)-deb/driftd_*.deb

docs: build
	$(BUILD)/daemon/driftd detectors --markdown > docs/detectors.md

format:
	git ls-files '*.c' '*.h' '*.cc' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
