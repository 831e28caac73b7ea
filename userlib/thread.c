// SPDX-License-Identifier: MIT
/*
 * libblkbatch: one ring per thread.
 *
 * The design that won in the field: every thread submits and reaps on its
 * own SQ and CQ, so the I/O path shares no lock and no cache line between
 * threads.  A thread's ring is made on its first request (the one
 * allocation, off the I/O path) and torn down when the thread exits.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "libblkbatch.h"

#define THREAD_RING_DEPTH	64

static unsigned int cfg_depth = THREAD_RING_DEPTH;
static unsigned int cfg_flags;

static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t key;
static int key_err;
static __thread struct blkbatch_ring *thread_ring;

/*
 * The SQPOLL ring whose SQ thread the others attach to.  Taken only when
 * a ring is made or destroyed, never on the I/O path.
 */
static pthread_mutex_t sq_lock = PTHREAD_MUTEX_INITIALIZER;
static struct blkbatch_ring *sq_owner;

static void ring_destroy(void *p)
{
	pthread_mutex_lock(&sq_lock);
	if (sq_owner == p)
		sq_owner = NULL;	/* the SQ thread lives on in the others */
	blkbatch_ring_exit(p);
	pthread_mutex_unlock(&sq_lock);
	free(p);
}

static int ring_create(struct blkbatch_ring *r, unsigned int depth,
		       unsigned int flags)
{
	int ret;

	if (!(flags & BLKBATCH_RING_SQPOLL))
		return blkbatch_ring_init(r, depth, flags);
	pthread_mutex_lock(&sq_lock);
	ret = blkbatch_ring_init_shared(r, depth, flags, sq_owner);
	if (!ret && !sq_owner)
		sq_owner = r;
	pthread_mutex_unlock(&sq_lock);
	return ret;
}

static void key_init(void)
{
	key_err = pthread_key_create(&key, ring_destroy);
}

int blkbatch_thread_ring_config(unsigned int depth, unsigned int flags)
{
	if (!depth || (flags & ~BLKBATCH_RING_ALL))
		return -EINVAL;
	/* Read by threads creating their rings later; no ordering needed. */
	__atomic_store_n(&cfg_depth, depth, __ATOMIC_RELAXED);
	__atomic_store_n(&cfg_flags, flags, __ATOMIC_RELAXED);
	return 0;
}

int blkbatch_thread_ring(struct blkbatch_ring **rp)
{
	struct blkbatch_ring *r = thread_ring;
	int ret;

	if (r) {
		*rp = r;
		return 0;
	}
	pthread_once(&key_once, key_init);
	if (key_err)
		return -key_err;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	ret = ring_create(r, __atomic_load_n(&cfg_depth, __ATOMIC_RELAXED),
			  __atomic_load_n(&cfg_flags, __ATOMIC_RELAXED));
	if (ret) {
		free(r);
		return ret;
	}
	ret = pthread_setspecific(key, r);
	if (ret) {
		ring_destroy(r);
		return -ret;
	}
	thread_ring = r;
	*rp = r;
	return 0;
}

void blkbatch_thread_ring_exit(void)
{
	struct blkbatch_ring *r = thread_ring;

	if (!r)
		return;
	pthread_setspecific(key, NULL);
	thread_ring = NULL;
	ring_destroy(r);
}
