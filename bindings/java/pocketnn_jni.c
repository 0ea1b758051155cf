/* JNI glue of ai.pocketnn.Model (bindings/java/ai/pocketnn/Model.java): one native
 * handle per Java Model holding the model, its session and, for a model loaded from a
 * byte[], the aligned copy pnn_model_load uses in place. The Java class checks counts,
 * lengths and dtypes first so it can throw the usual Java exceptions; this file checks
 * them again because it trusts no caller. C errors become ai.pocketnn.PocketnnException
 * carrying the status and the C message. */
#include <jni.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pocketnn.h"

typedef struct jni_model {
  pnn_model *model;
  pnn_session *session;
  void *data;
} jni_model;

static void throw_class(JNIEnv *env, const char *class_name, const char *message) {
  jclass cls = (*env)->FindClass(env, class_name);
  if (cls != NULL) (*env)->ThrowNew(env, cls, message);
}

static void throw_status(JNIEnv *env, int status, const char *message) {
  jclass cls = (*env)->FindClass(env, "ai/pocketnn/PocketnnException");
  if (cls == NULL) return; /* NoClassDefFoundError is pending */
  jmethodID init = (*env)->GetMethodID(env, cls, "<init>", "(ILjava/lang/String;)V");
  jstring text = init != NULL ? (*env)->NewStringUTF(env, message) : NULL;
  jobject exception = text != NULL ? (*env)->NewObject(env, cls, init, (jint)status, text) : NULL;
  if (exception != NULL) (*env)->Throw(env, (jthrowable)exception);
}

static jni_model *handle_of(JNIEnv *env, jlong handle) {
  if (handle == 0) throw_class(env, "java/lang/IllegalStateException", "the model is closed");
  return (jni_model *)(intptr_t)handle;
}

static void free_handle(jni_model *h) {
  pnn_session_free(h->session);
  pnn_model_free(h->model);
  free(h->data);
  free(h);
}

/* Wraps a load's result and a new session in a handle; frees everything on failure. */
static jlong finish_load(JNIEnv *env, pnn_status status, pnn_model *model, void *data, jint threads,
                         pnn_error *error) {
  jni_model *h = NULL;
  if (status == PNN_OK) {
    h = calloc(1, sizeof *h);
    if (h == NULL) {
      error->status = status = PNN_ERR_OUT_OF_MEMORY;
      strcpy(error->message, "out of memory for the model handle");
    }
  }
  if (h != NULL) {
    h->model = model;
    h->data = data;
    pnn_session_options options = {.num_threads = threads > 0 ? (uint32_t)threads : 1u, .profile = 0};
    status = pnn_session_create_with_options(model, &options, &h->session, error);
  }
  if (status != PNN_OK) {
    if (h != NULL) {
      free_handle(h);
    } else {
      pnn_model_free(model);
      free(data);
    }
    throw_status(env, (int)error->status, error->message);
    return 0;
  }
  return (jlong)(intptr_t)h;
}

JNIEXPORT jlong JNICALL Java_ai_pocketnn_Model_nativeLoadFile(JNIEnv *env, jclass cls, jstring path,
                                                              jint threads) {
  (void)cls;
  const char *chars = (*env)->GetStringUTFChars(env, path, NULL);
  if (chars == NULL) return 0; /* OutOfMemoryError is pending */
  pnn_model *model = NULL;
  pnn_error error = {PNN_OK, {0}};
  pnn_status status = pnn_model_load_file(chars, &model, &error);
  (*env)->ReleaseStringUTFChars(env, path, chars);
  return finish_load(env, status, model, NULL, threads, &error);
}

JNIEXPORT jlong JNICALL Java_ai_pocketnn_Model_nativeLoadBytes(JNIEnv *env, jclass cls, jbyteArray bytes,
                                                               jint threads) {
  (void)cls;
  jsize size = (*env)->GetArrayLength(env, bytes);
  /* 64-byte aligned, so the loader uses the constants in place instead of copying; the
   * size is a multiple of 64 (aligned_alloc's rule) and never 0. */
  void *data = aligned_alloc(64, ((size_t)size + 63) / 64 * 64 + 64);
  if (data == NULL) {
    throw_class(env, "java/lang/OutOfMemoryError", "no memory for the model bytes");
    return 0;
  }
  (*env)->GetByteArrayRegion(env, bytes, 0, size, data);
  pnn_model *model = NULL;
  pnn_error error = {PNN_OK, {0}};
  pnn_status status = pnn_model_load(data, (size_t)size, &model, &error);
  return finish_load(env, status, model, data, threads, &error);
}

JNIEXPORT void JNICALL Java_ai_pocketnn_Model_nativeFree(JNIEnv *env, jclass cls, jlong handle) {
  (void)env;
  (void)cls;
  if (handle != 0) free_handle((jni_model *)(intptr_t)handle);
}

JNIEXPORT jint JNICALL Java_ai_pocketnn_Model_nativeCount(JNIEnv *env, jclass cls, jlong handle,
                                                          jboolean outputs) {
  (void)cls;
  jni_model *h = handle_of(env, handle);
  if (h == NULL) return 0;
  return (jint)(outputs ? pnn_model_num_outputs(h->model) : pnn_model_num_inputs(h->model));
}

JNIEXPORT jobject JNICALL Java_ai_pocketnn_Model_nativeInfo(JNIEnv *env, jclass cls, jlong handle,
                                                            jboolean output, jint index) {
  (void)cls;
  jni_model *h = handle_of(env, handle);
  if (h == NULL) return NULL;
  pnn_tensor_info info;
  pnn_status status = output ? pnn_model_output_info(h->model, (uint32_t)index, &info)
                             : pnn_model_input_info(h->model, (uint32_t)index, &info);
  if (index < 0 || status != PNN_OK) {
    throw_class(env, "java/lang/IndexOutOfBoundsException", output ? "no such output" : "no such input");
    return NULL;
  }
  jclass info_class = (*env)->FindClass(env, "ai/pocketnn/TensorInfo");
  if (info_class == NULL) return NULL;
  jmethodID init = (*env)->GetMethodID(env, info_class, "<init>", "(Ljava/lang/String;I[JJ)V");
  if (init == NULL) return NULL;
  jstring name = (*env)->NewStringUTF(env, info.name);
  jlongArray shape = name != NULL ? (*env)->NewLongArray(env, info.rank) : NULL;
  if (shape == NULL) return NULL;
  jlong dims[PNN_MAX_RANK];
  for (int d = 0; d < info.rank; ++d) dims[d] = (jlong)info.dims[d];
  (*env)->SetLongArrayRegion(env, shape, 0, info.rank, dims);
  return (*env)->NewObject(env, info_class, init, name, (jint)info.dtype, shape, (jlong)info.size_bytes);
}

/* Bytes of input or output `index` (an exception is pending when there is none). */
static size_t tensor_bytes(JNIEnv *env, const jni_model *h, int output, jsize index) {
  pnn_tensor_info info;
  pnn_status status = output ? pnn_model_output_info(h->model, (uint32_t)index, &info)
                             : pnn_model_input_info(h->model, (uint32_t)index, &info);
  if (status != PNN_OK) {
    throw_class(env, "java/lang/IllegalArgumentException", "more tensors than the model has");
    return 0;
  }
  return info.size_bytes;
}

static int run_session(JNIEnv *env, jni_model *h) {
  pnn_error error = {PNN_OK, {0}};
  if (pnn_session_run(h->session, &error) == PNN_OK) return 1;
  throw_status(env, (int)error.status, error.message);
  return 0;
}

/* Counts the arrays against the model's inputs and outputs (the Java side has already
 * given the friendlier message). */
static int counts_match(JNIEnv *env, const jni_model *h, jobjectArray inputs, jobjectArray outputs) {
  if ((uint32_t)(*env)->GetArrayLength(env, inputs) == pnn_model_num_inputs(h->model) &&
      (uint32_t)(*env)->GetArrayLength(env, outputs) == pnn_model_num_outputs(h->model))
    return 1;
  throw_class(env, "java/lang/IllegalArgumentException", "wrong number of inputs or outputs");
  return 0;
}

/* Copies float[] i into input i, or output i into float[] i, checking each size. */
static int copy_floats(JNIEnv *env, jni_model *h, jobjectArray arrays, int output) {
  for (jsize i = 0; i < (*env)->GetArrayLength(env, arrays); ++i) {
    size_t bytes = tensor_bytes(env, h, output, i);
    if ((*env)->ExceptionCheck(env)) return 0;
    jfloatArray array = (jfloatArray)(*env)->GetObjectArrayElement(env, arrays, i);
    if (array == NULL || (size_t)(*env)->GetArrayLength(env, array) * sizeof(float) != bytes) {
      if (!(*env)->ExceptionCheck(env))
        throw_class(env, "java/lang/IllegalArgumentException", output ? "wrong output size" : "wrong input size");
      return 0;
    }
    jsize count = (jsize)(bytes / sizeof(float));
    if (output)
      (*env)->SetFloatArrayRegion(env, array, 0, count, pnn_session_output(h->session, (uint32_t)i));
    else
      (*env)->GetFloatArrayRegion(env, array, 0, count, pnn_session_input(h->session, (uint32_t)i));
    (*env)->DeleteLocalRef(env, array);
  }
  return 1;
}

/* The same with direct buffers: each holds at least the tensor's bytes from its start. */
static int copy_buffers(JNIEnv *env, jni_model *h, jobjectArray buffers, int output) {
  for (jsize i = 0; i < (*env)->GetArrayLength(env, buffers); ++i) {
    size_t bytes = tensor_bytes(env, h, output, i);
    if ((*env)->ExceptionCheck(env)) return 0;
    jobject buffer = (*env)->GetObjectArrayElement(env, buffers, i);
    void *address = buffer != NULL ? (*env)->GetDirectBufferAddress(env, buffer) : NULL;
    jlong capacity = buffer != NULL ? (*env)->GetDirectBufferCapacity(env, buffer) : -1;
    if (address == NULL || capacity < 0 || (size_t)capacity < bytes) {
      if (!(*env)->ExceptionCheck(env))
        throw_class(env, "java/lang/IllegalArgumentException", "a direct ByteBuffer of the tensor's size is needed");
      return 0;
    }
    if (output)
      memcpy(address, pnn_session_output(h->session, (uint32_t)i), bytes);
    else
      memcpy(pnn_session_input(h->session, (uint32_t)i), address, bytes);
    (*env)->DeleteLocalRef(env, buffer);
  }
  return 1;
}

/* values and results are float[][] (direct false) or ByteBuffer[] (direct true). */
JNIEXPORT void JNICALL Java_ai_pocketnn_Model_nativeRun(JNIEnv *env, jclass cls, jlong handle, jobjectArray values,
                                                        jobjectArray results, jboolean direct) {
  (void)cls;
  int (*copy)(JNIEnv *, jni_model *, jobjectArray, int) = direct ? copy_buffers : copy_floats;
  jni_model *h = handle_of(env, handle);
  if (h != NULL && counts_match(env, h, values, results) && copy(env, h, values, 0) && run_session(env, h))
    copy(env, h, results, 1);
}

JNIEXPORT jstring JNICALL Java_ai_pocketnn_Model_runtimeVersion(JNIEnv *env, jclass cls) {
  (void)cls;
  return (*env)->NewStringUTF(env, pnn_runtime_version());
}

JNIEXPORT jstring JNICALL Java_ai_pocketnn_Model_runtimeIsa(JNIEnv *env, jclass cls) {
  (void)cls;
  return (*env)->NewStringUTF(env, pnn_runtime_isa());
}
