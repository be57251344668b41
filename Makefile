# ptalloc — build, test, demo, bench.
#
#   make          build/libptalloc.so, build/libptalloc.a and the command build/ptalloc
#   make demo     run the built-in demonstration
#   make test     every test, on the release, debug and UBSan builds
#   make bench    benchmarks against glibc, jemalloc, tcmalloc, mimalloc
#   make fuzz     libFuzzer run (FUZZ_SECONDS, default 60)
#   make install  PREFIX=/usr/local

CC      ?= cc
PREFIX  ?= /usr/local
LIBDIR  ?= $(PREFIX)/lib
INCDIR  ?= $(PREFIX)/include
BINDIR  ?= $(PREFIX)/bin

SRCS    := $(wildcard src/*.c)
HDRS    := $(wildcard src/*.h) include/ptalloc.h

WARN    := -Wall -Wextra -Wshadow -Wno-unused-parameter
BASE    := -std=gnu11 -fPIC -Iinclude -Isrc -fvisibility=hidden -fno-plt \
           -ftls-model=initial-exec -fno-builtin-malloc -fno-builtin-free \
           -fno-builtin-calloc -fno-builtin-realloc -fno-stack-protector -fno-strict-aliasing \
           $(WARN) -Wno-missing-attributes
REL_CF  := $(BASE) -O2 -g -DNDEBUG -flto=auto -ffat-lto-objects
DBG_CF  := $(BASE) -O1 -freorder-functions -g -DPTALLOC_DEBUG=1
UBS_CF  := $(BASE) -O1 -freorder-functions -g -DPTALLOC_DEBUG=1 -fsanitize=undefined -fno-sanitize-recover=all \
           -fno-sanitize=alignment
LDSO    := -shared -Wl,-T,build/layout.ld -Wl,-soname,libptalloc.so -Wl,-z,nodelete -Wl,--version-script=src/exports.map

REL_OBJ := $(SRCS:src/%.c=build/obj/%.o)
DBG_OBJ := $(SRCS:src/%.c=build/debug/obj/%.o)
UBS_OBJ := $(SRCS:src/%.c=build/ubsan/obj/%.o)

.PHONY: all lib cmd debug ubsan test test-quick demo bench fuzz install clean deps deps-cmd tests FORCE
all: lib cmd
cmd: build/ptalloc build/ptalloc-replay
lib: build/libptalloc.so build/libptalloc.a

# Introspection is cold: its functions are marked COLD and the linker
# script puts them in a mapping of their own, untouched by a program that
# does not call them.  Built for size, outside LTO (an -O level given only
# at compile time has no effect on an LTO build).  options.c stays in:
# built apart, its parameters cost the hot paths instructions.  The linker
# script names these files too, their constants go with the cold code: it
# is build/layout.ld, written from src/layout.ld.in with this list.
COLD_SRCS := check walk stats fmt
build/obj/%.o: src/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(REL_CF) $(if $(filter $(COLD_SRCS),$*),-Os -fno-lto) -c $< -o $@
build/debug/obj/%.o: src/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(DBG_CF) -c $< -o $@
build/ubsan/obj/%.o: src/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(UBS_CF) -c $< -o $@

# The linker script, with COLD_SRCS in it.  Written on every make, but
# replaced only when its text changes, so that the libraries are relinked
# when src/layout.ld.in or COLD_SRCS changes and not otherwise (make looks
# at a target's time again after its recipe).
COLD_OBJS   := $(COLD_SRCS:%=*%.o)
COLD_RODATA := $(foreach f,$(COLD_SRCS),*$(f).o(.rodata .rodata.*))
build/layout.ld: src/layout.ld.in FORCE
	@mkdir -p $(dir $@)
	@sed -e 's|@COLD_OBJS@|$(COLD_OBJS)|g' -e 's|@COLD_RODATA@|$(COLD_RODATA)|g' $< > $@.tmp
	@if grep -n '@[A-Z_]*@' $@.tmp; then echo "$<: a word between @ signs is not replaced" >&2; rm -f $@.tmp; exit 1; fi
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv -f $@.tmp $@ && echo "wrote $@ (cold: $(COLD_SRCS))"; fi
FORCE:

build/libptalloc.so: $(REL_OBJ) src/exports.map build/layout.ld
	$(CC) $(LDSO) -O2 -g -flto=auto -o $@ $(REL_OBJ)
build/libptalloc.a: $(REL_OBJ)
	rm -f $@ && ar rcs $@ $(REL_OBJ)
build/debug/libptalloc.so: $(DBG_OBJ) src/exports.map build/layout.ld
	$(CC) $(LDSO) -o $@ $(DBG_OBJ)
build/ubsan/libptalloc.so: $(UBS_OBJ) src/exports.map build/layout.ld
	$(CC) $(LDSO) -fsanitize=undefined -o $@ $(UBS_OBJ)
debug: build/debug/libptalloc.so
ubsan: build/ubsan/libptalloc.so

# ---- the command -------------------------------------------------------
# cmd/*.c, linked with libptalloc.a: the command runs on ptalloc itself.
# Its symbolizer (cmd/symbols.c) is elfutils' libdw and libelf, with
# libstdc++'s demangler, and zlib packs the data of `ptalloc html`'s pages;
# their Debian packages come first, installed when
# missing (order-only and phony: checked on every make, relinking nothing).
CMD_SRCS := $(filter-out cmd/replay_driver.c,$(wildcard cmd/*.c))
CMD_LIBS := -ldw -lelf -lstdc++ -lz
deps-cmd:
	@tools/deps.sh cmd
build/ptalloc: $(CMD_SRCS) $(wildcard cmd/*.h) $(wildcard cmd/page/*) include/ptalloc.h build/libptalloc.a | deps-cmd
	$(CC) -std=gnu11 -O2 -g -Iinclude -Wall -Wextra -Wno-unused-parameter $(CMD_SRCS) -o $@ \
	  build/libptalloc.a $(CMD_LIBS) -pthread
# `ptalloc replay`'s driver: a program of its own on a fresh ptalloc, with
# nothing else linked in that allocates (cmd/replay_driver.c says why).
build/ptalloc-replay: cmd/replay_driver.c cmd/replay.h cmd/log.h include/ptalloc.h build/libptalloc.a
	$(CC) -std=gnu11 -O2 -g -Iinclude -Wall -Wextra -Wno-unused-parameter -fno-builtin-malloc \
	  -fno-builtin-free -fno-builtin-calloc -fno-builtin-realloc $< -o $@ build/libptalloc.a -pthread

# ---- tests -------------------------------------------------------------
# tests/TESTS lists the tests; tests/run.sh runs them.  Its C tests,
# group/name, are tests/group/name.c built as build/tests/group/name (a
# line is a test when it starts with group/; comments and helper lines do
# not).  Groups listed in LINKED_GROUPS link against libptalloc (they use
# include/ptalloc.h); the others are plain programs run with LD_PRELOAD,
# so they also run on glibc.
LINKED_GROUPS := mech stress
TEST_NAMES := $(shell sed -n 's,^\([a-z0-9_-]*/[^[:space:]]*\).*,\1,p' tests/TESTS)
TEST_BINS  := $(addprefix build/tests/,$(filter-out %.sh,$(TEST_NAMES)))
TEST_CF   := -std=gnu11 -O2 -g -Iinclude -Itests/common -pthread -Wall -Wno-unused-result \
             -fno-builtin-malloc -fno-builtin-free -fno-builtin-calloc -fno-builtin-realloc

build/tests/%: tests/%.c $(wildcard tests/*/*.h) include/ptalloc.h build/libptalloc.so
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CF) $< -o $@ \
	  $(if $(filter $(LINKED_GROUPS),$(word 3,$(subst /, ,$@))),-Lbuild -lptalloc,) -ldl -lm

# The symbolizer's test (tests/cmd/symbols.sh runs it) links cmd/symbols.c
# as the command does; built PIE and not, whose load biases differ.
SYM_TESTS := build/tests/cmd/symbols_test build/tests/cmd/symbols_test_nopie
$(SYM_TESTS): tests/cmd/symbols_test.c cmd/symbols.c cmd/symbols.h tests/common/t.h | deps-cmd
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CF) -Wextra -Icmd $(if $(filter %_nopie,$@),-no-pie) tests/cmd/symbols_test.c cmd/symbols.c \
	  -o $@ $(CMD_LIBS) -ldl

# The programs tests/cmd/trace.sh traces: plain programs, run with the
# variant's library preloaded (they find ptalloc's calls with dlsym).
TRACE_PROGS := $(patsubst tests/cmd/%.c,build/tests/cmd/%,$(wildcard tests/cmd/trace_*.c))
$(TRACE_PROGS): build/tests/cmd/%: tests/cmd/%.c tests/cmd/walk_lines.h include/ptalloc.h
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CF) -Wextra -Wno-unused-parameter $< -o $@ -ldl

# The process tests/cmd/heap_pid.sh reads with `ptalloc heap --pid`, twice:
# a plain program, run with the variant's library preloaded, and one
# linked with libptalloc.a, exporting its symbols so that the same dlsym
# calls find ptalloc's functions.
HEAP_TARGETS := build/tests/cmd/heap_target build/tests/cmd/heap_target_static
HEAP_STATIC  := -Wl,--export-dynamic build/libptalloc.a
$(HEAP_TARGETS): build/tests/cmd/%: tests/cmd/heap_target.c include/ptalloc.h build/libptalloc.a
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CF) -Wextra -Wno-unused-parameter $< -o $@ $(if $(filter %_static,$@),$(HEAP_STATIC)) -ldl

tests: $(TEST_BINS) $(SYM_TESTS) $(TRACE_PROGS) $(HEAP_TARGETS) build/ptalloc build/ptalloc-replay build/demo.html

deps:
	@tools/deps.sh test

# Then the allocator's own tests again with every free page given back
# at once (purge_delay_ms 0: each free purges, each pass trims).
test: lib debug ubsan tests deps
	@tests/run.sh
	@echo "== again with PTALLOC_PURGE_DELAY_MS=0: api, mech, threads, hardening, stress"
	@PTALLOC_PURGE_DELAY_MS=0 TEST_GROUPS="api mech threads hardening stress" tests/run.sh

# One variant only, for quick iteration: make test-quick VARIANT=build/debug
# (build = release, build/debug, build/ubsan); TEST_FILTER=mech narrows it.
test-quick: lib $(if $(filter build/debug,$(VARIANT)),debug) $(if $(filter build/ubsan,$(VARIANT)),ubsan) tests deps
	@tests/run.sh $(or $(VARIANT),build)

# ---- demo, bench, fuzz ---------------------------------------------------
build/demo: tools/demo.c include/ptalloc.h build/libptalloc.a
	$(CC) -std=gnu11 -O1 -g -Iinclude -fno-builtin-malloc -fno-builtin-free $< -o $@ build/libptalloc.a -pthread
# The text tour, then the same program traced and drawn as a page whose
# tour has a scene per chapter of the notes (its marks: tools/demo.c);
# tests/cmd/html.sh opens that page too.
build/demo.html: build/demo build/ptalloc
	@rm -f build/demo.trace
	@PTALLOC_TRACE=build/demo.trace build/demo > /dev/null
	@build/ptalloc html build/demo.trace -o $@ --title "the demo: ptmalloc2's design in eight chapters" > /dev/null
demo: build/demo build/demo.html
	@build/demo
	@echo; echo "The same tour in a browser, a scene per chapter: build/demo.html"

# BENCH_HTML=0 leaves out the page's timing (bench/html.sh: a log of about
# a million events, opened in headless Chromium).
bench: lib cmd
	@tools/deps.sh bench
	@bench/run.sh
	@if [ "$${BENCH_HTML:-1}" != 0 ]; then tools/deps.sh test && bench/html.sh; fi

fuzz: lib
	@tools/deps.sh fuzz
	@tests/fuzz/run.sh $(or $(FUZZ_SECONDS),60)

# ---- install -------------------------------------------------------------
install: lib cmd
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(BINDIR)
	install -m 755 build/ptalloc $(DESTDIR)$(BINDIR)/ptalloc
	install -m 755 build/ptalloc-replay $(DESTDIR)$(BINDIR)/ptalloc-replay
	install -m 755 build/libptalloc.so $(DESTDIR)$(LIBDIR)/libptalloc.so
	install -m 644 build/libptalloc.a $(DESTDIR)$(LIBDIR)/libptalloc.a
	install -m 644 include/ptalloc.h $(DESTDIR)$(INCDIR)/ptalloc.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCDIR@|$(INCDIR)|' \
	    -e 's|@VERSION@|$(shell sed -n 's/^#define PTALLOC_VERSION "\(.*\)"/\1/p' include/ptalloc.h)|' \
	    tools/ptalloc.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/ptalloc.pc

clean:
	rm -rf build
