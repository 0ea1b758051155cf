// The browser app test_package.sh bundles with esbuild (platform=browser): it must
// bundle with no options and keep the .wasm and worker URLs relative to the bundle;
// index.html runs it in headless Chromium.
import { createPocketnnWorker, loadPocketnn, PocketnnError } from 'pocketnn';

export async function classify(modelBytes, input) {
  const pnn = await loadPocketnn();
  const model = pnn.loadModel(modelBytes);
  try {
    return model.run({ [model.inputs[0].name]: input });
  } catch (error) {
    if (error instanceof PocketnnError) console.error(error.status);
    throw error;
  } finally {
    model.dispose();
  }
}

export async function classifyOffThread(modelBytes, input) {
  const worker = await createPocketnnWorker();
  try {
    const model = await worker.loadModel(modelBytes);
    return await model.run({ [model.inputs[0].name]: input });
  } finally {
    worker.terminate();
  }
}
