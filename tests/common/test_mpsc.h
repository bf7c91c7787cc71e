/*
 * test_mpsc.h - the mpsc channel's Check suite, shared.
 *
 * tests/common/ runs it against common/mpsc.c.  Chapter 08 links the same
 * suite with the learner's own mpsc.c instead (see the Makefile), so the
 * channel built in that chapter is held to the very tests common's is.
 */
#ifndef TEST_MPSC_H
#define TEST_MPSC_H

#include <check.h>

/* Every test, for common/mpsc.c. */
Suite *mpsc_suite(void);

/* What any correct channel behind mpsc.h must pass: every test except
 * b11 (blocked senders admitted in the order they blocked), a promise that
 * needs a queue of waiters rather than a condition variable. */
Suite *mpsc_contract_suite(void);

#endif
