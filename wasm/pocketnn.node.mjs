// pocketnn for node (package.json's "node" entry): the API of pocketnn.mjs, reading
// the .wasm and starting workers from the file system instead of fetching.

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

import { instantiate, toBytes } from './core.mjs';
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

const wasmFile = () => packageFile(new URL('./dist/pocketnn_wasm.wasm', import.meta.url), 'dist/pocketnn_wasm.wasm');

async function readWasm(url) {
  if (url.protocol !== 'file:') {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`could not fetch ${url}: HTTP ${response.status}`);
    return new Uint8Array(await response.arrayBuffer());
  }
  return readFile(url);
}

/**
 * Instantiates the WebAssembly module. Options: wasmBinary (the .wasm bytes) or
 * wasmUrl (a URL or a file path; default: the package's dist/pocketnn_wasm.wasm).
 */
export async function loadPocketnn(options = {}) {
  if (options.wasmBinary != null) return instantiate(toBytes(options.wasmBinary, 'wasmBinary'));
  const url = options.wasmUrl != null ? wasmLocation(options.wasmUrl) : wasmFile();
  return instantiate(await readWasm(url));
}

/**
 * Starts a worker thread running the runtime; resolves once its WebAssembly module is
 * instantiated (same options as loadPocketnn). The thread keeps node alive only while
 * a request is pending; terminate() ends it.
 */
export function createPocketnnWorker(options = {}) {
  const worker = new Worker(packageFile(new URL('./worker.node.mjs', import.meta.url), 'worker.node.mjs'),
    { name: 'pocketnn' });
  const wasm = options.wasmUrl != null ? { wasmUrl: wasmLocation(options.wasmUrl).href } : {};
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
