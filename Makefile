# Makefile - builds, tests and runs the "Channels in C" tutorial.
#
# Everything is built out of tree under build/<variant>/, where the variant
# is `plain` (SAN=none, or no SAN), or the sanitizer chosen with SAN=address
# (ASan+UBSan) or SAN=thread (TSan), with `-hiredis1.2` added for
# HIREDIS=1.2.  Each variant has its own folder, so switching between them
# never needs `make clean`.  One exception to "no SAN means plain": `make
# test-NN` on the learner's code in chapters/ uses the strict build
# (ASan+UBSan+LeakSanitizer) where this machine has it.
#
# Quiet by default: compiler command lines are shown with V=1.
#
# `make help` lists the targets.  Targets that need system packages (hiredis,
# Check, redis-server) run scripts/setup.sh first, which installs what is
# missing on Debian/Ubuntu and names the packages elsewhere.

.DEFAULT_GOAL := all
SHELL := /bin/sh

# ---- Variant and flags -------------------------------------------------------

# No SAN at all (not even an empty one) is what a learner types.
LEARNER_STRICT := $(if $(filter undefined,$(origin SAN)),$(if $(SOLUTION),,yes))
# When every goal is a learner's chapter test (`make test-05`, as `make
# progress` and `make watch` run it too), this whole run takes the strict
# build at once; with other goals beside them, those targets re-run
# themselves in it (strict_rerun, below).
DIGITS := 0 1 2 3 4 5 6 7 8 9
STRICT_GOALS := learner-deps $(filter-out test-01,$(foreach a,$(DIGITS),$(foreach b,$(DIGITS),test-$(a)$(b))))
ifneq ($(LEARNER_STRICT),)
  ifneq ($(MAKECMDGOALS),)
    ifeq ($(filter-out $(STRICT_GOALS),$(MAKECMDGOALS)),)
      LEARNER_CHOICE := $(shell scripts/learner-san.sh $(CC))
      SAN := $(patsubst SAN=%,%,$(filter SAN=%,$(LEARNER_CHOICE)))
      DETECT_LEAKS := $(or $(patsubst DETECT_LEAKS=%,%,$(filter DETECT_LEAKS=%,$(LEARNER_CHOICE))),1)
      LEARNER_STRICT :=
      LEARNER_NOTE := $(if $(filter none,$(SAN)),$(shell scripts/learner-san.sh $(CC) --explain))
    endif
  endif
endif
SAN ?=
ifeq ($(filter-out none,$(SAN)),)
  VARIANT := plain
  SAN_FLAGS :=
else ifeq ($(SAN),address)
  VARIANT := address
  SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
else ifeq ($(SAN),thread)
  VARIANT := thread
  SAN_FLAGS := -fsanitize=thread -fno-omit-frame-pointer
else
  $(error SAN must be none (or empty), 'address' or 'thread' (got '$(SAN)'))
endif

# HIREDIS=1.2: build hiredis 1.2.0 (Debian 13 and Ubuntu 24.04 ship the 1.x
# generation; Debian 12 ships 0.14) from Debian's source package into
# build/hiredis-1.2.0/ (scripts/hiredis-source.sh), and compile and link
# everything against it instead of the system's hiredis, in variant
# folders of its own.  Its headers - adapters included - and its library
# always come from that one folder.
HIREDIS ?=
ifeq ($(HIREDIS),)
  HIREDIS_SUFFIX :=
  HIREDIS_LIB :=
else ifeq ($(HIREDIS),1.2)
  HIREDIS_VERSION := 1.2.0
  HIREDIS_SUFFIX := -hiredis1.2
  HIREDIS_PREFIX := build/hiredis-$(HIREDIS_VERSION)
  HIREDIS_LIB := $(HIREDIS_PREFIX)/lib/libhiredis.a
else
  $(error HIREDIS must be empty (the system's hiredis) or 1.2 (got '$(HIREDIS)'))
endif

VARIANT := $(VARIANT)$(HIREDIS_SUFFIX)
# Command lines are shown with V=1; otherwise only what goes wrong is.
Q := $(if $(V),,@)
# A recursive make, as quiet as this one.
SUBMAKE = $(MAKE) --no-print-directory $(if $(V),,-s)

# The learner's strict build: `make test-NN` on chapters/ with no SAN given
# re-runs itself with what scripts/learner-san.sh answers for this machine
# (SAN=address, or SAN=none where sanitizers do not work).
LEARNER_SAN = `scripts/learner-san.sh $(CC)`
DETECT_LEAKS ?= 1

BUILD := build/$(VARIANT)
# The plain and TSan variants that go with this hiredis, for the targets
# that need those whatever SAN says (valgrind; chapter 01's race proof).
PLAIN_BUILD := build/plain$(HIREDIS_SUFFIX)
TSAN_BUILD := build/thread$(HIREDIS_SUFFIX)
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
ifeq ($(HIREDIS),)
  HIREDIS_CFLAGS = $(shell pkg-config --cflags hiredis 2>/dev/null)
  PKG_LIBS_REDIS = $(shell pkg-config --libs hiredis 2>/dev/null)
  HIREDIS_EXPECTED = $(shell pkg-config --modversion hiredis 2>/dev/null)
else
  # Both spellings, <hiredis/hiredis.h> and <hiredis.h>, as pkg-config gives
  # them for the system's; the library by its path, so the linker cannot
  # pick the system's instead.
  HIREDIS_CFLAGS := -I$(HIREDIS_PREFIX)/include -I$(HIREDIS_PREFIX)/include/hiredis
  PKG_LIBS_REDIS := $(HIREDIS_LIB)
  HIREDIS_EXPECTED := $(HIREDIS_VERSION)
endif
PKG_CFLAGS = $(HIREDIS_CFLAGS) $(shell pkg-config --cflags check 2>/dev/null)
PKG_LIBS_CHECK = $(shell pkg-config --libs check 2>/dev/null)

CFLAGS := -std=c11 $(WARNINGS) -g $(OPT) -D_POSIX_C_SOURCE=200809L -pthread $(SAN_FLAGS) $(EXTRA_CFLAGS)
BASE_CPPFLAGS := -Icommon -MMD -MP
CPPFLAGS := $(BASE_CPPFLAGS)
LDFLAGS := -pthread $(SAN_FLAGS)

# Runtime options for the sanitizers: stop at the first report and make the
# process fail, so a report can never scroll by unnoticed.
export ASAN_OPTIONS := abort_on_error=0:halt_on_error=1:detect_leaks=$(DETECT_LEAKS):exitcode=23
export UBSAN_OPTIONS := halt_on_error=1:print_stacktrace=1:exitcode=23
export TSAN_OPTIONS := halt_on_error=1:second_deadlock_stack=1:exitcode=66

# ---- Setup -------------------------------------------------------------------

SETUP_STAMP := build/.setup-ok

$(SETUP_STAMP): scripts/setup.sh
	@scripts/setup.sh
	@mkdir -p $(@D) && touch $@

# HIREDIS=1.2's hiredis: fetched, built and installed once, shared by every
# variant that uses it.
ifneq ($(HIREDIS),)
$(HIREDIS_LIB): scripts/hiredis-source.sh
	@scripts/hiredis-source.sh $(HIREDIS_VERSION) $(HIREDIS_PREFIX)
endif

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
$(BUILD)/%.o: %.c | $(SETUP_STAMP) $(HIREDIS_LIB)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) -I$(<D) -Itests/support $(CFLAGS) $(PKG_CFLAGS) -c $< -o $@

$(LIBCOMMON): $(COMMON_OBJ)
	@rm -f $@
	$(Q)$(AR) rcs $@ $^

# ---- tools/ ------------------------------------------------------------------

WITH_REDIS := $(BUILD)/bin/with-redis

$(WITH_REDIS): $(BUILD)/tools/with_redis.o $(LIBCOMMON)
	@mkdir -p $(@D)
	$(Q)$(CC) $(LDFLAGS) $^ $(PKG_LIBS_REDIS) -o $@

# ---- tests/common: Check suites for common/ -------------------------------

TEST_SUPPORT_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(wildcard tests/support/*.c))
TEST_COMMON_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(wildcard tests/common/*.c))
TEST_COMMON := $(BUILD)/tests/test_common

# The hiredis test checks that the tests run on the hiredis this build chose
# (recursive `=`: pkg-config is asked after setup has installed it).
$(BUILD)/tests/common/test_redis_client.o: CPPFLAGS = $(BASE_CPPFLAGS) \
	-DHIREDIS_EXPECTED='"$(HIREDIS_EXPECTED)"' -DHIREDIS_STATIC=$(if $(HIREDIS),1,0)

$(TEST_COMMON): $(TEST_COMMON_OBJ) $(TEST_SUPPORT_OBJ) $(LIBCOMMON)
	@mkdir -p $(@D)
	$(Q)$(CC) $(LDFLAGS) $^ $(PKG_LIBS_REDIS) $(PKG_LIBS_CHECK) -o $@


# ---- tools/snip and tools/guide --------------------------------------------
# snip makes starters, planted copies and doc snippets from one source;
# guide runs a chapter's tests and explains a crash.  Both are built without
# sanitizers whatever SAN says: they are tools, not what is tested.

SNIP := build/tools/snip
GUIDE := build/tools/guide
SECTIONS := tests/chapters/sections.txt

build/tools/%: tools/%.c tools/die.h
	@mkdir -p $(@D)
	$(Q)$(CC) -std=c11 $(WARNINGS) -O2 -D_POSIX_C_SOURCE=200809L $< -o $@

# ---- tools/steps: a chapter is its base plus its step ----------------------------
# solutions/steps.txt says which chapter each builds on and which files its
# step may change; tools/steps.c holds the chapters to it and measures them.

STEPS := build/tools/steps
STEPS_MANIFEST := solutions/steps.txt

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
# Two more copies are made for checking: build/solution/NN-name/ (the
# finished code without markers, for `make diff-NN`) and the planted copies
# of `make test-pitfalls` (see below).

# Every folder solutions/NN-name is a chapter: adding a chapter needs no
# edit here.
CHAPTERS := $(sort $(notdir $(wildcard solutions/[0-9][0-9]-*)))
chapter_num = $(firstword $(subst -, ,$(1)))
# The chapter folder of number NN ("04" -> "04-responses").
chapter_of = $(filter $(1)-%,$(CHAPTERS))

SOLUTION_SOURCES := $(wildcard $(CHAPTERS:%=solutions/%/*.[ch]))
STARTER_FILES := $(patsubst solutions/%,build/starters/%,$(SOLUTION_SOURCES))
CLEAN_FILES := $(patsubst solutions/%,build/solution/%,$(SOLUTION_SOURCES))

build/starters/%: solutions/% $(SNIP)
	@mkdir -p $(@D)
	$(Q)$(SNIP) starter $< > $@.tmp && mv $@.tmp $@

build/solution/%: solutions/% $(SNIP)
	@mkdir -p $(@D)
	$(Q)$(SNIP) solution $< > $@.tmp && mv $@.tmp $@

$(BUILD)/starters/%.o: build/starters/%.c | $(SETUP_STAMP) $(HIREDIS_LIB)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) -I$(<D) -Itests/support $(CFLAGS) $(PKG_CFLAGS) -c $< -o $@

# What a chapter's test binary links besides the chapter's own files:
# chapter 08's also runs common's mpsc suite (see below).
CH08 := 08-build-your-own-channel
TEST_EXTRA_OBJ_$(CH08) := $(BUILD)/tests/common/test_mpsc.o

# $(1) kind (chapters, solutions, starters), $(2) its source root, $(3) chapter
define chapter_rules
$(1)_$(3)_SRC := $$(if $$(filter starters,$(1)),$$(patsubst solutions/%,build/starters/%,$$(wildcard solutions/$(3)/*.c)),$$(wildcard $(2)/$(3)/*.c))
$(1)_$(3)_OBJ := $$(patsubst $(2)/%.c,$(BUILD)/$(1)/%.o,$$($(1)_$(3)_SRC))
$(1)_$(3)_HDR := $$(if $$(filter starters,$(1)),$$(patsubst solutions/%,build/starters/%,$$(wildcard solutions/$(3)/*.h)))

$(BUILD)/$(1)/$(3)/$(3): $$($(1)_$(3)_OBJ) $(LIBCOMMON)
	@mkdir -p $$(@D)
	$(Q)$(CC) $(LDFLAGS) $$(filter %.o %.a,$$^) $$(PKG_LIBS_REDIS) -o $$@

$(BUILD)/$(1)/$(3)/test_chapter.o: tests/chapters/test_$(call chapter_num,$(3)).c $$($(1)_$(3)_HDR) | $(SETUP_STAMP) $(HIREDIS_LIB)
	@mkdir -p $$(@D)
	$(Q)$(CC) $(CPPFLAGS) -I$(2)/$(3) -Itests/support $(CFLAGS) $$(PKG_CFLAGS) -c $$< -o $$@

$(BUILD)/$(1)/$(3)/test_chapter: $(BUILD)/$(1)/$(3)/test_chapter.o $$(filter-out %/main.o,$$($(1)_$(3)_OBJ)) $(TEST_EXTRA_OBJ_$(3)) $(TEST_SUPPORT_OBJ) $(LIBCOMMON)
	@mkdir -p $$(@D)
	$(Q)$(CC) $(LDFLAGS) $$(filter %.o,$$^) $$(filter %.a,$$^) $$(PKG_LIBS_REDIS) $$(PKG_LIBS_CHECK) -o $$@

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
	CHAPTER_TSAN_PROGRAM=$(TSAN_BUILD)/$(1)/$(2)/$(2) \
	CHAPTER_DOC=docs/$(2).md CHAPTER_KIND=$(1)

# How every chapter test is run, by `make test-NN`, `make progress` and
# `make test-pitfalls` alike: against a throwaway Redis, through guide,
# which explains a crash.  $(1) kind (its build folder), $(2) chapter.
chapter_test_run = $(call chapter_test_env,$(1),$(2)) $(GUIDE) --chapter $(2) \
	--doc docs/$(2).md --sections $(SECTIONS) $(3) -- \
	$(WITH_REDIS) --quiet -- $(BUILD)/$(1)/$(2)/test_chapter

# The build this run tests, in words, for the banner of `make test-NN`.
VARIANT_WORDS_plain := plain build
VARIANT_WORDS_address := $(if $(filter 0,$(DETECT_LEAKS)),AddressSanitizer + UBSan build (no LeakSanitizer on this machine),AddressSanitizer + UBSan + LeakSanitizer build)
VARIANT_WORDS_thread := ThreadSanitizer build

# The TSan build of a chapter's program, whatever SAN this run uses.
ifneq ($(SAN),thread)
$(TSAN_BUILD)/%: FORCE
	@$(SUBMAKE) SAN=thread $@
endif
.PHONY: FORCE
FORCE:

# `make test-NN` on chapters/ with no SAN given: the same target again, in
# the learner's strict build (chapter 01 keeps its plain build and its
# ThreadSanitizer test: its code is racy on purpose).
strict_for = $(and $(LEARNER_STRICT),$(filter-out 01-%,$(1)))
define strict_rerun
	@set -- $(LEARNER_SAN); \
	if [ "$$$$1" = SAN=none ]; then \
		echo "test-$(call chapter_num,$(1)): $$$$(scripts/learner-san.sh $(CC) --explain)"; \
	fi; \
	$(SUBMAKE) "$$$$@" $(2)
endef

define chapter_targets
.PHONY: test-$(call chapter_num,$(1)) run-$(call chapter_num,$(1)) learner-deps-$(call chapter_num,$(1))
ifneq ($(call strict_for,$(1)),)
test-$(call chapter_num,$(1)):
$(call strict_rerun,$(1),test-$(call chapter_num,$(1)))
else
test-$(call chapter_num,$(1)): $(BUILD)/$$(KIND)/$(1)/test_chapter $(BUILD)/$$(KIND)/$(1)/$(1) $(WITH_REDIS) $(GUIDE) $$(if $$(filter 01-%,$(1)),$(TSAN_BUILD)/$$(KIND)/$(1)/$(1))
	@$(if $(LEARNER_NOTE),echo "test-$(call chapter_num,$(1)): $(LEARNER_NOTE)")
	@echo "== chapter $(1) ($$(KIND)/$(1), $(VARIANT_WORDS_$(VARIANT))) =="
	@$(call chapter_test_run,$$(KIND),$(1))
endif

run-$(call chapter_num,$(1)): $(BUILD)/$$(KIND)/$(1)/$(1) $(WITH_REDIS)
	@$(WITH_REDIS) $$(or $$(RUN_SERVER_$(1)),--reuse) -- $(BUILD)/$$(KIND)/$(1)/$(1) $$(ARGS)

.PHONY: valgrind-$(call chapter_num,$(1))
valgrind-$(call chapter_num,$(1)):
	@scripts/setup.sh valgrind
	@$(SUBMAKE) SAN= $(PLAIN_BUILD)/$$(KIND)/$(1)/test_chapter $(PLAIN_BUILD)/$$(KIND)/$(1)/$(1) $(PLAIN_BUILD)/bin/with-redis
	@echo "== valgrind: chapter $(1) ($$(KIND)/$(1)) =="
	@CK_FORK=no $(call chapter_test_env,$$(KIND),$(1)) $(PLAIN_BUILD)/bin/with-redis --quiet -- \
		$$(VALGRIND) $(PLAIN_BUILD)/$$(KIND)/$(1)/test_chapter

# Put the starter back; compare with the solution (STEP=1: the solution
# with the one before it).  scripts/reset-chapter.sh and diff-chapter.sh.
.PHONY: reset-$(call chapter_num,$(1)) diff-$(call chapter_num,$(1))
reset-$(call chapter_num,$(1)): $(filter build/starters/$(1)/%,$(STARTER_FILES))
	@scripts/reset-chapter.sh $(1)

diff-$(call chapter_num,$(1)): $(CLEAN_FILES)
	@scripts/diff-chapter.sh $(if $(STEP),--step,--yours) $(1) $(CHAPTERS)
endef
$(foreach ch,$(CHAPTERS),$(eval $(call chapter_targets,$(ch))))

# What the chapter tests of the learner's build share, built once before
# `make progress` runs several chapters at a time.
.PHONY: learner-deps
ifneq ($(LEARNER_STRICT),)
learner-deps:
	@set -- $(LEARNER_SAN); $(SUBMAKE) "$$@" learner-deps
else
learner-deps: $(LIBCOMMON) $(TEST_SUPPORT_OBJ) $(WITH_REDIS) $(GUIDE)
endif

# ---- Chapter 08: your own mpsc.c, held to common's mpsc suite ----------------
# Chapter 08's test binary also links the mpsc suite of tests/common/
# (TEST_EXTRA_OBJ above).  The chapter's mpsc.o comes before libcommon.a on
# the link line, so it stands in for common/mpsc.o entirely: the linker never
# takes common's from the archive (if it had to, for a function the chapter
# left out, the link would fail with duplicate symbols rather than quietly
# test common's code).

# The suite must catch a wrong channel, not just pass a right one:
# `make test-08-broken` builds the solution with MPSC_BUG_IF_NOT_WHILE (a
# sender waits with `if` instead of `while`), runs the mpsc suite on it, and
# fails unless the suite fails - in the tests that should catch the bug.
CH08_BROKEN := $(BUILD)/broken/$(CH08)
CH08_CATCHES := b10_senders_woken_together_never_overfill_the_channel b12_send_timeout_on_full_times_out_and_keeps_the_value

$(CH08_BROKEN)/mpsc.o: solutions/$(CH08)/mpsc.c | $(SETUP_STAMP) $(HIREDIS_LIB)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) -DMPSC_BUG_IF_NOT_WHILE $(CFLAGS) $(PKG_CFLAGS) -c $< -o $@

$(CH08_BROKEN)/test_chapter: $(BUILD)/solutions/$(CH08)/test_chapter.o $(CH08_BROKEN)/mpsc.o $(BUILD)/tests/common/test_mpsc.o $(TEST_SUPPORT_OBJ) $(LIBCOMMON)
	$(Q)$(CC) $(LDFLAGS) $^ $(PKG_LIBS_REDIS) $(PKG_LIBS_CHECK) -o $@

.PHONY: test-08-broken
test-08-broken: $(CH08_BROKEN)/test_chapter ## Check that the mpsc suite catches a channel that waits with `if`, not `while`
	@log=$(CH08_BROKEN)/test.log; \
	if CK_RUN_SUITE=mpsc $(CH08_BROKEN)/test_chapter > $$log 2>&1; then \
		echo "test-08-broken: the mpsc suite PASSED a channel whose senders wait with 'if': it no longer catches that bug" >&2; exit 1; \
	fi; \
	for t in $(CH08_CATCHES); do \
		grep -q ":$$t:" $$log || { echo "test-08-broken: the suite failed, but not in $$t (see $$log)" >&2; exit 1; }; \
	done; \
	caught=$$(grep -cE ':[EF]:' $$log); \
	echo "test-08-broken: a channel whose senders wait with 'if' instead of 'while': caught, as it should be, by $$caught tests of the mpsc suite (log: $$log)"; \
	$(call summary,test-08-broken,'if' instead of 'while' caught by $$caught mpsc tests)

# ---- Pitfalls: every mistake the text warns about, planted and caught --------
#
# tests/chapters/pitfalls.txt lists them ("NN | name | Section title | the
# mistake in words"); the solution marks each one (//> pitfall NAME ... //|
# mistake ... //< pitfall NAME, see tools/snip.c).  `make test-pitfalls`
# builds every catalogued pitfall as a learner's chapter - the solution with
# that one mistake planted, in the learner's strict build - runs it the way
# `make test-NN` runs the learner's code, and requires the run to fail with
# a hint to reread the pitfall's section.  Only the files that hold the
# pitfall are copied (build/planted/NN-name/); the rest, and the test
# object, are the solution's own objects, unless the pitfall is in a
# header (then the whole chapter is copied).

PITFALL_CATALOGUE := tests/chapters/pitfalls.txt
# "NN-name" for every catalogued pitfall, in catalogue order.
PITFALLS := $(shell sed -n 's/^[[:space:]]*\([0-9][0-9]\)[[:space:]]*|[[:space:]]*\([^|[:space:]]*\)[[:space:]]*|.*/\1-\2/p' $(PITFALL_CATALOGUE) 2>/dev/null)
# "FILE@NN-name" for every pitfall marker in solutions/.
PITFALL_MARKS := $(shell grep -Ho '//> pitfall [A-Za-z0-9_.-]*' $(SOLUTION_SOURCES) 2>/dev/null | \
	sed 's,^\(solutions/\([0-9][0-9]\)-[^:]*\)://> pitfall ,\1@\2-,')
# How many pitfall runs at once: they mostly wait on Redis and timeouts.
PITFALL_JOBS ?= 4

# $(1) NN-name id, $(2) chapter folder, $(3) pitfall name, $(4) planted files
define pitfall_rules
PLANT_$(1) := build/planted/$(1)/$(2)
# The section its hint must name: a run is ended as soon as a failed test
# has named it (guide --stop-at); the rest could not change the verdict.
PITFALL_SECTION_$(1) := $$(shell awk -F'|' -v nn=$(call chapter_num,$(1)) -v name=$(3) \
	'{ for (i = 1; i <= NF; i++) gsub(/^[ \t]+|[ \t]+$$$$/, "", $$$$i) } $$$$1 == nn && $$$$2 == name { print $$$$3 }' $(PITFALL_CATALOGUE))
PLANT_$(1)_WHOLE := $$(filter %.h,$(4))
PLANT_$(1)_FILES := $$(if $$(PLANT_$(1)_WHOLE),$$(wildcard solutions/$(2)/*.[ch]),$(4))
PLANT_$(1)_C := $$(filter %.c,$$(PLANT_$(1)_FILES))
PLANT_$(1)_OBJ := $$(patsubst solutions/$(2)/%.c,$(BUILD)/planted/$(1)/$(2)/%.o,$$(PLANT_$(1)_C)) \
	$$(filter-out $$(patsubst solutions/%.c,$(BUILD)/solutions/%.o,$$(PLANT_$(1)_C)),$$(solutions_$(2)_OBJ))
PLANT_$(1)_TEST_OBJ := $$(if $$(PLANT_$(1)_WHOLE),$(BUILD)/planted/$(1)/$(2)/test_chapter.o,$(BUILD)/solutions/$(2)/test_chapter.o)

build/planted/$(1)/$(2)/%: solutions/$(2)/% $(SNIP)
	@mkdir -p $$(@D)
	$(Q)$(SNIP) plant $$< $(3) > $$@.tmp && mv $$@.tmp $$@

$(BUILD)/planted/$(1)/$(2)/%.o: build/planted/$(1)/$(2)/%.c $$(patsubst solutions/%,build/planted/$(1)/%,$$(filter %.h,$$(PLANT_$(1)_FILES))) | $(SETUP_STAMP)
	@mkdir -p $$(@D)
	$(Q)$(CC) $(CPPFLAGS) -I$$(<D) -Isolutions/$(2) -Itests/support $(CFLAGS) $$(PKG_CFLAGS) -c $$< -o $$@

$(BUILD)/planted/$(1)/$(2)/test_chapter.o: tests/chapters/test_$(call chapter_num,$(2)).c $$(patsubst solutions/%,build/planted/$(1)/%,$$(filter %.h,$$(PLANT_$(1)_FILES))) | $(SETUP_STAMP)
	@mkdir -p $$(@D)
	$(Q)$(CC) $(CPPFLAGS) -Ibuild/planted/$(1)/$(2) -Itests/support $(CFLAGS) $$(PKG_CFLAGS) -c $$< -o $$@

$(BUILD)/planted/$(1)/$(2)/$(2): $$(PLANT_$(1)_OBJ) $(LIBCOMMON)
	@mkdir -p $$(@D)
	$(Q)$(CC) $(LDFLAGS) $$(filter %.o %.a,$$^) $$(PKG_LIBS_REDIS) -o $$@

$(BUILD)/planted/$(1)/$(2)/test_chapter: $$(PLANT_$(1)_TEST_OBJ) $$(filter-out %/main.o,$$(PLANT_$(1)_OBJ)) $(TEST_EXTRA_OBJ_$(2)) $(TEST_SUPPORT_OBJ) $(LIBCOMMON)
	@mkdir -p $$(@D)
	$(Q)$(CC) $(LDFLAGS) $$(filter %.o,$$^) $$(filter %.a,$$^) $$(PKG_LIBS_REDIS) $$(PKG_LIBS_CHECK) -o $$@

# The run: the learner's test, the same way `make test-NN` runs it, but
# Check also logs each test's result as it ends (CK_LOG_FILE_NAME), so that
# guide can end the run at the first failure naming the pitfall's section.  It
# never fails here: what it did is written to verdict (exit status and
# seconds) and test.log, and scripts/pitfalls.sh judges.
.PHONY: pitfall-run-$(1)
pitfall-run-$(1): $(BUILD)/planted/$(1)/$(2)/test_chapter $(BUILD)/planted/$(1)/$(2)/$(2) $(WITH_REDIS) $(GUIDE)
	@dir=$(BUILD)/planted/$(1); rm -f $$$$dir/verdict; start=$$$$(date +%s.%N); \
	CK_LOG_FILE_NAME=/dev/stderr $(call chapter_test_run,planted/$(1),$(2),--stop-at "reread \"$$(PITFALL_SECTION_$(1))\"") > $$$$dir/test.log 2>&1; rc=$$$$?; \
	echo "$$$$rc $$$$start $$$$(date +%s.%N)" > $$$$dir/verdict
endef
$(foreach id,$(PITFALLS),$(eval $(call pitfall_rules,$(id),$(call chapter_of,$(call chapter_num,$(id))),$(patsubst $(call chapter_num,$(id))-%,%,$(id)),$(patsubst %@$(id),%,$(filter %@$(id),$(PITFALL_MARKS))))))

.PHONY: test-pitfalls pitfalls-run
test-pitfalls: $(SNIP) ## Plant every mistake of tests/chapters/pitfalls.txt and check the learner's make test-NN catches each one
	@scripts/pitfalls.sh check $(SNIP) $(PITFALL_CATALOGUE) $(SECTIONS)
	@set -- $(LEARNER_SAN); $(SUBMAKE) "$$@" pitfalls-run

# (internal) in the learner's build: run them all, then judge.
pitfalls-run:
	@rm -f $(PITFALLS:%=$(BUILD)/planted/%/verdict); started=$$(date +%s); \
	$(SUBMAKE) -k -j$(PITFALL_JOBS) $(PITFALLS:%=pitfall-run-%) || true; \
	PITFALL_WALL=$$(($$(date +%s) - started)) PITFALL_JOBS=$(PITFALL_JOBS) \
		scripts/pitfalls.sh report $(PITFALL_CATALOGUE) $(BUILD)/planted

# ---- Chapter 10: the pool on a Redis Cluster ---------------------------------
# `make run-10` needs a cluster, not one server: with-redis --cluster starts a
# throwaway one (three masters) for the run.  The chapter's tests start their
# own clusters (tests/chapters/test_10.c), so test-10 needs nothing here.
RUN_SERVER_10-redis-cluster := --cluster
# ---- Chapter 11: libuv, for the event loop ---------------------------------------
# Only chapter 11 and its benchmark use libuv (hiredis's adapter,
# <hiredis/adapters/libuv.h>, comes from whichever hiredis the include path
# finds): their objects get libuv's compile flags and their programs link
# it; nothing else does.
CH11 := 11-event-loop-tasks
PKG_CFLAGS_UV = $(shell pkg-config --cflags libuv 2>/dev/null)
PKG_LIBS_UV = $(shell pkg-config --libs libuv 2>/dev/null)
$(foreach kind,chapters solutions starters,$(BUILD)/$(kind)/$(CH11)/%.o): PKG_CFLAGS += $(PKG_CFLAGS_UV)
$(foreach kind,chapters solutions starters,$(BUILD)/$(kind)/$(CH11)/$(CH11) $(BUILD)/$(kind)/$(CH11)/test_chapter): \
	PKG_LIBS_REDIS += $(PKG_LIBS_UV)
# The planted copies of its pitfalls (make test-pitfalls) likewise.
CH11_PLANTED := $(patsubst %,$(BUILD)/planted/%/$(CH11),$(filter 11-%,$(PITFALLS)))
$(CH11_PLANTED:%=%/%.o): PKG_CFLAGS += $(PKG_CFLAGS_UV)
$(foreach p,$(CH11_PLANTED),$(p)/$(CH11) $(p)/test_chapter): PKG_LIBS_REDIS += $(PKG_LIBS_UV)

# ---- bench/: benchmarks ------------------------------------------------------
# Always the plain -O2 build: sanitizers would measure themselves.
# bench/run.sh runs the four programs against one throwaway Redis, then
# draws the plots with gnuplot (bench/plots.gp); docs/benchmarks.md says more.

BENCH_OUT := build/bench
BENCH_UTIL_OBJ := $(BUILD)/bench/bench_util.o
BENCH_NAMES := bench_channels bench_redis bench_backpressure bench_pubsub bench_cluster bench_eventloop
BENCH_PROGRAMS := $(BENCH_NAMES:%=$(BUILD)/bench/%)
BENCH_MODE := $(if $(QUICK),quick,full)
# bench_cluster runs these two chapter programs as they ship (see its top comment).
BENCH_CHAPTER_PROGRAMS := build/plain/solutions/07-connection-pool/07-connection-pool \
	build/plain/solutions/10-redis-cluster/10-redis-cluster

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(BENCH_UTIL_OBJ) $(LIBCOMMON)
	@mkdir -p $(@D)
	$(Q)$(CC) $(LDFLAGS) $^ $(PKG_LIBS_REDIS) -lm -o $@

# bench_eventloop measures chapter 11's own code: its solution's modules
# (not its main.c) are linked in, with libuv.
CH11_BENCH_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(filter-out %/main.c,$(wildcard solutions/$(CH11)/*.c)))
$(BUILD)/bench/bench_eventloop.o: CPPFLAGS += -Isolutions/$(CH11)
$(BUILD)/bench/bench_eventloop.o: PKG_CFLAGS += $(PKG_CFLAGS_UV)
$(BUILD)/bench/bench_eventloop: $(BUILD)/bench/bench_eventloop.o $(CH11_BENCH_OBJ) $(BENCH_UTIL_OBJ) $(LIBCOMMON)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $^ $(PKG_LIBS_REDIS) $(PKG_LIBS_UV) -lm -o $@

.PHONY: bench bench-publish bench-smoke bench-build
# What both bench and bench-smoke need: gnuplot and redis-benchmark, and
# the plain build of the programs.
bench-build:
	@scripts/setup.sh bench
	@$(SUBMAKE) SAN= HIREDIS= $(BENCH_NAMES:%=build/plain/bench/%) build/plain/bin/with-redis \
		$(BENCH_CHAPTER_PROGRAMS)

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
	@$(call summary,bench-smoke,3 benchmarks ran: right answers$(,) CSV$(,) tables$(,) plots)

# ---- Top-level targets -------------------------------------------------------

.PHONY: all
all: $(LIBCOMMON) $(WITH_REDIS) $(TEST_COMMON) $(SNIP) $(STEPS) ## Build everything (SAN=address or SAN=thread for a sanitizer build)
all: $(foreach ch,$(CHAPTERS),$(BUILD)/solutions/$(ch)/$(ch) $(BUILD)/chapters/$(ch)/$(ch)) $(BENCH_PROGRAMS)

# Which Check suite or test case to run: `make test-common SUITE=mpsc`,
# `make test-common CASE=close`.  Check reads these two variables itself.
ifneq ($(SUITE),)
  export CK_RUN_SUITE := $(SUITE)
endif
ifneq ($(CASE),)
  export CK_RUN_CASE := $(CASE)
endif

# Records one part's line for the summary `make test` ends with
# (scripts/test-summary.sh).  $(1) the part, $(2) what it checked.
summary = mkdir -p build/summary && printf '%s\t%s\n' "$$(date +%s)" "$(2)" > build/summary/$(1)
, := ,

# The parts of `make test`, in the order they run.  Each prints a line or
# two when it passes, and everything it has when it fails.
TEST_PARTS := test-common test-solutions test-starters test-08-broken test-pitfalls \
	check-generated check-steps steps-drift-test docs-check docs-drift-test bench-smoke \
	site-test test-secrets

.PHONY: test
test: ## Check the whole repository: code, solutions, starters, pitfalls, docs, site, benchmarks
	@rm -rf build/summary; started=$$(date +%s); \
	$(SUBMAKE) $(TEST_PARTS); rc=$$?; \
	scripts/test-summary.sh build/summary $$rc $$started $(TEST_PARTS); exit $$rc

.PHONY: test-code
test-code: test-common test-solutions ## The code's tests only: common/ and every solution (what SAN= runs use)

.PHONY: test-common
test-common: $(TEST_COMMON) $(WITH_REDIS) ## Run common/'s tests (SUITE=mpsc, CASE=... to narrow)
	@rm -f $(BUILD)/tests/checks.count
	@WITH_REDIS_PROGRAM=$(WITH_REDIS) scripts/quiet-run.sh "test-common ($(VARIANT))" $(BUILD)/tests/test_common.log $(BUILD)/tests/checks.count -- \
		$(WITH_REDIS) --quiet -- $(TEST_COMMON)
	@$(call summary,test-common,$$(cat $(BUILD)/tests/checks.count) checks of common/ (channels$(,) Redis client$(,) harness))

# Every chapter's tests against its finished code, the way `make test-NN`
# runs them.  The chapter 01 test also needs the TSan build of its
# program, whatever SAN this run uses.
.PHONY: test-solutions
test-solutions: $(foreach ch,$(CHAPTERS),$(BUILD)/solutions/$(ch)/test_chapter $(BUILD)/solutions/$(ch)/$(ch)) \
		$(TSAN_BUILD)/solutions/01-shared-client/01-shared-client $(WITH_REDIS) $(GUIDE) ## Run every chapter's tests against solutions/
	@count=$(BUILD)/solutions/checks.count; rm -f $$count; \
	$(SUBMAKE) -j$(TEST_JOBS) $(CHAPTERS:%=solution-run-%) && \
	$(call summary,test-solutions,$$(awk '{ n += $$1 } END { print n }' $$count) checks over the $(words $(CHAPTERS)) chapters' solutions)

# The chapters' suites run TEST_JOBS at a time: most of a suite's time is
# spent waiting for Redis, a private server or a bound, not computing.
TEST_JOBS ?= 2
solution-run-%:
	@$(call chapter_test_env,solutions,$*) scripts/quiet-run.sh "solution $* ($(VARIANT))" \
		$(BUILD)/solutions/$*/test.log $(BUILD)/solutions/checks.count -- $(GUIDE) --chapter $* \
		--doc docs/$*.md --sections $(SECTIONS) -- $(WITH_REDIS) --quiet -- $(BUILD)/solutions/$*/test_chapter

# Proof that the exercises are real: every generated starter compiles and
# runs, and from chapter 02 on its own chapter's tests catch the TODOs.
.PHONY: test-starters
# One failed test is enough to show it, so each run ends at its first
# failure (guide --stop-at, with Check logging each result as it ends).
test-starters: $(foreach ch,$(CHAPTERS),$(BUILD)/starters/$(ch)/test_chapter $(BUILD)/starters/$(ch)/$(ch)) $(WITH_REDIS) $(GUIDE) ## Check each starter compiles and (from 02 on) fails its tests
	@for ch in $(filter-out 01-%,$(CHAPTERS)); do \
		log=$(BUILD)/starters/$$ch/test.log; \
		if CK_LOG_FILE_NAME=/dev/stderr CK_DEFAULT_TIMEOUT=30 \
			$(call chapter_test_run,starters,$$ch,--stop-at ":F:") > $$log 2>&1; then \
			echo "starter $$ch: PASSES its own tests - the exercise is already solved in the starter" >&2; exit 1; \
		else \
			echo "starter $$ch: caught, as it should be (first failure: $$(sed -n 's/^[^:]*:[0-9]*:[FE]:[^:]*:\([^:]*\):.*/\1/p' $$log | head -n 1))"; \
		fi; \
	done; \
	$(call summary,test-starters,$(words $(filter-out 01-%,$(CHAPTERS))) starters build and run; their tests catch their TODOs)

# Each chapter is the chapter it builds on plus its step, within the size
# targets: see solutions/steps.txt and CONTRIBUTING.md.
.PHONY: check-steps stats
check-steps: $(STEPS) ## Check that each chapter is its base plus its step (solutions/steps.txt), within the size targets
	@log=build/check-steps.log; mkdir -p build; \
	if ! $(STEPS) check $(STEPS_MANIFEST) > $$log 2>&1; then cat $$log >&2; exit 1; fi; \
	if [ -n "$(V)" ]; then cat $$log; else grep '^steps:' $$log; fi; \
	$(call summary,check-steps,$(words $(CHAPTERS)) chapters: each its base plus its step$(,) main.c and size bounds hold)

stats: $(STEPS) ## Each chapter's lines of code, its main.c's, and the size of its step against its base
	@$(STEPS) stats $(STEPS_MANIFEST)

# Proof that check-steps catches drift: an inherited file changed by a
# line, a step too large, a file or a chapter the manifest does not list.
.PHONY: steps-drift-test
steps-drift-test: $(STEPS) ## Check that check-steps catches a drifted inherited file, a step too large, an unlisted file
	@log=build/steps-drift-test.log; mkdir -p build; \
	if ! scripts/test-steps-drift.sh $(STEPS) > $$log 2>&1; then cat $$log >&2; exit 1; fi; \
	if [ -n "$(V)" ]; then cat $$log; else tail -n 1 $$log; fi; \
	$(call summary,steps-drift-test,$$(grep -c '^steps-drift-test: ok' $$log) cases: each kind of step drift caught)

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
	echo "check-generated: $(words $(STARTER_FILES)) starter files match their solutions"; \
	$(call summary,check-generated,$(words $(STARTER_FILES)) files of chapters/ match their solutions)

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
	$(Q)$(CC) $(LDFLAGS) $^ $(PKG_LIBS_REDIS) -o $@

# The finished code of an exercise is shown only folded, after the learner's
# attempt (tools/snip.c, "Folded solutions"): every doc is held to it
# (FOLDED_SOLUTIONS=converted holds only the docs that already fold one).
FOLDED_SOLUTIONS ?= all
# The chapters with an exercise: their pages must fold a solution (site-test).
EXERCISE_CHAPTERS := $(sort $(foreach f,$(shell grep -l '//> exercise' solutions/*/*.[ch] 2>/dev/null),$(word 2,$(subst /, ,$(f)))))

.PHONY: docs-check
docs-check: $(SNIP) ## Check that the docs' code, output, commands, links and pictures match the code
	@scripts/setup.sh docs
	@$(SUBMAKE) SAN= HIREDIS= $(DOC_PROGRAMS) build/plain/bin/with-redis >/dev/null
	@$(SUBMAKE) SAN=thread HIREDIS= $(DOC_TSAN_PROGRAMS) >/dev/null
	@log=build/docs-check.log; \
	if ! build/plain/bin/with-redis --quiet -- $(SNIP) check-docs --folded-solutions=$(FOLDED_SOLUTIONS) $(DOCS) > $$log 2>&1; then \
		grep -v 'problem(s)$$' $$log >&2; echo "docs-check: the docs above do not match the code (all of it in $$log)" >&2; exit 1; \
	fi; \
	[ -n "$(V)" ] && cat $$log; \
	totals=$$(awk '/problem\(s\)$$/ { d++; s += $$2; f += substr($$4, 2); o += $$7; r += $$10; c += $$12; l += $$14 } \
		END { printf "%d docs: %d snippets (%d folded), %d outputs, %d reports, %d commands, %d links", d, s, f, o, r, c, l }' $$log); \
	echo "docs-check: $$totals: all match (folded solutions required in: $(FOLDED_SOLUTIONS) docs)"; \
	$(SNIP) check-api docs/channels.md $(CHANNEL_HEADERS) && \
	$(SNIP) check-hints docs $(HINT_SOURCES) && \
	words=$$($(SNIP) check-words $(WORDS_PER_CHAPTER) $(WORDS_01_TO_08) 1 8 $(CHAPTER_DOCS)) && \
	{ [ -z "$(V)" ] || echo "$$words"; echo "$$words" | tail -n 1; } && \
	rust=$$(scripts/check-rust-refused.sh docs/examples/shared_client_refused.rs) && echo "$$rust" && \
	scripts/diagrams.sh check && \
	case "$$rust" in *"NOT CHECKED"*) rust=" (no rustc: 01's Rust claim unchecked)";; *) rust="";; esac && \
	$(call summary,docs-check,$$totals$$rust)

.PHONY: docs-sync
docs-sync: $(SNIP) ## Rewrite the docs' code and output blocks from the code
	@$(SUBMAKE) SAN= HIREDIS= $(DOC_PROGRAMS) build/plain/bin/with-redis >/dev/null
	build/plain/bin/with-redis --quiet -- $(SNIP) sync-docs $(DOCS)

# Proof that docs-check catches drift: a copy of a doc with one quoted line
# changed, one link broken and one function left out must each fail it.
.PHONY: docs-drift-test
docs-drift-test: $(SNIP) ## Check that docs-check catches drifted snippets, broken links, missing functions, stale pictures
	@scripts/setup.sh docs
	@log=build/docs-drift-test.log; mkdir -p build; \
	if ! scripts/test-docs-drift.sh $(SNIP) > $$log 2>&1; then cat $$log; exit 1; fi; \
	[ -n "$(V)" ] && cat $$log; tail -n 1 $$log; \
	$(call summary,docs-drift-test,$$(grep -c '^docs-drift-test: ok' $$log) cases: each kind of drift caught$(,) its place named)

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
	@python3 scripts/site_test.py $(if $(V),--verbose) --exercises $(subst $() ,$(,),$(EXERCISE_CHAPTERS)) \
		build/site build/site-screenshot.png build/site-test.summary
	@$(call summary,site-test,$$(cat build/site-test.summary))

.PHONY: run
run: ## Run the finished program (chapter 07's solution); starts a Redis if none answers
	@$(SUBMAKE) run-07 SOLUTION=1

# progress runs `make test-NN` for each chapter whose sources, tests,
# common/ or build flags changed since its last run, and reuses the last
# result of the others (scripts/progress.sh).
.PHONY: progress
progress: ## Show which chapters your code in chapters/ passes (in the strict build), and what to read next
	@scripts/progress.sh "$(if $(filter command line,$(origin SAN)),SAN=$(SAN))" \
		"CC=$(CC) OPT=$(OPT) EXTRA_CFLAGS=$(EXTRA_CFLAGS) CI=$(CI)" $(CHAPTERS)

# doctor reports what a learner's `make test-NN` builds and runs with: the
# SAN given on the command line, or else what scripts/learner-san.sh picks
# for this machine (the strict build where it works), as `make test-NN` does.
.PHONY: doctor
doctor: ## Check this machine: tools, packages, Redis, sanitizers; says what to fix
	@choice="$(if $(filter command line,$(origin SAN)),SAN=$(SAN),$$(scripts/learner-san.sh $(CC)))"; \
	san=$${choice#SAN=}; san=$${san%% *}; \
	case "$$san" in address|thread) variant=$$san ;; *) variant=plain san=none ;; esac; \
	case "$$choice" in *DETECT_LEAKS=0*) san="$$san-no-leaks" ;; esac; \
	DOCTOR_TEST_BUILD="build/$$variant$(HIREDIS_SUFFIX)" DOCTOR_TEST_SAN="$$san" \
		DOCTOR_HIREDIS='$(HIREDIS)' scripts/doctor.sh '$(WITH_REDIS)'

# A password in REDIS_URL is never printed and never on a command line:
# `make run` and `make doctor` against a server that has one.
.PHONY: test-secrets
test-secrets: ## Check that make run and make doctor never show a REDIS_URL password, in output or in any argv
	@scripts/setup.sh strace
	@$(MAKE) --no-print-directory SAN= HIREDIS= build/plain/bin/with-redis build/plain/solutions/07-connection-pool/07-connection-pool >/dev/null
	@log=build/test-secrets.log; mkdir -p build; \
	if ! build/plain/bin/with-redis --quiet -- tests/scripts/test_secrets.sh > $$log 2>&1; then cat $$log >&2; exit 1; fi; \
	tail -n 1 $$log; \
	$(call summary,test-secrets,$$(sed -n 's/^test-secrets: \([0-9]*\) checks.*/\1/p' $$log) checks: no REDIS_URL password in any output or argv)

.PHONY: watch
watch: ## Re-run a chapter's tests whenever you save (make watch CH=02)
	@scripts/watch.sh "$(CH)"

# valgrind cannot run sanitizer builds, so it always uses the plain variant.
# CK_FORK=no keeps each test in the process valgrind watches.
VALGRIND := valgrind --quiet --error-exitcode=99 --leak-check=full \
	--show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible \
	--track-origins=yes --child-silent-after-fork=yes --suppressions=tests/valgrind.supp

.PHONY: valgrind
# valgrind runs a program's threads one at a time, so each suite under it
# keeps about one core busy: the suites run VALGRIND_JOBS at a time, each
# into a log of its own, and are reported in order once all have run.
# Chapter 01 is racy on purpose and is left out.
VALGRIND_JOBS ?= 2
VALGRIND_SUITES := common $(filter-out 01-%,$(CHAPTERS))
VALGRIND_OUT := $(PLAIN_BUILD)/valgrind

valgrind: ## Run common/'s and the solutions' tests under valgrind (plain build; VALGRIND_JOBS=2 at once)
	@scripts/setup.sh valgrind
	@$(SUBMAKE) SAN= $(PLAIN_BUILD)/tests/test_common $(PLAIN_BUILD)/bin/with-redis \
		$(foreach ch,$(filter-out 01-%,$(CHAPTERS)),$(PLAIN_BUILD)/solutions/$(ch)/test_chapter $(PLAIN_BUILD)/solutions/$(ch)/$(ch))
	@rm -rf $(VALGRIND_OUT); mkdir -p $(VALGRIND_OUT)
	@$(SUBMAKE) SAN= -k -j$(VALGRIND_JOBS) $(VALGRIND_SUITES:%=valgrind-run-%) || true
	@bad=0; for suite in $(VALGRIND_SUITES); do \
		log=$(VALGRIND_OUT)/$$suite.log; rc=$$(cat $(VALGRIND_OUT)/$$suite.rc 2>/dev/null || echo "not run"); \
		if [ "$$rc" = 0 ]; then \
			echo "valgrind: $$suite: $$(grep -E '^[0-9]+%: Checks' $$log | tail -n 1), no valgrind errors"; \
		else \
			cat $$log; echo "valgrind: $$suite FAILED (exit status $$rc; log in $$log)" >&2; bad=1; \
		fi; \
	done; exit $$bad

.PHONY: valgrind-run-common
valgrind-run-common:
	@CK_FORK=no TEST_STRESS_SCALE=10 WITH_REDIS_PROGRAM=$(PLAIN_BUILD)/bin/with-redis \
		$(PLAIN_BUILD)/bin/with-redis --quiet -- $(VALGRIND) $(PLAIN_BUILD)/tests/test_common \
		> $(VALGRIND_OUT)/common.log 2>&1; echo $$? > $(VALGRIND_OUT)/common.rc

valgrind-run-%:
	@CK_FORK=no TEST_STRESS_SCALE=10 $(call chapter_test_env,solutions,$*) \
		$(PLAIN_BUILD)/bin/with-redis --quiet -- $(VALGRIND) $(PLAIN_BUILD)/solutions/$*/test_chapter \
		> $(VALGRIND_OUT)/$*.log 2>&1; echo $$? > $(VALGRIND_OUT)/$*.rc

.PHONY: compile_commands.json
compile_commands.json: ## Write compile_commands.json for clangd and other editors
	@scripts/compile-commands.sh $(CC) "-Icommon $(CFLAGS) $(PKG_CFLAGS)" > $@.tmp && mv $@.tmp $@
	@echo "wrote $@"

.PHONY: clean
clean: ## Remove build/ (all variants)
	rm -rf build

.PHONY: help
help: ## List the targets
	@echo "Channels in C - make targets (SAN=address, SAN=thread or SAN=none picks a build; V=1 shows commands):"
	@echo ""
	@echo "For learners:"
	@echo "  run                      Run the finished program (starts a throwaway Redis if needed)"
	@echo "  test-NN                  Run chapter NN's tests on your code in chapters/, in the strict build"
	@echo "                           (ASan+UBSan+LeakSanitizer; SAN=none: plain; SOLUTION=1: on solutions/)"
	@echo "  run-NN                   Run chapter NN's program (SOLUTION=1, ARGS=\"--threads 8\")"
	@echo "  reset-NN                 Put chapter NN's starter back (your copy is saved under build/saved/ first)"
	@echo "  diff-NN                  Show your chapter NN against the solution (STEP=1: what NN adds to the chapter before)"
	@echo "  valgrind-NN              Run chapter NN's tests under valgrind (SOLUTION=1 likewise)"
	@echo ""
	@echo "For the whole repository:"
	@echo "  test                     Check everything but your code: solutions, starters, pitfalls, docs, site, benchmarks"
	@echo ""
	@echo "All the other targets:"
	@grep -hE '^[a-zA-Z0-9_.-]+:.*## ' $(MAKEFILE_LIST) | grep -vE '^(run|test):' | \
		sed -E 's/^([^:]+):.*## (.*)$$/\1|\2/' | awk -F'|' '{ printf "  %-24s %s\n", $$1, $$2 }'

-include $(shell find $(BUILD) -name "*.d" 2>/dev/null)
