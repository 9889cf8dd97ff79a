/* convlab's persistent worker pool, included by _sgemm.c and _kernels.c (each module keeps its
 * own: its workers sleep while the other module runs).
 *
 *   pool_run(task, ctx, parts, threads)   task(ctx, part) for part in [0, parts), on at most
 *                                         `threads` threads (the caller's included); returns when
 *                                         every part has finished; 0, or -1 when no worker could
 *                                         be started (then the caller ran every part itself)
 *
 * Why: starting a thread per call (pthread_create + join, ~20-60 us on a VM) cost more than a
 * small layer's product saves, so two threads ran slower than one. Workers are started once, on
 * the first call that asks for them, and kept.
 *
 * A call publishes (generation, remaining parts) in one 64-bit ticket; each thread, the caller
 * included, takes parts by decrementing `remaining` with a compare-and-swap, so a part runs
 * exactly once and a late or busy worker leaves its share to the others. The task and its
 * context are written before the ticket is published (release) and read only after a part of
 * that generation was taken (acquire), while the call is still open; so a worker can never run
 * a part with the next call's context. Which thread runs a part never changes what the part
 * computes: results do not depend on the thread count unless the caller cuts the parts by it.
 *
 * Between calls a worker spins for POOL_SPIN_NS (the ops of a layer, a few tens of microseconds
 * of Python apart, find it awake: waking a sleeping thread costs 10-50 us on a VM), then sleeps
 * on a condition variable and costs no CPU. CONVLAB_POOL_SPIN_US=N sets the spin (0: sleep at once).
 * Workers beyond `threads` (after set_num_threads lowered the count) skip the call.
 *
 * A spinning thread yields its core every 256 pauses (a few microseconds): on a busy machine
 * the scheduler may put a worker on the caller's core (or the caller on the core of a worker
 * holding the last part), and a spin that never yields kept the other from running for the
 * rest of its time slice (milliseconds; 2 threads then ran slower than one). Alone on its core,
 * a yield returns at once.
 */
#ifndef CONVLAB_POOL_H
#define CONVLAB_POOL_H

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define POOL_PAUSE() _mm_pause()
#else
#define POOL_PAUSE() ((void)0)
#endif

#define POOL_MAX 64
#ifndef POOL_SPIN_NS
#define POOL_SPIN_NS 200000 /* 200 us, about a layer's Python between two ops; CONVLAB_POOL_SPIN_US overrides it */
#endif
static uint64_t pool_spin_ns = POOL_SPIN_NS;

typedef void (*pool_task)(void *ctx, idx part);

static struct {
    pthread_mutex_t call_lock; /* one call at a time; a second caller runs its parts alone */
    pthread_mutex_t sleep_lock;
    pthread_cond_t wake;
    _Atomic uint64_t ticket; /* generation << 32 | parts not yet taken */
    _Atomic int sleepers;
    _Atomic idx done;
    pool_task task;
    void *ctx;
    idx parts;
    int allowed; /* workers 1 .. allowed - 1 take part in the current call */
    int started; /* workers running, ids 1 .. started */
} pool_state = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER};

static uint64_t pool_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* take and run parts of the call whose ticket is t, until none is left */
static void pool_take(uint64_t t)
{
    uint64_t gen = t >> 32;
    for (;;) {
        uint32_t left = (uint32_t)t;
        if (left == 0) return;
        if (atomic_compare_exchange_weak_explicit(&pool_state.ticket, &t, t - 1, memory_order_acq_rel,
                                                  memory_order_acquire)) {
            idx part = pool_state.parts - (idx)left;
            pool_state.task(pool_state.ctx, part);
            atomic_fetch_add_explicit(&pool_state.done, 1, memory_order_release);
            t = atomic_load_explicit(&pool_state.ticket, memory_order_acquire);
        }
        else if ((t >> 32) != gen) return; /* a later call: the worker checks it is invited first */
    }
}

static void *pool_worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    uint32_t seen = 0;
    for (;;) {
        uint64_t t = atomic_load_explicit(&pool_state.ticket, memory_order_acquire);
        if ((uint32_t)(t >> 32) == seen) {
            uint64_t until = pool_now_ns() + pool_spin_ns;
            int spins = 0;
            while ((uint32_t)((t = atomic_load_explicit(&pool_state.ticket, memory_order_acquire)) >> 32) == seen) {
                POOL_PAUSE();
                if (++spins % 256 == 0) sched_yield(); /* a thread sharing this core (see above) runs */
                if (spins % 256 == 0 && pool_now_ns() > until) {
                    pthread_mutex_lock(&pool_state.sleep_lock);
                    atomic_fetch_add(&pool_state.sleepers, 1);
                    while ((uint32_t)((t = atomic_load(&pool_state.ticket)) >> 32) == seen)
                        pthread_cond_wait(&pool_state.wake, &pool_state.sleep_lock);
                    atomic_fetch_sub(&pool_state.sleepers, 1);
                    pthread_mutex_unlock(&pool_state.sleep_lock);
                    break;
                }
            }
        }
        seen = (uint32_t)(t >> 32);
        /* `allowed` belongs to this call while parts of it are left (the caller waits for them) */
        if ((uint32_t)t != 0 && id < pool_state.allowed) pool_take(t);
    }
    return NULL;
}

/* a child of fork() has none of its parent's workers: start afresh */
static void pool_after_fork(void)
{
    pthread_mutex_init(&pool_state.call_lock, NULL);
    pthread_mutex_init(&pool_state.sleep_lock, NULL);
    pthread_cond_init(&pool_state.wake, NULL);
    atomic_store(&pool_state.sleepers, 0);
    pool_state.started = 0;
}

/* start workers 1 .. want - 1 that are not running yet; returns how many threads can run */
static int pool_grow(int want)
{
    static int registered;
    if (!registered) {
        registered = pthread_atfork(NULL, NULL, pool_after_fork) == 0;
        const char *spin = getenv("CONVLAB_POOL_SPIN_US");
        if (spin && *spin) pool_spin_ns = strtoull(spin, NULL, 10) * 1000u;
    }
    if (want > POOL_MAX) want = POOL_MAX;
    while (pool_state.started < want - 1) {
        pthread_t id;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int ok = pthread_create(&id, &attr, pool_worker, (void *)(intptr_t)(pool_state.started + 1)) == 0;
        pthread_attr_destroy(&attr);
        if (!ok) break;
        pool_state.started++;
    }
    return pool_state.started + 1;
}

static int pool_run(pool_task task, void *ctx, idx parts, int threads)
{
    if (parts <= 0) return 0;
    if (threads <= 1 || parts == 1 || pthread_mutex_trylock(&pool_state.call_lock) != 0) {
        for (idx p = 0; p < parts; p++) task(ctx, p);
        return 0;
    }
    int running = pool_grow(threads);
    if (running < 2) {
        pthread_mutex_unlock(&pool_state.call_lock);
        for (idx p = 0; p < parts; p++) task(ctx, p);
        return -1;
    }
    pool_state.task = task;
    pool_state.ctx = ctx;
    pool_state.parts = parts;
    pool_state.allowed = threads < running ? threads : running;
    atomic_store_explicit(&pool_state.done, 0, memory_order_relaxed);
    uint64_t gen = (atomic_load(&pool_state.ticket) >> 32) + 1;
    uint64_t t = (gen << 32) | (uint64_t)parts;
    atomic_store(&pool_state.ticket, t); /* seq_cst: ordered before the read of sleepers below */
    if (atomic_load(&pool_state.sleepers) > 0) {
        pthread_mutex_lock(&pool_state.sleep_lock);
        pthread_cond_broadcast(&pool_state.wake);
        pthread_mutex_unlock(&pool_state.sleep_lock);
    }
    pool_take(t);
    for (int spins = 1; atomic_load_explicit(&pool_state.done, memory_order_acquire) < parts; spins++) {
        POOL_PAUSE();
        if (spins % 256 == 0) sched_yield(); /* the worker with the last part may share this core */
    }
    pthread_mutex_unlock(&pool_state.call_lock);
    return 0;
}

#endif
