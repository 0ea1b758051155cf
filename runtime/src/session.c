/* Sessions and the executor. A session owns one 64-byte aligned block holding the
 * activation arena (offsets planned at load) followed by one scratch region per
 * thread, the pointer arrays handed to each op and its thread pool; running
 * allocates nothing. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

#define SESSION_ALIGNMENT 64u

struct pnn_session {
  const pnn_model *model;
  void *block;        /* what pnn_alloc_large returned */
  uint8_t *arena;     /* 64-byte aligned start of the activations */
  uint8_t *scratch;   /* after the arena, 64-byte aligned; NULL when no op needs it */
  pnn_run_context context;
  pnn_threadpool *pool;
  const void **in;    /* model->max_node_io entries */
  void **out;         /* model->max_node_io entries */
  uint64_t *node_ns;  /* per node, summed over runs; NULL unless profiling */
  uint64_t runs;
  /* Set while a thread runs the session: a second caller gets PNN_ERR_BUSY. The
   * acquire on set and the release on clear also order one thread's run before the
   * next thread's, so sessions may move between threads. */
  atomic_flag running;
};

pnn_status pnn_session_create(const pnn_model *model, pnn_session **session, pnn_error *error) {
  return pnn_session_create_with_options(model, NULL, session, error);
}

pnn_status pnn_session_create_with_options(const pnn_model *model, const pnn_session_options *options,
                                           pnn_session **session, pnn_error *error) {
  if (session == NULL) return pnn_set_error(error, PNN_ERR_INVALID_ARGUMENT, "session is NULL");
  *session = NULL;
  if (model == NULL) return pnn_set_error(error, PNN_ERR_INVALID_ARGUMENT, "model is NULL");
  const uint32_t threads = (options == NULL || options->num_threads == 0) ? 1u : options->num_threads;
  pnn_threadpool *pool = NULL;
  pnn_status status = pnn_threadpool_create(threads, &pool, error);
  if (status != PNN_OK) return status;
  /* The planner rounds the arena and the loader the scratch up to 64 bytes; each
   * thread of the pool gets its own scratch. */
  const size_t per_thread = model->scratch_bytes, workers = pnn_threadpool_size(pool);
  size_t arena = model->arena_bytes, scratch = per_thread * workers;
  if ((per_thread != 0 && scratch / per_thread != workers) || arena > SIZE_MAX - scratch ||
      arena + scratch > SIZE_MAX - SESSION_ALIGNMENT) {
    pnn_threadpool_free(pool);
    return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "the model needs more memory than can be addressed");
  }
  if (arena + scratch > model->max_memory) {
    pnn_threadpool_free(pool);
    return pnn_set_error(error, PNN_ERR_LIMIT,
                         "a session with %zu threads needs %zu bytes (activations %zu, scratch %zu per thread), "
                         "over the model's memory limit of %zu bytes (pnn_load_options.max_memory)",
                         workers, arena + scratch, arena, per_thread, model->max_memory);
  }
  pnn_session *s = calloc(1, sizeof(*s));
  if (s == NULL) {
    pnn_threadpool_free(pool);
    return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "out of memory creating a session");
  }
  s->model = model;
  s->pool = pool;
  atomic_flag_clear_explicit(&s->running, memory_order_relaxed);
  /* Zeroed: inputs start as zeros, and no uninitialized memory is ever read. */
  s->block = pnn_alloc_large(arena + scratch + SESSION_ALIGNMENT);
  if (s->block != NULL) memset(s->block, 0, arena + scratch + SESSION_ALIGNMENT);
  s->in = calloc(model->max_node_io + 1u, sizeof(*s->in));
  s->out = calloc(model->max_node_io + 1u, sizeof(*s->out));
  const int profile = options != NULL && options->profile;
  if (profile) s->node_ns = calloc(model->n_nodes + 1u, sizeof(*s->node_ns));
  if (s->block == NULL || s->in == NULL || s->out == NULL || (profile && s->node_ns == NULL)) {
    pnn_session_free(s);
    return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "out of memory creating a session (%zu bytes)",
                         arena + scratch);
  }
  uintptr_t at = ((uintptr_t)s->block + SESSION_ALIGNMENT - 1) & ~(uintptr_t)(SESSION_ALIGNMENT - 1);
  s->arena = (uint8_t *)at;
  s->scratch = scratch > 0 ? s->arena + arena : NULL;
  s->context.scratch = s->scratch;
  s->context.scratch_stride = per_thread;
  s->context.pool = pool;
  *session = s;
  return PNN_OK;
}

void pnn_session_free(pnn_session *session) {
  if (session == NULL) return;
  pnn_threadpool_free(session->pool);
  free(session->block);
  free(session->in);
  free(session->out);
  free(session->node_ns);
  free(session);
}

static void *tensor_memory(const pnn_session *s, int32_t id) {
  if (id < 0) return NULL;
  const pnn_tensor *t = &s->model->tensors[id];
  /* Constants are read-only; ops receive them through const pointers (`in`). */
  if (t->kind == PNN_TENSOR_CONSTANT) return (void *)(uintptr_t)t->data;
  return s->arena + t->arena_offset;
}

void *pnn_session_input(pnn_session *session, uint32_t index) {
  if (session == NULL || index >= session->model->n_inputs) return NULL;
  return tensor_memory(session, session->model->inputs[index]);
}

const void *pnn_session_output(const pnn_session *session, uint32_t index) {
  if (session == NULL || index >= session->model->n_outputs) return NULL;
  return tensor_memory(session, session->model->outputs[index]);
}

static uint64_t monotonic_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

pnn_status pnn_session_run(pnn_session *session, pnn_error *error) {
  if (session == NULL) return pnn_set_error(error, PNN_ERR_INVALID_ARGUMENT, "session is NULL");
  if (atomic_flag_test_and_set_explicit(&session->running, memory_order_acquire)) {
    return pnn_set_error(error, PNN_ERR_BUSY,
                         "the session is running in another thread; a session runs in one thread at a time "
                         "(create one session per thread: they share the model's weights)");
  }
  const pnn_model *m = session->model;
  uint64_t *const node_ns = session->node_ns;
  uint64_t before = node_ns != NULL ? monotonic_ns() : 0;
  for (uint32_t n = 0; n < m->n_nodes; ++n) {
    const pnn_node *node = &m->nodes[n];
    /* The loader refused unknown op codes, so the lookup cannot fail here. */
    const pnn_op_def *op = pnn_op_lookup(node->op);
#if defined(PNN_POOL_TRACE)
    pnn_threadpool_trace_node(session->pool, n);
#endif
    for (uint32_t i = 0; i < node->n_inputs; ++i) session->in[i] = tensor_memory(session, node->inputs[i]);
    for (uint32_t i = 0; i < node->n_outputs; ++i) session->out[i] = tensor_memory(session, node->outputs[i]);
    op->run(m, node, session->in, session->out, &session->context);
    if (node_ns != NULL) {
      const uint64_t after = monotonic_ns();
      node_ns[n] += after - before;
      before = after;
    }
  }
#if defined(PNN_POOL_TRACE)
  pnn_threadpool_trace_node(session->pool, m->n_nodes); /* the end of the run */
#endif
  session->runs++;
  atomic_flag_clear_explicit(&session->running, memory_order_release);
  if (error != NULL) {
    error->status = PNN_OK;
    error->message[0] = '\0';
  }
  return PNN_OK;
}

pnn_status pnn_session_profile(const pnn_session *session, uint64_t *node_ns, uint32_t count,
                               uint64_t *runs, pnn_error *error) {
  if (session == NULL || node_ns == NULL || runs == NULL) {
    return pnn_set_error(error, PNN_ERR_INVALID_ARGUMENT, "session, node_ns and runs must not be NULL");
  }
  if (session->node_ns == NULL) {
    return pnn_set_error(error, PNN_ERR_INVALID_ARGUMENT, "the session was created without profiling");
  }
  const uint32_t n = session->model->n_nodes;
  if (count < n) {
    return pnn_set_error(error, PNN_ERR_INVALID_ARGUMENT, "node_ns has %u entries; the model has %u nodes",
                         count, n);
  }
  memcpy(node_ns, session->node_ns, n * sizeof(*node_ns));
  *runs = session->runs;
  return PNN_OK;
}
