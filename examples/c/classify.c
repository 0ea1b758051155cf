/* The smallest pocketnn program: loads a .pnn, fills input 0 with ones, runs it and
 * prints the runtime version, the element count of output 0 and its values, one a line.
 *   classify model.pnn */
#include <pocketnn.h>
#include <stdio.h>

static int run_on_ones(const pnn_model *model, pnn_session *session, pnn_error *error) {
  pnn_tensor_info in, out;
  pnn_model_input_info(model, 0, &in);
  pnn_model_output_info(model, 0, &out);
  if (in.dtype != PNN_DTYPE_F32 || out.dtype != PNN_DTYPE_F32) {
    fprintf(stderr, "this example runs float32 models\n");
    return 1;
  }
  float *x = pnn_session_input(session, 0);
  for (size_t i = 0; i < in.size_bytes / sizeof(float); ++i) x[i] = 1.0f;
  if (pnn_session_run(session, error) != PNN_OK) {
    fprintf(stderr, "%s\n", error->message);
    return 1;
  }
  const float *y = pnn_session_output(session, 0);
  printf("%s %zu\n", pnn_runtime_version(), out.size_bytes / sizeof(float));
  for (size_t i = 0; i < out.size_bytes / sizeof(float); ++i) printf("%.9g\n", y[i]);
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: classify model.pnn\n");
    return 2;
  }
  pnn_model *model = NULL;
  pnn_session *session = NULL;
  pnn_error error;
  int status = 1;
  if (pnn_model_load_file(argv[1], &model, &error) == PNN_OK && pnn_session_create(model, &session, &error) == PNN_OK)
    status = run_on_ones(model, session, &error);
  else
    fprintf(stderr, "%s\n", error.message);
  pnn_session_free(session);
  pnn_model_free(model);
  return status;
}
