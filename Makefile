# Makefile - builds pressfs (the FUSE daemon and admin tool) and pressfs.so (the PHP extension),
# installs what is missing on Debian 12, and runs the tests, the demo and the benchmarks.

CC      ?= cc
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Wformat=2
PKGS    := fuse3 hiredis libmemcached
ALL_CFLAGS  = -std=gnu11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 $(WARN) $(CFLAGS) \
              $(shell pkg-config --cflags $(PKGS) 2>/dev/null) -Icore
LDLIBS  = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread

O := obj

CORE_SRC := $(wildcard core/*.c)
CORE_OBJ := $(CORE_SRC:%.c=$(O)/%.o)
FUSE_SRC := $(wildcard fuse/*.c)
FUSE_OBJ := $(FUSE_SRC:%.c=$(O)/%.o)

.PHONY: all pressfs ext deps test unit integration phpt sapi-tests compat-tests demo demo-stop bench format format-check clean

all: pressfs ext

pressfs: $(O)/pressfs
# `pressfs compat` runs tests/compat/compat.py from this tree.
$(O)/fuse/main.o: ALL_CFLAGS += -DPRESSFS_DATADIR='"$(CURDIR)"'
$(O)/pressfs: $(FUSE_OBJ) $(O)/libpressfs-core.a
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

$(O)/libpressfs-core.a: $(CORE_OBJ)
	ar rcs $@ $^

$(O)/%.o: %.c $(wildcard core/*.h fuse/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -fPIC -MMD -c -o $@ $<

# --- the PHP extension: obj/ext/modules/pressfs.so ---
# phpize writes configure, build/ and run-tests.php at the root (ignored by git); configure runs
# in obj/ext, so the Makefile it generates never replaces this one.
PHP_CONFIG ?= php-config8.2
PHPIZE     ?= phpize8.2
PHP_BIN    ?= /usr/bin/php8.2
EXT_SO     := $(O)/ext/modules/pressfs.so
ext: $(EXT_SO)
configure: config.m4
	$(PHPIZE) >/dev/null
$(O)/ext/Makefile: configure
	@mkdir -p $(O)/ext
	cd $(O)/ext && $(CURDIR)/configure --enable-pressfs --with-php-config=$(PHP_CONFIG) \
	    >configure.log 2>&1 || { tail -20 configure.log; exit 1; }
$(EXT_SO): $(O)/ext/Makefile $(wildcard ext/*.c ext/*.h) core/policy.c core/path.c core/policy.h core/path.h
	$(MAKE) -C $(O)/ext
	@touch $@
.PHONY: bench-ext phpt-valgrind phpt-asan

# --- Debian packages: installed only when missing, so a fresh machine and CI behave alike ---
DEB_PKGS := build-essential pkg-config libfuse3-dev fuse3 libhiredis-dev libmemcached-dev \
            redis-server memcached php8.2-cli php8.2-dev python3-pytest clang-format
# Debian's own services (redis-server, memcached, apache2, mariadb...) are not started by the
# install (a policy-rc.d that says no, removed afterwards): the tests start their own on loopback.
deps:
	@missing=$$(for p in $(DEB_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
	   | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  rc=/usr/sbin/policy-rc.d; made=; \
	  if [ ! -e $$rc ]; then printf '#!/bin/sh\nexit 101\n' > $$rc; chmod 755 $$rc; made=1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  st=$$?; if [ -n "$$made" ]; then rm -f $$rc; fi; exit $$st; \
	fi

# --- tests ---
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(O)/tests/%)
$(O)/tests/%: tests/unit/%.c $(O)/libpressfs-core.a $(filter-out $(O)/fuse/main.o,$(FUSE_OBJ))
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit -Ifuse -o $@ $(filter-out %.a,$^) $(O)/libpressfs-core.a $(LDLIBS)

unit: $(UNIT_BIN)
	prove -v $(UNIT_BIN)

# phpt tests of the extension (php-tests/), through PHP's run-tests.php against the built module,
# without php.ini (-n) so that only what a test asks for is loaded.  Fails when a test fails.
DEB_PKGS += php8.2-cgi php8.2-gd php8.2-sqlite3 valgrind
RUN_TESTS  = $(shell $(PHP_CONFIG) --extension-dir)/build/run-tests.php
PHPT_ARGS ?=
PHPT = TEST_PHP_CGI_EXECUTABLE=/usr/bin/php-cgi8.2 NO_INTERACTION=1 REPORT_EXIT_STATUS=1 \
       $(PHP_BIN) -n $(RUN_TESTS) -n -p $(PHP_BIN) -q --show-diff \
       -d extension=$(CURDIR)/$(EXT_SO) $(PHPT_ARGS)
phpt: ext
	$(PHPT) php-tests
# The same suite under valgrind (memcheck; run-tests -m sets USE_ZEND_ALLOC=0).  PCRE's JIT code
# reads past string ends on purpose (SIMD), which memcheck cannot tell from a bug: it is off here.
phpt-valgrind: ext
	$(PHPT) -m -d pcre.jit=0 php-tests

# The same suite against a second build of the extension with ASan and UBSan (obj/ext-asan), in
# make test.  PHP is Debian's, not instrumented: gcc's libasan is preloaded, with a shim that
# drops the RTLD_DEEPBIND PHP dlopen()s extensions with (ASan's runtime refuses it).  Memory goes
# through malloc (USE_ZEND_ALLOC=0), so LeakSanitizer sees emalloc'd leaks too; modules stay
# loaded at exit so that leak reports name their frames.  Reports go to obj/ext-asan/logs; any
# that names pressfs code (ext/, core/ or pressfs.so) fails the target, others are shown.
ASAN_O     := $(O)/ext-asan
ASAN_SO    := $(ASAN_O)/modules/pressfs.so
ASAN_SHIM  := $(ASAN_O)/nodeepbind.so
ASAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
              -fno-sanitize-recover=undefined
DEB_PKGS   += libasan8 libubsan1
$(ASAN_O)/Makefile: configure
	@mkdir -p $(ASAN_O)
	cd $(ASAN_O) && CFLAGS='$(ASAN_FLAGS)' LDFLAGS='-fsanitize=address,undefined' \
	    $(CURDIR)/configure --enable-pressfs --with-php-config=$(PHP_CONFIG) \
	    >configure.log 2>&1 || { tail -20 configure.log; exit 1; }
$(ASAN_SO): $(ASAN_O)/Makefile $(wildcard ext/*.c ext/*.h) core/policy.c core/path.c core/policy.h core/path.h
	$(MAKE) -C $(ASAN_O)
	@touch $@
$(ASAN_SHIM): php-tests/sanitizer/nodeepbind.c
	@mkdir -p $(ASAN_O)
	$(CC) -O2 -Wall -shared -fPIC -o $@ $< -ldl
phpt-asan: $(ASAN_SO) $(ASAN_SHIM)
	@rm -rf $(ASAN_O)/logs && mkdir -p $(ASAN_O)/logs
	@libasan=$$($(CC) -print-file-name=libasan.so); \
	 [ -f "$$libasan" ] || { echo "phpt-asan: gcc's libasan is not installed (make deps)" >&2; exit 1; }; \
	 LD_PRELOAD="$(CURDIR)/$(ASAN_SHIM) $$libasan" USE_ZEND_ALLOC=0 ZEND_DONT_UNLOAD_MODULES=1 \
	 SKIP_ASAN=1 SKIP_PERF_SENSITIVE=1 \
	 ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=1:log_path=$(CURDIR)/$(ASAN_O)/logs/asan \
	 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:log_path=$(CURDIR)/$(ASAN_O)/logs/ubsan \
	 TEST_PHP_CGI_EXECUTABLE=/usr/bin/php-cgi8.2 NO_INTERACTION=1 REPORT_EXIT_STATUS=1 \
	 $(PHP_BIN) -n $(RUN_TESTS) -n -p $(PHP_BIN) -q --show-diff \
	    -d extension=$(CURDIR)/$(ASAN_SO) $(PHPT_ARGS) php-tests; rc=$$?; \
	 ours=$$(grep -lE '$(CURDIR)/(ext|core)/|pressfs\.so' $(ASAN_O)/logs/* 2>/dev/null); \
	 others=$$(grep -LE '$(CURDIR)/(ext|core)/|pressfs\.so' $(ASAN_O)/logs/* 2>/dev/null); \
	 for f in $$others; do echo "phpt-asan: a report not naming pressfs ($$f):"; head -20 $$f; done; \
	 for f in $$ours; do echo "phpt-asan: pressfs named in $$f:"; cat $$f; done; \
	 if [ -n "$$ours" ]; then exit 1; fi; exit $$rc

# Micro-benchmark of the extension's cost: the same PHP script with and without pressfs.so.
bench-ext: ext
	$(PHP_BIN) -n tests/bench/ext_bench.php --php=$(PHP_BIN) --ext=$(CURDIR)/$(EXT_SO)

# Integration tests: real redis-server and real mounts of obj/pressfs (tests/integration, pytest).
# Debian's /usr/bin/python3, not the first python3 on PATH; pytest's exit 5 ("no tests") fails.
# WordPress (Debian's package) is a lower tree for some tests and for the demo.
DEB_PKGS += wordpress
PYTEST := /usr/bin/python3 -m pytest
PYTEST_ARGS ?=
integration: $(O)/pressfs
	@cd tests/integration && timeout -k 10 1200 $(PYTEST) -v $(PYTEST_ARGS); rc=$$?; \
	 if [ $$rc -eq 5 ]; then echo "integration: pytest collected no tests" >&2; fi; exit $$rc

# The extension under php-fpm (behind nginx) and Apache's mod_php (tests/sapi, pytest).
DEB_PKGS += php8.2-fpm nginx apache2 libapache2-mod-php8.2
sapi-tests: ext
	@cd tests/sapi && timeout -k 10 600 $(PYTEST) -v $(PYTEST_ARGS)

# A real WordPress on two pressfs nodes (Apache + php-fpm + pressfs.so each, HAProxy, MariaDB,
# Redis, two memcached), driven through HTTP (tests/compat, pytest).
DEB_PKGS += mariadb-server php8.2-mysql php8.2-zip php8.2-mbstring php8.2-xml php8.2-opcache haproxy
compat-tests: all
	@cd tests/compat && timeout -k 10 900 $(PYTEST) -v $(PYTEST_ARGS)

# A real WordPress on two pressfs nodes behind HAProxy, left running; `make demo-stop` ends it.
demo: deps
	$(MAKE) all
	/usr/bin/python3 tests/demo/demo.py start
demo-stop:
	/usr/bin/python3 tests/demo/demo.py stop

test: deps
	$(MAKE) format-check
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) phpt
	$(MAKE) phpt-asan
	$(MAKE) sapi-tests
	$(MAKE) integration
	$(MAKE) compat-tests

# --- benchmarks: `make bench` (tests/bench/, docs/PERFORMANCE.md); not part of `make test` ---
# pressfs against native, kernel overlayfs and fuse-overlayfs in one run.  The pressfs columns are
# reported as failed, not fatal, when the daemon or the extension does not build or mount.
BENCH_PKGS := mariadb-server nginx apache2 php8.2-fpm php8.2-cli php8.2-mysql php8.2-gd \
              php8.2-opcache wordpress fuse3 fuse-overlayfs wrk fio gnuplot-nox redis-server \
              redis-tools memcached strace linux-perf
BENCH_ARGS ?=
.PHONY: bench-deps bench-doc
bench-deps:
	@missing=$$(for p in $(BENCH_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
	   | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  rc=/usr/sbin/policy-rc.d; made=; \
	  if [ ! -e $$rc ]; then printf '#!/bin/sh\nexit 101\n' > $$rc; chmod 755 $$rc; made=1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  st=$$?; if [ -n "$$made" ]; then rm -f $$rc; fi; exit $$st; \
	fi
bench: deps bench-deps
	-$(MAKE) pressfs
	-$(MAKE) ext
	/usr/bin/python3 tests/bench/bench.py $(BENCH_ARGS)
# Copy the last run's table into docs/PERFORMANCE.md (between its bench:begin/end markers).
bench-doc:
	/usr/bin/python3 tests/bench/doc.py

format:
	clang-format -i core/*.[ch] fuse/*.[ch] ext/*.[ch]
format-check:
	clang-format --dry-run --Werror core/*.[ch] fuse/*.[ch] ext/*.[ch]

clean:
	rm -rf $(O)

# --- fuzzing the policy parser (owner: core/policy; libFuzzer needs clang) ---
# New inputs go to obj/fuzz/corpus; tests/fuzz/seeds is only read.  FUZZ_TIME in seconds.
FUZZ_TIME ?= 60
.PHONY: fuzz
fuzz: $(O)/fuzz/fuzz_policy
	@mkdir -p $(O)/fuzz/corpus
	$(O)/fuzz/fuzz_policy -max_total_time=$(FUZZ_TIME) $(O)/fuzz/corpus tests/fuzz/seeds
$(O)/fuzz/fuzz_policy: tests/fuzz/fuzz_policy.c core/policy.c core/path.c core/policy.h core/path.h
	@mkdir -p $(dir $@)
	clang -std=gnu11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined $(WARN) -Icore \
	      -o $@ tests/fuzz/fuzz_policy.c core/policy.c core/path.c
# --- end of fuzzing ---

-include $(shell find $(O) -name '*.d' 2>/dev/null)
