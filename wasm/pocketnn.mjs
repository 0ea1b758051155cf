// pocketnn for browsers and web workers (package.json's "browser" and "default"
// entry; node takes pocketnn.node.mjs, which has the same API).
//
//   import { loadPocketnn } from 'pocketnn';
//   const pnn = await loadPocketnn();                 // or { wasmBinary } / { wasmUrl }
//   const model = pnn.loadModel(uint8ArrayOrArrayBuffer);
//   model.inputs;  // [{ name, shape, dtype, sizeBytes }]
//   const outputs = model.run({ input: new Float32Array(...) });  // { name: TypedArray }
//   model.dispose();
//
// Off the main thread: const worker = await createPocketnnWorker(); see worker.mjs.
//
// The .wasm and the worker script are named with new URL('...', import.meta.url), the
// pattern Vite and webpack follow to emit them next to the bundle. A page that is
// crossOriginIsolated (served with COOP/COEP headers, see README.md) gets the pthreads
// build; any other the single-threaded one.

import createSingleThreaded from './dist/pocketnn_wasm.mjs';
import { chooseBuild, instantiate, pthreadPoolSize, toBytes } from './core.mjs';
import { PocketnnWorker } from './worker_client.mjs';

export { Model, Pocketnn, PocketnnError } from './core.mjs';
export { PocketnnWorker, WorkerModel } from './worker_client.mjs';

const DEFAULT_WASM_URL = new URL('./dist/pocketnn_wasm.wasm', import.meta.url);
const THREADS_WASM_URL = new URL('./dist/pocketnn_wasm_threads.wasm', import.meta.url);

async function fetchWasm(url) {
  const response = await fetch(url);
  if (!response.ok) {
    throw new Error(`could not fetch the pocketnn WebAssembly module at ${url}: HTTP ${response.status}. ` +
      'A bundler that does not follow new URL(..., import.meta.url) (esbuild) leaves it out: copy ' +
      'node_modules/pocketnn/dist/pocketnn_wasm.wasm there, or pass { wasmUrl } or { wasmBinary }.');
  }
  return new Uint8Array(await response.arrayBuffer());
}

function baseUrl() {
  return globalThis.location?.href ?? DEFAULT_WASM_URL;
}

// SharedArrayBuffer (and so the pthreads build) exists only in crossOriginIsolated pages and workers.
const threadsAvailable = () => globalThis.crossOriginIsolated === true && typeof SharedArrayBuffer === 'function';

async function wasmBytes(options, defaultUrl) {
  if (options.wasmBinary != null) return toBytes(options.wasmBinary, 'wasmBinary');
  return fetchWasm(options.wasmUrl != null ? new URL(options.wasmUrl, baseUrl()) : defaultUrl);
}

/**
 * Instantiates the WebAssembly module. Options: build ('auto': the pthreads build
 * when crossOriginIsolated and threads > 1; 'single'; 'threads'), threads (in all,
 * the caller's included; default: navigator.hardwareConcurrency, at most 4),
 * wasmBinary (the chosen build's .wasm bytes) or wasmUrl (where to fetch them,
 * relative to the page; default: dist/pocketnn_wasm.wasm or
 * dist/pocketnn_wasm_threads.wasm next to this file).
 */
export async function loadPocketnn(options = {}) {
  const { build, threads } = chooseBuild(options, threadsAvailable(), globalThis.navigator?.hardwareConcurrency ?? 1);
  if (build === 'single') return instantiate(createSingleThreaded, await wasmBytes(options, DEFAULT_WASM_URL));
  const { default: createThreaded } = await import('./dist/pocketnn_wasm_threads.mjs');
  return instantiate(createThreaded, await wasmBytes(options, THREADS_WASM_URL), {
    build,
    threads,
    moduleOptions: { pthreadPoolSize: pthreadPoolSize(threads) },
  });
}

/**
 * Starts a module worker running the runtime; resolves once its WebAssembly module is
 * instantiated (same options as loadPocketnn). Call terminate() when done.
 */
export function createPocketnnWorker(options = {}) {
  const worker = new Worker(new URL('./worker.mjs', import.meta.url), { type: 'module', name: 'pocketnn' });
  const wasm = { build: options.build, threads: options.threads };
  if (options.wasmUrl != null) wasm.wasmUrl = new URL(options.wasmUrl, baseUrl()).href;
  if (options.wasmBinary != null) wasm.wasmBinary = toBytes(options.wasmBinary, 'wasmBinary');
  return PocketnnWorker.start({
    post: (message, transfer) => worker.postMessage(message, transfer),
    listen: (onMessage, onError) => {
      worker.addEventListener('message', (event) => onMessage(event.data));
      // A script that fails to load gives an error event without a message.
      worker.addEventListener('error', (event) => onError(new Error(
        `pocketnn worker: ${event.message ?? 'its script (worker.mjs beside the bundle) did not load'}`)));
    },
    terminate: () => worker.terminate(),
  }, wasm);
}
