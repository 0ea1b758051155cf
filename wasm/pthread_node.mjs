// The worker class the pthreads build starts its pool with under node (handed to the
// factory as Module.pthreadWorker; see src/pthread_worker_class.js). emcc 3.1.6's
// web glue expects a web Worker: onmessage/onerror receiving { data } events,
// postMessage, terminate. This wraps a node:worker_threads Worker running
// pthread_worker.node.mjs, which gives emscripten's worker script the globals it
// expects (self, postMessage, onmessage).

import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';

/**
 * Returns a web-Worker-shaped class whose instances run emscripten's pthread worker
 * script. resolveScript maps the URL emscripten names (beside the module's own URL,
 * which a bundle may have moved) to the file to run.
 */
export function nodePthreadWorkerClass(resolveScript, adapterUrl) {
  return class NodePthreadWorker {
    constructor(scriptUrl) {
      const script = resolveScript(new URL(String(scriptUrl)));
      if (!existsSync(script)) throw new Error(`pocketnn: the pthread worker script ${script} is missing`);
      this.onmessage = null;
      this.onerror = null;
      this._worker = new Worker(adapterUrl, { workerData: { script: script.href }, name: 'pocketnn-pthread' });
      this._worker.on('message', (data) => {
        // Loaded workers only run when the caller blocks in a run (they never keep node alive).
        if (data?.cmd === 'loaded') this._worker.unref();
        this.onmessage?.({ data });
      });
      this._worker.on('error', (error) => this.onerror?.(error));
    }

    postMessage(message, transfer) {
      this._worker.postMessage(message, transfer);
    }

    terminate() {
      return this._worker.terminate();
    }
  };
}
