# The README's two commands. `make run` and `make check` install missing Debian packages
# (apt-get, as root; otherwise they print the command and stop), configure and build into
# build/, then run the main job or the whole test suite.
PACKAGES := build-essential cmake pkg-config libopenmpi-dev openmpi-bin libhdf5-openmpi-dev \
            hdf5-tools libopenblas-dev libcunit1-dev libinih-dev librandom123-dev zlib1g-dev \
            dataset-fashion-mnist wordnet-base fortunes python3-h5py python3-numpy python3-pandas \
            python3-matplotlib python3-pytest slurm-wlm munge
# The benchmarks' peers (bench/peers/*.py) also need torch: `make bench-deps`.
BENCH_PACKAGES := python3-torch
RANKS ?= 2
BUILD ?= build
CMAKE_FLAGS ?=
# Open MPI refuses to run as root without these; one BLAS thread per rank.
export OMPI_ALLOW_RUN_AS_ROOT := 1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM := 1
export OPENBLAS_NUM_THREADS ?= 1
MPIEXEC := mpiexec --oversubscribe -n $(RANKS)

.PHONY: all deps bench-deps build run check check-sanitize clean

all: build

deps:
	@missing=$$(for p in $(PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	  done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing: $$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	      apt-get install -y -qq --no-install-recommends $$missing >/dev/null || exit 1; \
	  else \
	    echo "missing Debian packages: $$missing"; \
	    echo "run: sudo apt-get install -y --no-install-recommends $$missing"; exit 1; \
	  fi; \
	fi

bench-deps:
	$(MAKE) deps PACKAGES="$(PACKAGES) $(BENCH_PACKAGES)"

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j$$(nproc)

run: build
	$(MPIEXEC) $(BUILD)/ranklab run zoqo-train

check: build
	$(BUILD)/tests/ranklab_unit
	cd $(BUILD) && ctest --output-on-failure --timeout 900

# Unit and MPI tests under AddressSanitizer + UBSan. LeakSanitizer is off: Open MPI and HDF5
# leave allocations behind at exit (in plugins already unloaded), which would drown ours. A
# failed allocation returns NULL, as it does without ASan, so the out-of-memory path is tested.
check-sanitize: export ASAN_OPTIONS := detect_leaks=0:allocator_may_return_null=1
check-sanitize: deps
	$(MAKE) build BUILD=build-sanitize CMAKE_FLAGS="-DRANKLAB_ASAN=ON -DRANKLAB_UBSAN=ON -DRANKLAB_WERROR=ON"
	build-sanitize/tests/ranklab_unit
	cd build-sanitize && ctest --output-on-failure -L mpi --timeout 900

clean:
	rm -rf build build-sanitize
