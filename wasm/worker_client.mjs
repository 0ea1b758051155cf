// The page's side of createPocketnnWorker(): every call is a request to the worker
// (worker_host.mjs) answered by a Promise, so inference never blocks the caller's
// thread. Input buffers are transferred to the worker when a typed array spans its
// whole buffer (that array is then detached; pass { transfer: false } to copy).

import { PocketnnError, toBytes } from './core.mjs';

function rebuildError({ name, message, status }) {
  if (name === 'PocketnnError') return new PocketnnError(message, status);
  return name === 'TypeError' ? new TypeError(message) : new Error(message);
}

function transferable(value) {
  return ArrayBuffer.isView(value) && value.buffer instanceof ArrayBuffer &&
    value.byteOffset === 0 && value.byteLength === value.buffer.byteLength;
}

/** A worker running the runtime. Made by createPocketnnWorker(). */
export class PocketnnWorker {
  // endpoint: { post(message, transfer), listen(onMessage, onError), busy?(pending), terminate() }
  static async start(endpoint, wasm) {
    const worker = new PocketnnWorker(endpoint);
    try {
      // build and threads: as Pocketnn's in the worker (its pthreads run beside it).
      ({ version: worker.version, build: worker.build, threads: worker.threads } = await worker._call('init', wasm));
    } catch (error) {
      worker.terminate();
      throw error;
    }
    return worker;
  }

  constructor(endpoint) {
    this._endpoint = endpoint;
    this._pending = new Map();
    this._nextId = 1;
    this._closed = null;
    endpoint.listen((message) => this._settle(message), (error) => this._fail(error));
  }

  _call(op, payload = {}, transfer = []) {
    if (this._closed !== null) return Promise.reject(this._closed);
    const id = this._nextId++;
    return new Promise((resolve, reject) => {
      this._pending.set(id, { resolve, reject });
      if (this._pending.size === 1) this._endpoint.busy?.(true);
      this._endpoint.post({ ...payload, id, op }, transfer);
    });
  }

  _settle({ id, ok, result, error }) {
    const call = this._pending.get(id);
    if (call === undefined) return;
    this._pending.delete(id);
    if (this._pending.size === 0) this._endpoint.busy?.(false);
    if (ok) call.resolve(result);
    else call.reject(rebuildError(error));
  }

  _fail(error) {
    if (this._closed !== null) return;
    this._closed = error;
    for (const call of this._pending.values()) call.reject(error);
    this._pending.clear();
    this._endpoint.busy?.(false);
  }

  /** Loads a .pnn model in the worker (its bytes are copied there). */
  async loadModel(data, options = {}) {
    const bytes = toBytes(data, 'model data');
    const { handle, inputs, outputs, threads } = await this._call('load', { bytes, options });
    return new WorkerModel(this, handle, inputs, outputs, threads);
  }

  /** Stops the worker; pending and later calls reject. */
  terminate() {
    this._fail(new Error('the pocketnn worker was terminated'));
    this._endpoint.terminate();
  }
}

/** A model loaded in a worker: the API of Model, with Promises. */
export class WorkerModel {
  constructor(worker, handle, inputs, outputs, threads) {
    this._worker = worker;
    this._handle = handle;
    this.inputs = inputs;
    this.outputs = outputs;
    this.threads = threads;
  }

  _request(op, payload = {}, transfer = []) {
    if (this._handle === 0) return Promise.reject(new Error('the model has been disposed'));
    return this._worker._call(op, { ...payload, handle: this._handle }, transfer);
  }

  run(feeds, { transfer = true } = {}) {
    const buffers = transfer ? Object.values(feeds).filter(transferable).map((array) => array.buffer) : [];
    return this._request('run', { feeds }, [...new Set(buffers)]);
  }

  nodes() {
    return this._request('nodes');
  }

  metadata(key) {
    return this._request('metadata', { key });
  }

  /** Frees the model in the worker. Safe to call twice, and after terminate(). */
  async dispose() {
    const handle = this._handle;
    this._handle = 0;
    // A terminated worker took its models with it.
    if (handle === 0 || this._worker._closed !== null) return;
    await this._worker._call('dispose', { handle });
  }
}
