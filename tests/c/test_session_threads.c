/* The thread contract of the C API, from many threads at once:
 * - one model shared by N sessions in N threads (pools of 1 and 2 threads each) gives
 *   outputs bit-identical to a serial run of the same model;
 * - two threads hammering one session get only PNN_OK or PNN_ERR_BUSY, a busy call runs
 *   nothing (the profile counts exactly the PNN_OK runs) and the session's output
 *   afterwards equals the serial one (reading the output between runs of the other
 *   thread would itself break the contract: it is valid until the next run);
 * - two threads calling pnn_parallel_for on one pool both complete every task once.
 * The model is a small CNN (Conv+Relu, 1x1 Conv, depthwise Conv, GlobalAveragePool,
 * Reshape, Gemm) written here as .pnn bytes (docs/FORMAT.md). alarm() turns a hang
 * into a failure. Plain C11 + pthreads: it also runs under qemu-aarch64 and TSan. */
#define _POSIX_C_SOURCE 200809L /* alarm, clock_gettime */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crc32.h"
#include "internal.h"
#include "pocketnn.h"

static atomic_int g_failures;
static atomic_int g_checks;

#define CHECK(cond, ...)                                     \
  do {                                                       \
    atomic_fetch_add(&g_checks, 1);                          \
    if (!(cond)) {                                           \
      atomic_fetch_add(&g_failures, 1);                      \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);   \
      fprintf(stderr, __VA_ARGS__);                          \
      fprintf(stderr, "\n");                                 \
    }                                                        \
  } while (0)

/* ---- a .pnn writer for this one test ---------------------------------------------- */

typedef struct bytes {
  uint8_t *data;
  size_t size, capacity;
} bytes;

static void put(bytes *b, const void *src, size_t n) {
  if (b->size + n > b->capacity) {
    size_t capacity = b->capacity ? b->capacity : 256;
    while (capacity < b->size + n) capacity *= 2;
    uint8_t *grown = realloc(b->data, capacity);
    if (grown == NULL) {
      fprintf(stderr, "out of memory building the model\n");
      exit(2);
    }
    b->data = grown;
    b->capacity = capacity;
  }
  memcpy(b->data + b->size, src, n);
  b->size += n;
}
/* Little-endian whatever the host: the format is little-endian. */
static void put_uint(bytes *b, uint64_t v, int width) {
  uint8_t le[8];
  for (int i = 0; i < width; ++i) le[i] = (uint8_t)(v >> (8 * i));
  put(b, le, (size_t)width);
}
static void put_u8(bytes *b, uint8_t v) { put_uint(b, v, 1); }
static void put_u16(bytes *b, uint16_t v) { put_uint(b, v, 2); }
static void put_u32(bytes *b, uint32_t v) { put_uint(b, v, 4); }
static void put_i32(bytes *b, int32_t v) { put_uint(b, (uint32_t)v, 4); }
static void put_u64(bytes *b, uint64_t v) { put_uint(b, v, 8); }
static void put_f32(bytes *b, float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof(u));
  put_u32(b, u);
}
static void put_string(bytes *b, const char *s) {
  put_u32(b, (uint32_t)strlen(s));
  put(b, s, strlen(s));
}
static void pad_to(bytes *b, size_t multiple) {
  while (b->size % multiple != 0) put_u8(b, 0);
}

enum { MAX_TENSORS = 16, MAX_NODES = 8 };

typedef struct tensor_def {
  const char *name;
  int rank;
  int64_t dims[4];
  const float *data; /* NULL: an activation */
} tensor_def;

typedef struct attr_def {
  const char *name;
  uint8_t type; /* PNN_ATTR_INT or PNN_ATTR_INTS */
  uint32_t count;
  int64_t values[4];
} attr_def;

typedef struct node_def {
  uint16_t op;
  const char *name;
  uint32_t n_inputs;
  int32_t inputs[3];
  int32_t output;
  uint32_t n_attrs;
  attr_def attrs[4];
} node_def;

static size_t numel(const tensor_def *t) {
  size_t n = 1;
  for (int d = 0; d < t->rank; ++d) n *= (size_t)t->dims[d];
  return n;
}

static bytes write_pnn(const tensor_def *tensors, uint32_t n_tensors, const node_def *nodes, uint32_t n_nodes,
                       int32_t input, int32_t output) {
  bytes sections = {0};
  uint64_t data_cursor = 0;
  for (uint32_t i = 0; i < n_tensors; ++i) {
    const tensor_def *t = &tensors[i];
    put_string(&sections, t->name);
    put_u8(&sections, PNN_DTYPE_F32);
    put_u8(&sections, 0); /* dense */
    put_u8(&sections, t->data != NULL ? PNN_TENSOR_CONSTANT : PNN_TENSOR_ACTIVATION);
    put_u8(&sections, (uint8_t)t->rank);
    for (int d = 0; d < t->rank; ++d) put_u64(&sections, (uint64_t)t->dims[d]);
    const uint64_t size = t->data != NULL ? numel(t) * sizeof(float) : 0;
    put_u64(&sections, t->data != NULL ? data_cursor : 0);
    put_u64(&sections, size);
    data_cursor += (size + 63) / 64 * 64;
  }
  for (uint32_t i = 0; i < n_nodes; ++i) {
    const node_def *n = &nodes[i];
    put_u16(&sections, n->op);
    put_string(&sections, n->name);
    put_u32(&sections, n->n_inputs);
    for (uint32_t j = 0; j < n->n_inputs; ++j) put_i32(&sections, n->inputs[j]);
    put_u32(&sections, 1);
    put_i32(&sections, n->output);
    put_u32(&sections, n->n_attrs);
    for (uint32_t j = 0; j < n->n_attrs; ++j) {
      const attr_def *a = &n->attrs[j];
      put_string(&sections, a->name);
      put_u8(&sections, a->type);
      if (a->type == PNN_ATTR_INTS) put_u32(&sections, a->count);
      for (uint32_t k = 0; k < a->count; ++k) put_u64(&sections, (uint64_t)a->values[k]);
    }
  }
  put_i32(&sections, input);
  put_i32(&sections, output);

  const uint64_t data_offset = (64 + sections.size + 63) / 64 * 64;
  bytes file = {0};
  put(&file, "PNN\0", 4);
  put_u16(&file, 1);
  put_u16(&file, 0);
  put_u32(&file, 0); /* checksum, filled below */
  put_u32(&file, 64);
  put_u64(&file, data_offset + data_cursor);
  put_u32(&file, 0); /* n_meta */
  put_u32(&file, n_tensors);
  put_u32(&file, n_nodes);
  put_u32(&file, 1);
  put_u32(&file, 1);
  put_u32(&file, 0);
  put_u64(&file, data_offset);
  put_u64(&file, data_cursor);
  put(&file, sections.data, sections.size);
  pad_to(&file, 64);
  for (uint32_t i = 0; i < n_tensors; ++i) {
    if (tensors[i].data == NULL) continue;
    for (size_t k = 0; k < numel(&tensors[i]); ++k) put_f32(&file, tensors[i].data[k]);
    pad_to(&file, 64);
  }
  free(sections.data);
  const uint32_t crc = pnn_crc32(0, file.data, file.size);
  for (int i = 0; i < 4; ++i) file.data[8 + i] = (uint8_t)(crc >> (8 * i));
  return file;
}

/* ---- the model ----------------------------------------------------------------- */

enum { C_IN = 8, H = 20, W = 20, C1 = 16, C2 = 32, H3 = 10, CLASSES = 10 };
enum { INPUT_NUMEL = C_IN * H * W };

static uint32_t g_rng = 2024u;
static float rnd(void) {
  g_rng = g_rng * 1664525u + 1013904223u;
  return (float)((g_rng >> 8) & 0xFFFF) / 32768.0f - 1.0f;
}
static float *rnd_buf(size_t n) {
  float *p = malloc(n * sizeof(float));
  if (p == NULL) exit(2);
  for (size_t i = 0; i < n; ++i) p[i] = rnd();
  return p;
}

static bytes build_model(float *weights[6]) {
  weights[0] = rnd_buf(C1 * C_IN * 9);
  weights[1] = rnd_buf(C1);
  weights[2] = rnd_buf(C2 * C1);
  weights[3] = rnd_buf(C2);
  weights[4] = rnd_buf(C2 * 9);
  weights[5] = rnd_buf(CLASSES * C2);
  const tensor_def tensors[] = {
      {"x", 4, {1, C_IN, H, W}, NULL},
      {"w1", 4, {C1, C_IN, 3, 3}, weights[0]},
      {"b1", 1, {C1}, weights[1]},
      {"t1", 4, {1, C1, H, W}, NULL},
      {"w2", 4, {C2, C1, 1, 1}, weights[2]},
      {"b2", 1, {C2}, weights[3]},
      {"t2", 4, {1, C2, H, W}, NULL},
      {"w3", 4, {C2, 1, 3, 3}, weights[4]},
      {"t3", 4, {1, C2, H3, H3}, NULL},
      {"t4", 4, {1, C2, 1, 1}, NULL},
      {"t5", 2, {1, C2}, NULL},
      {"w4", 2, {CLASSES, C2}, weights[5]},
      {"y", 2, {1, CLASSES}, NULL},
  };
  const node_def nodes[] = {
      {1, "conv3x3", 3, {0, 1, 2}, 3, 2,
       {{"pads", PNN_ATTR_INTS, 4, {1, 1, 1, 1}}, {"act", PNN_ATTR_INT, 1, {1}}}},
      {1, "conv1x1", 3, {3, 4, 5}, 6, 1, {{"act", PNN_ATTR_INT, 1, {1}}}},
      {1, "dwconv", 2, {6, 7}, 8, 3,
       {{"group", PNN_ATTR_INT, 1, {C2}}, {"strides", PNN_ATTR_INTS, 2, {2, 2}},
        {"pads", PNN_ATTR_INTS, 4, {1, 1, 1, 1}}}},
      {42, "gap", 1, {8}, 9, 0, {{0}}},
      {53, "flatten", 1, {9}, 10, 0, {{0}}},
      {3, "fc", 2, {10, 11}, 12, 1, {{"trans_b", PNN_ATTR_INT, 1, {1}}}},
  };
  return write_pnn(tensors, sizeof(tensors) / sizeof(tensors[0]), nodes, sizeof(nodes) / sizeof(nodes[0]), 0,
                   12);
}

/* ---- sessions over one shared model --------------------------------------------- */

enum { SHARED_THREADS = 4, RUNS_PER_THREAD = 25, INPUTS = 3 };

static pnn_model *g_model;
static float g_inputs[INPUTS][INPUT_NUMEL];
static float g_expected[INPUTS][CLASSES]; /* serial runs */

static void serial_reference(void) {
  pnn_session *s = NULL;
  pnn_error error;
  CHECK(pnn_session_create(g_model, &s, &error) == PNN_OK, "serial session: %s", error.message);
  if (s == NULL) return;
  for (int k = 0; k < INPUTS; ++k) {
    memcpy(pnn_session_input(s, 0), g_inputs[k], sizeof(g_inputs[k]));
    CHECK(pnn_session_run(s, &error) == PNN_OK, "serial run: %s", error.message);
    memcpy(g_expected[k], pnn_session_output(s, 0), sizeof(g_expected[k]));
  }
  pnn_session_free(s);
}

typedef struct shared_job {
  int thread;
  uint32_t pool_threads;
} shared_job;

static void *shared_model_worker(void *opaque) {
  const shared_job *job = opaque;
  pnn_session *s = NULL;
  pnn_error error;
  pnn_session_options options = {job->pool_threads, 0};
  if (pnn_session_create_with_options(g_model, &options, &s, &error) != PNN_OK) {
    CHECK(0, "thread %d: session: %s", job->thread, error.message);
    return NULL;
  }
  int mismatches = 0;
  for (int r = 0; r < RUNS_PER_THREAD; ++r) {
    const int k = (job->thread + r) % INPUTS;
    memcpy(pnn_session_input(s, 0), g_inputs[k], sizeof(g_inputs[k]));
    pnn_status status = pnn_session_run(s, &error);
    CHECK(status == PNN_OK, "thread %d run %d: %s", job->thread, r, error.message);
    if (memcmp(pnn_session_output(s, 0), g_expected[k], sizeof(g_expected[k])) != 0) ++mismatches;
  }
  CHECK(mismatches == 0, "thread %d (pool of %u): %d of %d outputs differ from the serial run", job->thread,
        job->pool_threads, mismatches, RUNS_PER_THREAD);
  pnn_session_free(s);
  return NULL;
}

static void test_shared_model(uint32_t pool_threads) {
  pthread_t threads[SHARED_THREADS];
  shared_job jobs[SHARED_THREADS];
  for (int t = 0; t < SHARED_THREADS; ++t) {
    jobs[t] = (shared_job){t, pool_threads};
    CHECK(pthread_create(&threads[t], NULL, shared_model_worker, &jobs[t]) == 0, "pthread_create");
  }
  for (int t = 0; t < SHARED_THREADS; ++t) pthread_join(threads[t], NULL);
}

/* ---- two threads on one session ----------------------------------------------- */

/* Both threads call until each has HAMMER_RUNS completed runs and some call found the
 * session busy (so the detection is seen working: the threads overlap within a few
 * scheduler time slices even on a loaded machine), or HAMMER_SECONDS pass. */
enum { HAMMER_THREADS = 2, HAMMER_RUNS = 60, HAMMER_SECONDS = 30 };

typedef struct hammer_shared {
  pnn_session *session;
  atomic_int ready; /* a start gate, so that the threads overlap */
  atomic_int busy_seen;
  double deadline;
} hammer_shared;

typedef struct hammer_job {
  hammer_shared *shared;
  int ok, busy, other;
} hammer_job;

static double seconds_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void *hammer_worker(void *opaque) {
  hammer_job *job = opaque;
  hammer_shared *shared = job->shared;
  pnn_error error;
  atomic_fetch_add(&shared->ready, 1);
  while (atomic_load(&shared->ready) < HAMMER_THREADS) sched_yield();
  while ((job->ok < HAMMER_RUNS || atomic_load(&shared->busy_seen) == 0) && seconds_now() < shared->deadline) {
    const pnn_status status = pnn_session_run(shared->session, &error);
    if (status == PNN_OK) {
      ++job->ok;
    } else if (status == PNN_ERR_BUSY) {
      if (job->busy++ == 0) {
        CHECK(strstr(error.message, "another thread") != NULL, "busy message: %s", error.message);
      }
      atomic_store(&shared->busy_seen, 1);
      sched_yield();
    } else {
      ++job->other;
    }
  }
  return NULL;
}

static void test_one_session_two_threads(uint32_t pool_threads) {
  static hammer_shared shared;
  pnn_error error;
  pnn_session_options options = {pool_threads, 1};
  memset(&shared, 0, sizeof(shared));
  if (pnn_session_create_with_options(g_model, &options, &shared.session, &error) != PNN_OK) {
    CHECK(0, "session: %s", error.message);
    return;
  }
  pnn_session *s = shared.session;
  shared.deadline = seconds_now() + HAMMER_SECONDS;
  memcpy(pnn_session_input(s, 0), g_inputs[1], sizeof(g_inputs[1]));
  pthread_t threads[HAMMER_THREADS];
  hammer_job jobs[HAMMER_THREADS];
  memset(jobs, 0, sizeof(jobs));
  for (int t = 0; t < HAMMER_THREADS; ++t) {
    jobs[t].shared = &shared;
    CHECK(pthread_create(&threads[t], NULL, hammer_worker, &jobs[t]) == 0, "pthread_create");
  }
  int ok = 0, busy = 0, other = 0;
  for (int t = 0; t < HAMMER_THREADS; ++t) {
    pthread_join(threads[t], NULL);
    ok += jobs[t].ok;
    busy += jobs[t].busy;
    other += jobs[t].other;
  }
  CHECK(other == 0, "pool of %u: %d calls returned neither PNN_OK nor PNN_ERR_BUSY", pool_threads, other);
  CHECK(busy > 0, "pool of %u: in %d s of two threads calling, no call found the session busy (%d runs)",
        pool_threads, HAMMER_SECONDS, ok);
  CHECK(jobs[0].ok >= HAMMER_RUNS && jobs[1].ok >= HAMMER_RUNS, "pool of %u: %d and %d runs completed",
        pool_threads, jobs[0].ok, jobs[1].ok);
  /* A busy call must run nothing: the session counted exactly the PNN_OK runs. */
  uint64_t node_ns[8], runs = 0;
  CHECK(pnn_session_profile(s, node_ns, 8, &runs, &error) == PNN_OK, "profile: %s", error.message);
  CHECK(runs == (uint64_t)ok, "pool of %u: the session ran %llu times, %d calls returned PNN_OK", pool_threads,
        (unsigned long long)runs, ok);
  CHECK(memcmp(pnn_session_output(s, 0), g_expected[1], sizeof(g_expected[1])) == 0,
        "pool of %u: the output after concurrent calls differs from the serial run", pool_threads);
  /* The session still works from this thread. */
  memcpy(pnn_session_input(s, 0), g_inputs[2], sizeof(g_inputs[2]));
  CHECK(pnn_session_run(s, &error) == PNN_OK, "run after hammering: %s", error.message);
  CHECK(memcmp(pnn_session_output(s, 0), g_expected[2], sizeof(g_expected[2])) == 0,
        "pool of %u: a run after the concurrent calls differs from the serial run", pool_threads);
  printf("one session, %d threads, pool of %u: %d runs (%d + %d), %d busy calls\n", HAMMER_THREADS, pool_threads,
         ok, jobs[0].ok, jobs[1].ok, busy);
  pnn_session_free(s);
}

/* ---- two callers on one pool ---------------------------------------------------- */

/* Tasks that take a little time, and a start gate, so that the two callers overlap. */
enum { POOL_TASKS = 37, POOL_CALLS = 1000, POOL_TASK_SPIN = 2000 };

typedef struct pool_job {
  pnn_threadpool *pool;
  atomic_int *ready;
  atomic_int hits[POOL_TASKS];
  int bad_calls;
} pool_job;

static void count_task(void *context, size_t task, size_t thread) {
  pool_job *job = context;
  volatile uint32_t sink = (uint32_t)task;
  for (int i = 0; i < POOL_TASK_SPIN; ++i) sink = sink * 1664525u + 1013904223u;
  if (task < POOL_TASKS && thread < pnn_threadpool_size(job->pool)) atomic_fetch_add(&job->hits[task], 1);
}

static void *pool_caller(void *opaque) {
  pool_job *job = opaque;
  atomic_fetch_add(job->ready, 1);
  while (atomic_load(job->ready) < 2) sched_yield();
  for (int call = 0; call < POOL_CALLS; ++call) {
    for (int t = 0; t < POOL_TASKS; ++t) atomic_store(&job->hits[t], 0);
    pnn_parallel_for(job->pool, POOL_TASKS, count_task, job);
    for (int t = 0; t < POOL_TASKS; ++t) {
      if (atomic_load(&job->hits[t]) != 1) {
        ++job->bad_calls;
        break;
      }
    }
  }
  return NULL;
}

static void test_pool_two_callers(uint32_t pool_threads) {
  pnn_threadpool *pool = NULL;
  pnn_error error;
  if (pnn_threadpool_create(pool_threads, &pool, &error) != PNN_OK) {
    CHECK(0, "pool: %s", error.message);
    return;
  }
  static pool_job jobs[2];
  pthread_t threads[2];
  atomic_int ready = 0;
  for (int t = 0; t < 2; ++t) {
    memset(&jobs[t], 0, sizeof(jobs[t]));
    jobs[t].pool = pool;
    jobs[t].ready = &ready;
    CHECK(pthread_create(&threads[t], NULL, pool_caller, &jobs[t]) == 0, "pthread_create");
  }
  for (int t = 0; t < 2; ++t) {
    pthread_join(threads[t], NULL);
    CHECK(jobs[t].bad_calls == 0, "pool of %u, caller %d: %d of %d calls ran some task not exactly once",
          pool_threads, t, jobs[t].bad_calls, POOL_CALLS);
  }
  pnn_threadpool_free(pool);
}

int main(void) {
  /* A hang is a failure, not a stuck CI job (generous: qemu and TSan are slow). */
  alarm(300);
  float *weights[6];
  bytes file = build_model(weights);
  pnn_error error;
  if (pnn_model_load(file.data, file.size, &g_model, &error) != PNN_OK) {
    fprintf(stderr, "FAIL: the test model does not load: %s\n", error.message);
    return 1;
  }
  for (int k = 0; k < INPUTS; ++k) {
    for (int i = 0; i < INPUT_NUMEL; ++i) g_inputs[k][i] = rnd();
  }
  serial_reference();
  /* The outputs depend on the input: a test that compares equal things proves nothing. */
  CHECK(memcmp(g_expected[0], g_expected[1], sizeof(g_expected[0])) != 0, "inputs 0 and 1 give equal outputs");

  for (uint32_t pool_threads = 1; pool_threads <= 2; ++pool_threads) {
    test_shared_model(pool_threads);
    test_one_session_two_threads(pool_threads);
  }
  test_pool_two_callers(2);
  test_pool_two_callers(3);

  pnn_model_free(g_model);
  free(file.data);
  for (int i = 0; i < 6; ++i) free(weights[i]);
  const int failures = atomic_load(&g_failures), checks = atomic_load(&g_checks);
  printf("test_session_threads: %d checks, %d failures\n", checks, failures);
  return failures == 0 ? 0 : 1;
}
