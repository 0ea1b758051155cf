// A node worker thread dressed as the web worker emscripten's pthread worker script
// (dist/pocketnn_wasm_threads.worker.js, a classic script) runs in: it reads self,
// postMessage and location, sets self.onmessage, and imports the module factory with
// import(). Started by pthread_node.mjs with the script's file URL.
import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';

Object.assign(globalThis, {
  self: globalThis,
  location: { href: workerData.script },
  postMessage: (message, transfer) => parentPort.postMessage(message, transfer),
  // The module's glue tells a worker from a page by this function; the script never calls it.
  importScripts: () => {
    throw new Error('importScripts is not available in a pocketnn node pthread');
  },
});
parentPort.on('message', (data) => globalThis.onmessage({ data }));
// Indirect eval: the script runs as a classic script in this thread's global scope.
(0, eval)(readFileSync(new URL(workerData.script), 'utf8'));
