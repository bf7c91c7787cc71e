# Makefile - builds, tests and runs the "Channels in C" tutorial.
#
# Everything is built out of tree under build/<variant>/, where the variant
# is `plain`, or the sanitizer chosen with SAN=address (ASan+UBSan) or
# SAN=thread (TSan).  Each variant has its own folder, so switching between
# them never needs `make clean`.
#
# `make help` lists the targets.  Targets that need system packages (hiredis,
# Check, redis-server) run scripts/setup.sh first, which installs what is
# missing on Debian/Ubuntu and names the packages elsewhere.

.DEFAULT_GOAL := all
SHELL := /bin/sh

# ---- Variant and flags -------------------------------------------------------

SAN ?=
ifeq ($(SAN),)
  VARIANT := plain
  SAN_FLAGS :=
else ifeq ($(SAN),address)
  VARIANT := address
  SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
else ifeq ($(SAN),thread)
  VARIANT := thread
  SAN_FLAGS := -fsanitize=thread -fno-omit-frame-pointer
else
  $(error SAN must be empty, 'address' or 'thread' (got '$(SAN)'))
endif

BUILD := build/$(VARIANT)
CC ?= cc
OPT ?= -O2
WARNINGS := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes
# Warnings are errors in CI, so a warning can never land; locally they stay
# warnings, so a half-finished exercise still builds and runs.
ifeq ($(CI),true)
  WARNINGS += -Werror
endif
# pkg-config is asked when a recipe runs (recursive `=`), i.e. after the
# setup step has had a chance to install the packages.
PKG_CFLAGS = $(shell pkg-config --cflags hiredis check 2>/dev/null)
PKG_LIBS_REDIS = $(shell pkg-config --libs hiredis 2>/dev/null)
PKG_LIBS_CHECK = $(shell pkg-config --libs check 2>/dev/null)

CFLAGS := -std=c11 $(WARNINGS) -g $(OPT) -D_POSIX_C_SOURCE=200809L -pthread $(SAN_FLAGS) $(EXTRA_CFLAGS)
CPPFLAGS := -Icommon -MMD -MP
LDFLAGS := -pthread $(SAN_FLAGS)

# Runtime options for the sanitizers: stop at the first report and make the
# process fail, so a report can never scroll by unnoticed.
export ASAN_OPTIONS := abort_on_error=0:halt_on_error=1:detect_leaks=1:exitcode=23
export UBSAN_OPTIONS := halt_on_error=1:print_stacktrace=1:exitcode=23
export TSAN_OPTIONS := halt_on_error=1:second_deadlock_stack=1:exitcode=66

# ---- Setup -------------------------------------------------------------------

SETUP_STAMP := build/.setup-ok

$(SETUP_STAMP): scripts/setup.sh
	@scripts/setup.sh
	@mkdir -p $(@D) && touch $@

.PHONY: setup
setup: ## Install missing system packages (hiredis, Check, Redis); says what it installs
	@scripts/setup.sh
	@mkdir -p build && touch $(SETUP_STAMP)

# ---- common/: the library every program and test links ---------------------

COMMON_SRC := $(wildcard common/*.c)
COMMON_OBJ := $(COMMON_SRC:%.c=$(BUILD)/%.o)
LIBCOMMON := $(BUILD)/libcommon.a

# Every object: common/ and the object's own folder on the include path,
# so a chapter's files find each other's headers.
$(BUILD)/%.o: %.c | $(SETUP_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -I$(<D) -Itests/support $(CFLAGS) $(PKG_CFLAGS) -c $< -o $@

$(LIBCOMMON): $(COMMON_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

# ---- tools/ ------------------------------------------------------------------

WITH_REDIS := $(BUILD)/bin/with-redis

$(WITH_REDIS): $(BUILD)/tools/with_redis.o $(LIBCOMMON)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $^ $(PKG_LIBS_REDIS) -o $@

# ---- tests/common: Check suites for common/ -------------------------------

TEST_SUPPORT_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(wildcard tests/support/*.c))
TEST_COMMON_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(wildcard tests/common/*.c))
TEST_COMMON := $(BUILD)/tests/test_common

$(TEST_COMMON): $(TEST_COMMON_OBJ) $(TEST_SUPPORT_OBJ) $(LIBCOMMON)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $^ $(PKG_LIBS_REDIS) $(PKG_LIBS_CHECK) -o $@


# ---- tools/snip: starters and doc snippets from one source ------------------
# Built without sanitizers whatever SAN says: it is a build tool.

SNIP := build/tools/snip

$(SNIP): tools/snip.c
	@mkdir -p $(@D)
	$(CC) -std=c11 $(WARNINGS) -O2 -D_POSIX_C_SOURCE=200809L $< -o $@

# ---- Chapters ------------------------------------------------------------------
#
# Each chapter NN-name exists three times over:
#   solutions/NN-name/        the finished code (the one source of truth)
#   build/starters/NN-name/   generated from it by `snip starter`: every
#                             exercise region replaced by its TODO(NN) stub
#   chapters/NN-name/         the learner's copy, committed as generated,
#                             then edited by the learner
# Each builds a program (the folder's main.c and friends) and a test binary
# (tests/chapters/test_NN.c linked with the folder's files except main.c).

# Every folder solutions/NN-name is a chapter: adding a chapter needs no
# edit here.
CHAPTERS := $(sort $(notdir $(wildcard solutions/[0-9][0-9]-*)))
chapter_num = $(firstword $(subst -, ,$(1)))

STARTER_FILES := $(patsubst solutions/%,build/starters/%,$(wildcard $(CHAPTERS:%=solutions/%/*.[ch])))

build/starters/%: solutions/% $(SNIP)
	@mkdir -p $(@D)
	$(SNIP) starter $< > $@.tmp && mv $@.tmp $@

$(BUILD)/starters/%.o: build/starters/%.c | $(SETUP_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -I$(<D) -Itests/support $(CFLAGS) $(PKG_CFLAGS) -c $< -o $@

# $(1) kind (chapters, solutions, starters), $(2) its source root, $(3) chapter
define chapter_rules
$(1)_$(3)_SRC := $$(if $$(filter starters,$(1)),$$(patsubst solutions/%,build/starters/%,$$(wildcard solutions/$(3)/*.c)),$$(wildcard $(2)/$(3)/*.c))
$(1)_$(3)_OBJ := $$(patsubst $(2)/%.c,$(BUILD)/$(1)/%.o,$$($(1)_$(3)_SRC))
$(1)_$(3)_HDR := $$(if $$(filter starters,$(1)),$$(patsubst solutions/%,build/starters/%,$$(wildcard solutions/$(3)/*.h)))

$(BUILD)/$(1)/$(3)/$(3): $$($(1)_$(3)_OBJ) $(LIBCOMMON)
	@mkdir -p $$(@D)
	$(CC) $(LDFLAGS) $$(filter %.o %.a,$$^) $$(PKG_LIBS_REDIS) -o $$@

$(BUILD)/$(1)/$(3)/test_chapter.o: tests/chapters/test_$(call chapter_num,$(3)).c $$($(1)_$(3)_HDR) | $(SETUP_STAMP)
	@mkdir -p $$(@D)
	$(CC) $(CPPFLAGS) -I$(2)/$(3) -Itests/support $(CFLAGS) $$(PKG_CFLAGS) -c $$< -o $$@

$(BUILD)/$(1)/$(3)/test_chapter: $(BUILD)/$(1)/$(3)/test_chapter.o $$(filter-out %/main.o,$$($(1)_$(3)_OBJ)) $(TEST_SUPPORT_OBJ) $(LIBCOMMON)
	@mkdir -p $$(@D)
	$(CC) $(LDFLAGS) $$(filter %.o,$$^) $$(filter %.a,$$^) $$(PKG_LIBS_REDIS) $$(PKG_LIBS_CHECK) -o $$@

# A starter's objects need its generated headers to exist first.
$$($(1)_$(3)_OBJ): $$($(1)_$(3)_HDR)
endef

$(foreach ch,$(CHAPTERS),$(eval $(call chapter_rules,chapters,chapters,$(ch))))
$(foreach ch,$(CHAPTERS),$(eval $(call chapter_rules,solutions,solutions,$(ch))))
$(foreach ch,$(CHAPTERS),$(eval $(call chapter_rules,starters,build/starters,$(ch))))

# Which copy `make test-NN` and `make run-NN` use.
KIND := $(if $(SOLUTION),solutions,chapters)

# What a chapter test needs to know: its own program (some tests run it as
# a learner would), a TSan build of it (chapter 01 proves the race), and
# which text to point the learner at when something fails.
chapter_test_env = CHAPTER_PROGRAM=$(BUILD)/$(1)/$(2)/$(2) \
	CHAPTER_TSAN_PROGRAM=build/thread/$(1)/$(2)/$(2) \
	CHAPTER_DOC=docs/$(2).md CHAPTER_KIND=$(1)

# The TSan build of a chapter's program, whatever SAN this run uses.
ifneq ($(VARIANT),thread)
build/thread/%: FORCE
	@$(MAKE) --no-print-directory SAN=thread $@
endif
.PHONY: FORCE
FORCE:

define chapter_targets
.PHONY: test-$(call chapter_num,$(1)) run-$(call chapter_num,$(1))
test-$(call chapter_num,$(1)): $(BUILD)/$$(KIND)/$(1)/test_chapter $(BUILD)/$$(KIND)/$(1)/$(1) $(WITH_REDIS) $$(if $$(filter 01-%,$(1)),build/thread/$$(KIND)/$(1)/$(1))
	@echo "== chapter $(1) ($$(KIND)/$(1)) =="
	@$(call chapter_test_env,$$(KIND),$(1)) $(WITH_REDIS) --quiet -- $(BUILD)/$$(KIND)/$(1)/test_chapter

run-$(call chapter_num,$(1)): $(BUILD)/$$(KIND)/$(1)/$(1) $(WITH_REDIS)
	@$(WITH_REDIS) --reuse -- $(BUILD)/$$(KIND)/$(1)/$(1) $$(ARGS)

.PHONY: valgrind-$(call chapter_num,$(1))
valgrind-$(call chapter_num,$(1)):
	@scripts/setup.sh valgrind
	@$(MAKE) --no-print-directory SAN= build/plain/$$(KIND)/$(1)/test_chapter build/plain/$$(KIND)/$(1)/$(1) build/plain/bin/with-redis
	@echo "== valgrind: chapter $(1) ($$(KIND)/$(1)) =="
	@CK_FORK=no $(call chapter_test_env,$$(KIND),$(1)) build/plain/bin/with-redis --quiet -- \
		$$(VALGRIND) build/plain/$$(KIND)/$(1)/test_chapter
endef
$(foreach ch,$(CHAPTERS),$(eval $(call chapter_targets,$(ch))))

# ---- Chapter 08: your own mpsc.c, held to common's mpsc suite ----------------
# Chapter 08's test binary also links the mpsc suite of tests/common/.  The
# chapter's mpsc.o comes before libcommon.a on the link line, so it stands in
# for common/mpsc.o entirely: the linker never takes common's from the archive
# (if it had to, for a function the chapter left out, the link would fail
# with duplicate symbols rather than quietly test common's code).
CH08 := 08-build-your-own-channel
$(foreach kind,chapters solutions starters,$(BUILD)/$(kind)/$(CH08)/test_chapter): $(BUILD)/tests/common/test_mpsc.o

# The suite must catch a wrong channel, not just pass a right one:
# `make test-08-broken` builds the solution with MPSC_BUG_IF_NOT_WHILE (a
# sender waits with `if` instead of `while`), runs the mpsc suite on it, and
# fails unless the suite fails - in the tests that should catch the bug.
CH08_BROKEN := $(BUILD)/broken/$(CH08)
CH08_CATCHES := b10_senders_woken_together_never_overfill_the_channel b12_send_timeout_on_full_times_out_and_keeps_the_value

$(CH08_BROKEN)/mpsc.o: solutions/$(CH08)/mpsc.c | $(SETUP_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -DMPSC_BUG_IF_NOT_WHILE $(CFLAGS) $(PKG_CFLAGS) -c $< -o $@

$(CH08_BROKEN)/test_chapter: $(BUILD)/solutions/$(CH08)/test_chapter.o $(CH08_BROKEN)/mpsc.o $(BUILD)/tests/common/test_mpsc.o $(TEST_SUPPORT_OBJ) $(LIBCOMMON)
	$(CC) $(LDFLAGS) $^ $(PKG_LIBS_REDIS) $(PKG_LIBS_CHECK) -o $@

.PHONY: test-08-broken
test-08-broken: $(CH08_BROKEN)/test_chapter ## Check that the mpsc suite catches a channel that waits with `if`, not `while`
	@log=$(CH08_BROKEN)/test.log; \
	if CK_RUN_SUITE=mpsc $(CH08_BROKEN)/test_chapter > $$log 2>&1; then \
		echo "test-08-broken: the mpsc suite PASSED a channel whose senders wait with 'if': it no longer catches that bug" >&2; exit 1; \
	fi; \
	for t in $(CH08_CATCHES); do \
		grep -q ":$$t:" $$log || { echo "test-08-broken: the suite failed, but not in $$t (see $$log)" >&2; exit 1; }; \
	done; \
	echo "test-08-broken: the mpsc suite catches a wait with 'if' instead of 'while':"; \
	grep -E '^[0-9]+%: Checks' $$log; \
	grep -E ':[EF]:' $$log | sed -E 's/^[^:]*:[0-9]+:[EF]:[^:]*:([^:]*):[0-9]+: (.*)$$/  failed: \1: \2/'

# ---- bench/: benchmarks ------------------------------------------------------
# Always the plain -O2 build: sanitizers would measure themselves.
# bench/run.sh runs the three programs against one throwaway Redis, then
# draws the plots with gnuplot (bench/plots.gp); docs/benchmarks.md says more.

BENCH_OUT := build/bench
BENCH_UTIL_OBJ := $(BUILD)/bench/bench_util.o
BENCH_NAMES := bench_channels bench_redis bench_backpressure bench_pubsub
BENCH_PROGRAMS := $(BENCH_NAMES:%=$(BUILD)/bench/%)
BENCH_MODE := $(if $(QUICK),quick,full)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(BENCH_UTIL_OBJ) $(LIBCOMMON)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $^ $(PKG_LIBS_REDIS) -lm -o $@

.PHONY: bench bench-publish bench-smoke bench-build
# What both bench and bench-smoke need: gnuplot and redis-benchmark, and
# the plain build of the programs.
bench-build:
	@scripts/setup.sh bench
	@$(MAKE) --no-print-directory SAN= $(BENCH_NAMES:%=build/plain/bench/%) build/plain/bin/with-redis

bench: bench-build ## Measure the Redis strategies, the ceiling, channels, backpressure: tables, CSV, plots in build/bench/ (QUICK=1: short)
	build/plain/bin/with-redis --quiet -- bench/run.sh $(BENCH_MODE) $(BENCH_OUT)

bench-publish: ## Copy the last `make bench` plots and results table into docs/
	bench/publish.sh $(BENCH_OUT)

# bench_pubsub measures chapter 09's fan-out: it links the chapter's FINISHED
# subscriber, consumer, wait and message from solutions/ (never a learner's
# chapters/), the code the chapter's tests check.
CH09 := 09-pubsub-fan-out
$(BUILD)/bench/bench_pubsub.o: CPPFLAGS += -Isolutions/$(CH09)
$(BUILD)/bench/bench_pubsub: $(BUILD)/bench/bench_pubsub.o $(BENCH_UTIL_OBJ) \
		$(patsubst %,$(BUILD)/solutions/$(CH09)/%.o,subscriber consumer wait message) $(LIBCOMMON)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $^ $(PKG_LIBS_REDIS) -lm -o $@

bench-smoke: bench-build ## A tiny `make bench`: checks the benchmarks work (right answers, CSV, plots), not their speed
	@build/plain/bin/with-redis --quiet -- bench/run.sh smoke build/bench-smoke > build/bench-smoke.log 2>&1 || \
		{ cat build/bench-smoke.log; echo "bench-smoke: the benchmark run failed (log above)" >&2; exit 1; }
	@bench/smoke-check.sh build/bench-smoke

# ---- Top-level targets -------------------------------------------------------

.PHONY: all
all: $(LIBCOMMON) $(WITH_REDIS) $(TEST_COMMON) $(SNIP) ## Build everything (SAN=address or SAN=thread for a sanitizer build)
all: $(foreach ch,$(CHAPTERS),$(BUILD)/solutions/$(ch)/$(ch) $(BUILD)/chapters/$(ch)/$(ch)) $(BENCH_PROGRAMS)

# Which Check suite or test case to run: `make test-common SUITE=mpsc`,
# `make test-common CASE=close`.  Check reads these two variables itself.
ifneq ($(SUITE),)
  export CK_RUN_SUITE := $(SUITE)
endif
ifneq ($(CASE),)
  export CK_RUN_CASE := $(CASE)
endif

.PHONY: test
test: test-code test-starters test-08-broken check-generated docs-check docs-drift-test bench-smoke site-test ## Run every test (installs what is missing first)

.PHONY: test-code
test-code: test-common test-solutions ## The code's tests only: common/ and every solution (what SAN= runs use)

.PHONY: test-common
test-common: $(TEST_COMMON) $(WITH_REDIS) ## Run common/'s tests (SUITE=mpsc, CASE=... to narrow)
	$(WITH_REDIS) -- $(TEST_COMMON)

# Every chapter's tests against its finished code.  The chapter 01 test
# also needs the TSan build of its program, whatever SAN this run uses.
.PHONY: test-solutions
test-solutions: $(foreach ch,$(CHAPTERS),$(BUILD)/solutions/$(ch)/test_chapter $(BUILD)/solutions/$(ch)/$(ch)) \
		build/thread/solutions/01-shared-client/01-shared-client $(WITH_REDIS) ## Run every chapter's tests against solutions/
	@for ch in $(CHAPTERS); do \
		echo "== chapter $$ch (solutions/$$ch) =="; \
		$(call chapter_test_env,solutions,$$ch) $(WITH_REDIS) --quiet -- $(BUILD)/solutions/$$ch/test_chapter || exit 1; \
	done

# Proof that the exercises are real: every generated starter compiles and
# runs, and from chapter 02 on it fails its own chapter's tests.
.PHONY: test-starters
test-starters: $(foreach ch,$(CHAPTERS),$(BUILD)/starters/$(ch)/test_chapter $(BUILD)/starters/$(ch)/$(ch)) $(WITH_REDIS) ## Check each starter compiles and (from 02 on) fails its tests
	@for ch in $(filter-out 01-%,$(CHAPTERS)); do \
		log=$(BUILD)/starters/$$ch/test.log; \
		if $(call chapter_test_env,starters,$$ch) CK_DEFAULT_TIMEOUT=30 \
			$(WITH_REDIS) --quiet -- $(BUILD)/starters/$$ch/test_chapter > $$log 2>&1; then \
			echo "starter $$ch: PASSES its own tests - the exercise is already solved in the starter" >&2; exit 1; \
		else \
			echo "starter $$ch: fails its tests as it should ($$(grep -E '^[0-9]+%: Checks' $$log | tail -n 1))"; \
		fi; \
	done

# chapters/ must be exactly what snip makes of solutions/.  Compared with
# the committed chapters/ (git HEAD) when this is a git checkout, so that a
# learner's own edits in chapters/ never fail this check.
.PHONY: check-generated
check-generated: $(STARTER_FILES) ## Check that chapters/ is generated from solutions/ and current
	@bad=0; for gen in $(STARTER_FILES); do \
		rel=$${gen#build/starters/}; \
		if git rev-parse --is-inside-work-tree >/dev/null 2>&1 && git cat-file -e HEAD:chapters/$$rel 2>/dev/null; then \
			git show HEAD:chapters/$$rel | cmp -s - $$gen || { echo "chapters/$$rel (committed) differs from its solution's starter" >&2; bad=1; }; \
		else \
			cmp -s chapters/$$rel $$gen || { echo "chapters/$$rel is missing or differs from its solution's starter" >&2; bad=1; }; \
		fi; \
	done; \
	if [ $$bad = 1 ]; then echo "run 'make regenerate-chapters' and commit chapters/ with the solution change" >&2; exit 1; fi; \
	echo "check-generated: $(words $(STARTER_FILES)) starter files match their solutions"

.PHONY: regenerate-chapters
regenerate-chapters: $(STARTER_FILES) ## Rewrite chapters/ from solutions/ (overwrites learner edits!)
	@for gen in $(STARTER_FILES); do rel=$${gen#build/starters/}; mkdir -p chapters/$$(dirname $$rel); cp $$gen chapters/$$rel; done
	@echo "chapters/ regenerated from solutions/"

# Docs: quoted code must match its region, shown output must match a real
# run, every "$ command" must work, every link must lead somewhere, and
# docs/channels.md must name every public channel function.  Output
# commands use the plain build of the solutions, against a throwaway Redis.
# tools/snip.c's top comment has the exact rules.
DOCS := README.md CONTRIBUTING.md bench/README.md $(wildcard docs/*.md)
DOC_PROGRAMS := $(foreach ch,$(CHAPTERS),build/plain/solutions/$(ch)/$(ch)) \
	build/plain/docs/examples/first_get_set \
	build/plain/starters/02-mutex/test_chapter build/plain/starters/02-mutex/02-mutex
# Report blocks (a sanitizer's report, a debugger's stacks) run these too.
DOC_TSAN_PROGRAMS := build/thread/solutions/01-shared-client/01-shared-client
# Words of prose (outside code blocks and comments): a chapter says each
# thing once, where it is first needed, and links to it elsewhere.
CHAPTER_DOCS := $(wildcard docs/[0-9][0-9]-*.md)
WORDS_PER_CHAPTER := 2000
WORDS_01_TO_08 := 13000
# The chapter tests and tables name sections of the texts (their hints), and
# programs and comments cite them in words (docs/NN-name.md, "Section").
HINT_SOURCES := $(wildcard tests/chapters/test_*.c tests/chapters/sections.txt tests/chapters/pitfalls.txt) \
	$(wildcard solutions/*/*.[ch] common/*.[ch] tests/support/*.[ch])
CHANNEL_HEADERS := common/chan.h common/mpsc.h common/oneshot.h common/broadcast.h common/watch.h

# docs/examples/first_get_set.c: the first hiredis program of docs/00-setup.md.
$(BUILD)/docs/examples/first_get_set: $(BUILD)/docs/examples/first_get_set.o $(LIBCOMMON)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $^ $(PKG_LIBS_REDIS) -o $@

.PHONY: docs-check
docs-check: $(SNIP) ## Check that the docs' code, output, commands, links and pictures match the code
	@scripts/setup.sh docs
	@$(MAKE) --no-print-directory SAN= $(DOC_PROGRAMS) build/plain/bin/with-redis >/dev/null
	@$(MAKE) --no-print-directory SAN=thread $(DOC_TSAN_PROGRAMS) >/dev/null
	build/plain/bin/with-redis --quiet -- $(SNIP) check-docs $(DOCS)
	$(SNIP) check-api docs/channels.md $(CHANNEL_HEADERS)
	$(SNIP) check-hints docs $(HINT_SOURCES)
	$(SNIP) check-words $(WORDS_PER_CHAPTER) $(WORDS_01_TO_08) 1 8 $(CHAPTER_DOCS)
	@scripts/check-rust-refused.sh docs/examples/shared_client_refused.rs
	@scripts/diagrams.sh check

.PHONY: docs-sync
docs-sync: $(SNIP) ## Rewrite the docs' code and output blocks from the code
	@$(MAKE) --no-print-directory SAN= $(DOC_PROGRAMS) build/plain/bin/with-redis >/dev/null
	build/plain/bin/with-redis --quiet -- $(SNIP) sync-docs $(DOCS)

# Proof that docs-check catches drift: a copy of a doc with one quoted line
# changed, one link broken and one function left out must each fail it.
.PHONY: docs-drift-test
docs-drift-test: $(SNIP) ## Check that docs-check catches drifted snippets, broken links, missing functions, stale pictures
	@scripts/setup.sh docs
	@scripts/test-docs-drift.sh $(SNIP)

.PHONY: diagrams
diagrams: ## Render docs/diagrams/*.dot to docs/img/*.svg (and PNGs in build/diagrams/ to look at)
	@scripts/setup.sh docs
	@scripts/diagrams.sh render

.PHONY: docs
docs: ## Render docs/*.md to a static site in build/site/ (open build/site/index.html)
	@scripts/setup.sh docs
	@scripts/build-site.sh build/site

.PHONY: site-test
site-test: docs ## Open every page of the site in headless Chromium and check it; screenshot in build/
	@scripts/setup.sh browser
	python3 scripts/site_test.py build/site build/site-screenshot.png

.PHONY: run
run: ## Run the finished program (chapter 07's solution); starts a Redis if none answers
	@$(MAKE) --no-print-directory run-07 SOLUTION=1

.PHONY: progress
progress: $(WITH_REDIS) ## Show which chapters your code in chapters/ passes, and what to read next
	@scripts/progress.sh "$(BUILD)" $(CHAPTERS)

.PHONY: doctor
doctor: ## Check this machine: tools, packages, Redis, sanitizers; says what to fix
	@scripts/doctor.sh

.PHONY: watch
watch: ## Re-run a chapter's tests whenever you save (make watch CH=02)
	@scripts/watch.sh "$(CH)"

# valgrind cannot run sanitizer builds, so it always uses the plain variant.
# CK_FORK=no keeps each test in the process valgrind watches.
VALGRIND := valgrind --quiet --error-exitcode=99 --leak-check=full \
	--show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible \
	--track-origins=yes --child-silent-after-fork=yes

.PHONY: valgrind
valgrind: ## Run common/'s and the solutions' tests under valgrind (plain build)
	@scripts/setup.sh valgrind
	@$(MAKE) --no-print-directory SAN= build/plain/tests/test_common build/plain/bin/with-redis \
		$(foreach ch,$(filter-out 01-%,$(CHAPTERS)),build/plain/solutions/$(ch)/test_chapter build/plain/solutions/$(ch)/$(ch))
	CK_FORK=no TEST_STRESS_SCALE=10 build/plain/bin/with-redis -- $(VALGRIND) build/plain/tests/test_common
	@# Chapter 01 is racy on purpose and is left out.
	@for ch in $(filter-out 01-%,$(CHAPTERS)); do \
		echo "== valgrind: chapter $$ch =="; \
		CK_FORK=no TEST_STRESS_SCALE=10 $(call chapter_test_env,solutions,$$ch) \
			build/plain/bin/with-redis --quiet -- $(VALGRIND) build/plain/solutions/$$ch/test_chapter || exit 1; \
	done

.PHONY: compile_commands.json
compile_commands.json: ## Write compile_commands.json for clangd and other editors
	@scripts/compile-commands.sh $(CC) "-Icommon $(CFLAGS) $(PKG_CFLAGS)" > $@.tmp && mv $@.tmp $@
	@echo "wrote $@"

.PHONY: clean
clean: ## Remove build/ (all variants)
	rm -rf build

.PHONY: help
help: ## List the targets
	@echo "Channels in C - make targets (add SAN=address or SAN=thread for sanitizer builds):"
	@echo ""
	@echo "  run                      Run the finished program (starts a throwaway Redis if needed)"
	@echo "  test                     Run every test (installs what is missing first)"
	@echo "  test-NN                  Run chapter NN's tests on your code in chapters/ (SOLUTION=1: on solutions/)"
	@echo "  run-NN                   Run chapter NN's program (SOLUTION=1, ARGS=\"--threads 8\")"
	@echo "  valgrind-NN              Run chapter NN's tests under valgrind (SOLUTION=1 likewise)"
	@grep -hE '^[a-zA-Z0-9_.-]+:.*## ' $(MAKEFILE_LIST) | grep -vE '^(run|test):' | \
		sed -E 's/^([^:]+):.*## (.*)$$/\1|\2/' | awk -F'|' '{ printf "  %-24s %s\n", $$1, $$2 }'

-include $(shell find $(BUILD) -name "*.d" 2>/dev/null)
