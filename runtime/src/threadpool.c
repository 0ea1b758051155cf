/* A small fork-join pool: the caller and size-1 workers pull task indices from one
 * atomic counter. Used only inside pnn_session_run; created with the session. Two
 * threads calling pnn_parallel_for on one pool take turns (a caller mutex): the
 * shared job fields below hold one job at a time. */
#include <stdlib.h>

#include "internal.h"

#if defined(PNN_NO_THREADS) || (defined(__EMSCRIPTEN__) && !defined(__EMSCRIPTEN_PTHREADS__))
#define PNN_HAVE_THREADS 0
#else
#define PNN_HAVE_THREADS 1
#include <pthread.h>
#include <stdatomic.h>
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
 * microseconds) cost more than the work of a small layer. Bounded (roughly
 * 50-100 us) so idle or oversubscribed workers still give the core back. */
enum { PNN_SPIN_ITERATIONS = 4000 };

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
};

static void run_tasks(struct pnn_threadpool *pool, size_t thread) {
  for (;;) {
    size_t task = atomic_fetch_add_explicit(&pool->next_task, 1, memory_order_relaxed);
    if (task >= pool->tasks) return;
    pool->fn(pool->context, task, thread);
  }
}

/* Waits until the generation differs from `seen` or the pool stops; returns the new
 * generation. */
static uint64_t wait_for_work(struct pnn_threadpool *pool, uint64_t seen) {
  for (int i = 0; i < PNN_SPIN_ITERATIONS; ++i) {
    uint64_t g = atomic_load_explicit(&pool->generation, memory_order_acquire);
    if (g != seen || atomic_load_explicit(&pool->stop, memory_order_relaxed)) return g;
    PNN_SPIN_PAUSE();
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
  *out = pool;
  return PNN_OK;
}

void pnn_threadpool_free(pnn_threadpool *pool) {
  if (pool == NULL) return;
  pthread_mutex_lock(&pool->mutex);
  atomic_store_explicit(&pool->stop, 1, memory_order_release);
  pthread_cond_broadcast(&pool->work_ready);
  pthread_mutex_unlock(&pool->mutex);
  for (size_t i = 0; i < pool->started; ++i) pthread_join(pool->threads[i], NULL);
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
  int done = 0;
  for (int i = 0; i < PNN_SPIN_ITERATIONS && !done; ++i) {
    done = atomic_load_explicit(&pool->busy, memory_order_acquire) == 0;
    if (!done) PNN_SPIN_PAUSE();
  }
  if (!done) {
    pthread_mutex_lock(&pool->mutex);
    while (atomic_load_explicit(&pool->busy, memory_order_acquire) > 0)
      pthread_cond_wait(&pool->work_done, &pool->mutex);
    pthread_mutex_unlock(&pool->mutex);
  }
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

#endif
