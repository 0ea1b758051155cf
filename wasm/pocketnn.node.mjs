// pocketnn for node (package.json's "node" entry): the API of pocketnn.mjs, reading
// the .wasm and starting workers from the file system instead of fetching. Node has
// worker_threads, so the pthreads build is the default (pthread_node.mjs starts its
// pool's workers).

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

import createSingleThreaded from './dist/pocketnn_wasm.mjs';
import { chooseBuild, instantiate, pthreadPoolSize, toBytes } from './core.mjs';
import { nodePthreadWorkerClass } from './pthread_node.mjs';
import { PocketnnWorker } from './worker_client.mjs';

export { Model, Pocketnn, PocketnnError } from './core.mjs';
export { PocketnnWorker, WorkerModel } from './worker_client.mjs';

// A file of this package: beside this module, or, once a bundler that does not copy
// the files named by new URL(..., import.meta.url) (esbuild) has moved this code into
// the app's bundle, the copy in the installed package (node_modules/pocketnn).
function packageFile(beside, pathInPackage) {
  if (existsSync(beside) || typeof import.meta.resolve !== 'function') return beside;
  try {
    return new URL(import.meta.resolve(`pocketnn/${pathInPackage}`));
  } catch {
    return beside;
  }
}

// options.wasmUrl: a URL object, a file:/http(s):/data: URL string, or a file path.
function wasmLocation(wasmUrl) {
  if (wasmUrl instanceof URL) return wasmUrl;
  return /^(file|https?|data):/i.test(wasmUrl) ? new URL(wasmUrl) : pathToFileURL(path.resolve(wasmUrl));
}

const distFile = (name) => packageFile(new URL(`./dist/${name}`, import.meta.url), `dist/${name}`);
const cores = () => (typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);

async function readWasm(url) {
  if (url.protocol !== 'file:') {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`could not fetch ${url}: HTTP ${response.status}`);
    return new Uint8Array(await response.arrayBuffer());
  }
  return readFile(url);
}

async function wasmBytes(options, defaultFile) {
  if (options.wasmBinary != null) return toBytes(options.wasmBinary, 'wasmBinary');
  return readWasm(options.wasmUrl != null ? wasmLocation(options.wasmUrl) : distFile(defaultFile));
}

/**
 * Instantiates the WebAssembly module. Options: build ('auto': the pthreads build
 * when threads > 1; 'single'; 'threads'), threads (in all, the caller's included;
 * default: the cores, at most 4), wasmBinary (the chosen build's .wasm bytes) or
 * wasmUrl (a URL or a file path; default: the package's dist/ file).
 */
export async function loadPocketnn(options = {}) {
  const { build, threads } = chooseBuild(options, true, cores());
  if (build === 'single') {
    return instantiate(createSingleThreaded, await wasmBytes(options, 'pocketnn_wasm.wasm'));
  }
  const { default: createThreaded } = await import('./dist/pocketnn_wasm_threads.mjs');
  const moduleUrl = distFile('pocketnn_wasm_threads.mjs');
  return instantiate(createThreaded, await wasmBytes(options, 'pocketnn_wasm_threads.wasm'), {
    build,
    threads,
    moduleOptions: {
      pthreadPoolSize: pthreadPoolSize(threads),
      // Emscripten names the worker script beside the module's URL, which a bundle moved.
      pthreadWorker: nodePthreadWorkerClass(
        (url) => (existsSync(url) ? url : distFile('pocketnn_wasm_threads.worker.js')),
        packageFile(new URL('./pthread_worker.node.mjs', import.meta.url), 'pthread_worker.node.mjs')),
      // What each pthread imports: the module file itself, as a file: URL.
      mainScriptUrlOrBlob: moduleUrl.href,
    },
  });
}

/**
 * Starts a worker thread running the runtime; resolves once its WebAssembly module is
 * instantiated (same options as loadPocketnn; a pthreads build's pool runs beside it). The thread keeps node alive only while
 * a request is pending; terminate() ends it.
 */
export function createPocketnnWorker(options = {}) {
  const worker = new Worker(packageFile(new URL('./worker.node.mjs', import.meta.url), 'worker.node.mjs'),
    { name: 'pocketnn' });
  const wasm = { build: options.build, threads: options.threads };
  if (options.wasmUrl != null) wasm.wasmUrl = wasmLocation(options.wasmUrl).href;
  if (options.wasmBinary != null) wasm.wasmBinary = toBytes(options.wasmBinary, 'wasmBinary');
  return PocketnnWorker.start({
    post: (message, transfer) => worker.postMessage(message, transfer),
    listen: (onMessage, onError) => {
      worker.on('message', onMessage);
      worker.on('error', (error) => onError(error));
      worker.on('exit', (code) => onError(new Error(`the pocketnn worker exited (code ${code})`)));
    },
    busy: (pending) => (pending ? worker.ref() : worker.unref()),
    terminate: () => worker.terminate(),
  }, wasm);
}
