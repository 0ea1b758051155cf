/* A small fork-join pool: the caller and size-1 workers pull task indices from one
 * atomic counter. Used only inside pnn_session_run; created with the session. Two
 * threads calling pnn_parallel_for on one pool take turns (a caller mutex): the
 * shared job fields below hold one job at a time. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <stdlib.h>

#include "internal.h"

#if defined(PNN_NO_THREADS) || (defined(__EMSCRIPTEN__) && !defined(__EMSCRIPTEN_PTHREADS__))
#define PNN_HAVE_THREADS 0
#else
#define PNN_HAVE_THREADS 1
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>
#endif

#if PNN_HAVE_THREADS

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define PNN_SPIN_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define PNN_SPIN_PAUSE() __asm__ __volatile__("yield")
#else
#define PNN_SPIN_PAUSE() ((void)0)
#endif

/* Polls before sleeping on a condition variable: a model runs dozens of short
 * parallel_for calls back to back, and a futex wake-up per call (tens of
 * microseconds natively, more through wasm's Atomics.wait) cost more than the work of
 * a small layer. Bounded by time, the same on every platform (a count of pauses was
 * ~100 us on x86 but a few us on wasm, where the pause is a no-op and every section
 * of MobileNet V2 ended in a sleep and a wake-up), so idle or oversubscribed workers
 * still give the core back. The clock is read every PNN_SPIN_CHECK polls. */
enum { PNN_SPIN_NS = 100000, PNN_SPIN_CHECK = 64 };

static uint64_t clock_ns(clockid_t clock) {
  struct timespec t;
  clock_gettime(clock, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Pauses once; false when this poll (number `poll`, from 1) ends the spin. The first
 * clock read starts the budget, so a wait that ends within PNN_SPIN_CHECK polls reads
 * no clock. */
static bool keep_spinning(uint64_t *deadline, unsigned poll) {
  PNN_SPIN_PAUSE();
  if (poll % PNN_SPIN_CHECK != 0) return true;
  const uint64_t now = clock_ns(CLOCK_MONOTONIC);
  if (*deadline == 0) {
    *deadline = now + PNN_SPIN_NS;
    return true;
  }
  return now < *deadline;
}

#if defined(PNN_POOL_TRACE)
/* Bench-only build (bench/pool_trace/): every task's thread CPU time and the caller's
 * serial CPU time between sections go to the file named by $PNN_POOL_TRACE, one line
 * per section ("P serial_ns task_ns...") and per node start ("N index serial_ns"), so
 * that bench/pool_trace/model.py can model the speed-up of free cores on a loaded host.
 * Release builds compile none of it. */
#include <stdio.h>

static uint64_t trace_cpu_ns(void) { return clock_ns(CLOCK_THREAD_CPUTIME_ID); }
enum { PNN_TRACE_MAX_TASKS = 1 << 16 };
#endif

typedef struct worker_arg {
  struct pnn_threadpool *pool;
  size_t index;
} worker_arg;

struct pnn_threadpool {
  size_t size;  /* threads in all, the caller's included */
  pthread_t *threads;
  worker_arg *args;
  size_t started;
  pthread_mutex_t mutex;
  /* Held by the thread inside pnn_parallel_for for the whole job; uncontended (a
   * session runs in one thread at a time) it costs one atomic pair per call. */
  pthread_mutex_t caller;
  pthread_cond_t work_ready;
  pthread_cond_t work_done;
  /* Bumped (release) for each parallel_for after fn/context/tasks are written;
   * read (acquire) by the workers, polled first and then under the mutex. */
  atomic_uint_least64_t generation;
  atomic_int stop;
  atomic_size_t busy;  /* workers still inside the current generation */
  pnn_task_fn fn;
  void *context;
  size_t tasks;
  atomic_size_t next_task;
#if defined(PNN_POOL_TRACE)
  FILE *trace;
  uint64_t *task_ns;    /* PNN_TRACE_MAX_TASKS: CPU time of each task of the section */
  uint64_t serial_from; /* the caller's CPU clock at the end of the last section */
#endif
};

static void run_tasks(struct pnn_threadpool *pool, size_t thread) {
  for (;;) {
    size_t task = atomic_fetch_add_explicit(&pool->next_task, 1, memory_order_relaxed);
    if (task >= pool->tasks) return;
#if defined(PNN_POOL_TRACE)
    const uint64_t start = trace_cpu_ns();
    pool->fn(pool->context, task, thread);
    if (task < PNN_TRACE_MAX_TASKS) pool->task_ns[task] = trace_cpu_ns() - start;
#else
    pool->fn(pool->context, task, thread);
#endif
  }
}

/* Waits until the generation differs from `seen` or the pool stops; returns the new
 * generation. */
static uint64_t wait_for_work(struct pnn_threadpool *pool, uint64_t seen) {
  uint64_t deadline = 0;
  for (unsigned poll = 1;; ++poll) {
    uint64_t g = atomic_load_explicit(&pool->generation, memory_order_acquire);
    if (g != seen || atomic_load_explicit(&pool->stop, memory_order_relaxed)) return g;
    if (!keep_spinning(&deadline, poll)) break;
  }
  pthread_mutex_lock(&pool->mutex);
  uint64_t g;
  while ((g = atomic_load_explicit(&pool->generation, memory_order_acquire)) == seen &&
         !atomic_load_explicit(&pool->stop, memory_order_relaxed)) {
    pthread_cond_wait(&pool->work_ready, &pool->mutex);
  }
  pthread_mutex_unlock(&pool->mutex);
  return g;
}

static void *worker_main(void *opaque) {
  worker_arg *arg = opaque;
  struct pnn_threadpool *pool = arg->pool;
  uint64_t seen = 0;
  for (;;) {
    seen = wait_for_work(pool, seen);
    if (atomic_load_explicit(&pool->stop, memory_order_acquire)) break;
    run_tasks(pool, arg->index);
    if (atomic_fetch_sub_explicit(&pool->busy, 1, memory_order_acq_rel) == 1) {
      /* Last one out: wake the caller if it went to sleep (it checks under the mutex). */
      pthread_mutex_lock(&pool->mutex);
      pthread_cond_signal(&pool->work_done);
      pthread_mutex_unlock(&pool->mutex);
    }
  }
  return NULL;
}

pnn_status pnn_threadpool_create(uint32_t threads, pnn_threadpool **out, pnn_error *error) {
  *out = NULL;
  if (threads <= 1) return PNN_OK;  /* NULL pool: everything runs inline */
  if (threads > 256) {
    return pnn_set_error(error, PNN_ERR_INVALID_ARGUMENT, "%u threads requested; at most 256", threads);
  }
  struct pnn_threadpool *pool = calloc(1, sizeof(*pool));
  if (pool == NULL) return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "out of memory creating threads");
  pool->size = threads;
  pool->threads = calloc(threads - 1, sizeof(*pool->threads));
  pool->args = calloc(threads - 1, sizeof(*pool->args));
  atomic_init(&pool->next_task, 0);
  atomic_init(&pool->generation, 0);
  atomic_init(&pool->stop, 0);
  atomic_init(&pool->busy, 0);
  if (pool->threads == NULL || pool->args == NULL || pthread_mutex_init(&pool->mutex, NULL) != 0) {
    free(pool->threads);
    free(pool->args);
    free(pool);
    return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "out of memory creating threads");
  }
  if (pthread_mutex_init(&pool->caller, NULL) != 0) {
    pthread_mutex_destroy(&pool->mutex);
    free(pool->threads);
    free(pool->args);
    free(pool);
    return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "out of memory creating threads");
  }
  pthread_cond_init(&pool->work_ready, NULL);
  pthread_cond_init(&pool->work_done, NULL);
  for (size_t i = 0; i + 1 < threads; ++i) {
    pool->args[i].pool = pool;
    pool->args[i].index = i + 1;
    if (pthread_create(&pool->threads[i], NULL, worker_main, &pool->args[i]) != 0) {
      pnn_threadpool_free(pool);
      return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "could not start thread %zu of %u", i + 1, threads);
    }
    pool->started++;
  }
#if defined(PNN_POOL_TRACE)
  const char *trace_path = getenv("PNN_POOL_TRACE");
  pool->task_ns = calloc(PNN_TRACE_MAX_TASKS, sizeof(*pool->task_ns));
  pool->trace = trace_path != NULL && pool->task_ns != NULL ? fopen(trace_path, "a") : NULL;
  pool->serial_from = trace_cpu_ns();
#endif
  *out = pool;
  return PNN_OK;
}

#if defined(PNN_POOL_TRACE)
void pnn_threadpool_trace_node(pnn_threadpool *pool, uint32_t node) {
  if (pool == NULL || pool->trace == NULL) return;
  const uint64_t now = trace_cpu_ns();
  fprintf(pool->trace, "N %u %llu\n", (unsigned)node, (unsigned long long)(now - pool->serial_from));
  pool->serial_from = trace_cpu_ns();
}
#endif

void pnn_threadpool_free(pnn_threadpool *pool) {
  if (pool == NULL) return;
  pthread_mutex_lock(&pool->mutex);
  atomic_store_explicit(&pool->stop, 1, memory_order_release);
  pthread_cond_broadcast(&pool->work_ready);
  pthread_mutex_unlock(&pool->mutex);
  for (size_t i = 0; i < pool->started; ++i) pthread_join(pool->threads[i], NULL);
#if defined(PNN_POOL_TRACE)
  if (pool->trace != NULL) fclose(pool->trace);
  free(pool->task_ns);
#endif
  pthread_cond_destroy(&pool->work_ready);
  pthread_cond_destroy(&pool->work_done);
  pthread_mutex_destroy(&pool->mutex);
  pthread_mutex_destroy(&pool->caller);
  free(pool->threads);
  free(pool->args);
  free(pool);
}

size_t pnn_threadpool_size(const pnn_threadpool *pool) { return pool == NULL ? 1 : pool->size; }

void pnn_parallel_for(pnn_threadpool *pool, size_t tasks, pnn_task_fn fn, void *context) {
  if (pool == NULL || tasks <= 1) {
    for (size_t task = 0; task < tasks; ++task) fn(context, task, 0);
    return;
  }
  pthread_mutex_lock(&pool->caller);
#if defined(PNN_POOL_TRACE)
  const uint64_t serial_ns = trace_cpu_ns() - pool->serial_from;
#endif
  /* No worker reads these until it sees the new generation (release/acquire), and
   * every worker has left the previous generation (busy reached 0 below). */
  pool->fn = fn;
  pool->context = context;
  pool->tasks = tasks;
  atomic_store_explicit(&pool->next_task, 0, memory_order_relaxed);
  atomic_store_explicit(&pool->busy, pool->size - 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&pool->generation, 1, memory_order_release);
  /* Sleeping workers check the generation under the mutex, so this wakes them all. */
  pthread_mutex_lock(&pool->mutex);
  pthread_cond_broadcast(&pool->work_ready);
  pthread_mutex_unlock(&pool->mutex);
  run_tasks(pool, 0);
  bool done = false;
  uint64_t deadline = 0;
  for (unsigned poll = 1; !done; ++poll) {
    done = atomic_load_explicit(&pool->busy, memory_order_acquire) == 0;
    if (!done && !keep_spinning(&deadline, poll)) break;
  }
  if (!done) {
    pthread_mutex_lock(&pool->mutex);
    while (atomic_load_explicit(&pool->busy, memory_order_acquire) > 0)
      pthread_cond_wait(&pool->work_done, &pool->mutex);
    pthread_mutex_unlock(&pool->mutex);
  }
#if defined(PNN_POOL_TRACE)
  if (pool->trace != NULL) {
    fprintf(pool->trace, "P %llu", (unsigned long long)serial_ns);
    for (size_t t = 0; t < tasks && t < PNN_TRACE_MAX_TASKS; ++t)
      fprintf(pool->trace, " %llu", (unsigned long long)pool->task_ns[t]);
    fputc('\n', pool->trace);
  }
  pool->serial_from = trace_cpu_ns();
#endif
  pthread_mutex_unlock(&pool->caller);
}

#else /* no threads in this build: a pool of one */

pnn_status pnn_threadpool_create(uint32_t threads, pnn_threadpool **out, pnn_error *error) {
  (void)threads;
  (void)error;
  *out = NULL;
  return PNN_OK;
}

void pnn_threadpool_free(pnn_threadpool *pool) { (void)pool; }

size_t pnn_threadpool_size(const pnn_threadpool *pool) {
  (void)pool;
  return 1;
}

void pnn_parallel_for(pnn_threadpool *pool, size_t tasks, pnn_task_fn fn, void *context) {
  (void)pool;
  for (size_t task = 0; task < tasks; ++task) fn(context, task, 0);
}

#if defined(PNN_POOL_TRACE)
void pnn_threadpool_trace_node(pnn_threadpool *pool, uint32_t node) {
  (void)pool;
  (void)node;
}
#endif

#endif
