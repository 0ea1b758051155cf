// The part of pocketnn's JavaScript API every environment shares: the wrapper over
// the C runtime compiled to WebAssembly (SIMD128). The entries (pocketnn.mjs for
// browsers and workers, pocketnn.node.mjs for node) pick a build (single-threaded or
// pthreads, chooseBuild), find its .wasm bytes and call instantiate(); package.json's
// "exports" picks the entry. Errors from the runtime become PocketnnError (an Error)
// carrying the runtime's message and status name.

// Keys of pnn_wasm_layout (wasm/src/abi.c), in its order.
const LAYOUT_KEYS = [
  'errorSize', 'errorStatus', 'errorMessage', 'infoSize', 'infoName', 'infoDtype', 'infoRank',
  'infoDims', 'infoSizeBytes', 'maxRank', 'errorMessageBytes', 'nodeSize', 'nodeName', 'nodeOp',
  'nodeKernel', 'optionsSize', 'optionsThreads', 'loadOptionsSize', 'loadOptionsMaxMemory',
];

// pnn_dtype codes -> name, element bytes, typed array holding one element per entry
// (f16, s4 and b1 are handed out as their raw bytes).
const DTYPES = {
  1: { name: 'float32', bytes: 4, array: Float32Array },
  2: { name: 'float16', bytes: 2, array: Uint16Array },
  3: { name: 'int8', bytes: 1, array: Int8Array },
  4: { name: 'uint8', bytes: 1, array: Uint8Array },
  5: { name: 'int4', bytes: 0, array: Uint8Array },
  6: { name: 'bit', bytes: 0, array: Uint8Array },
  7: { name: 'int32', bytes: 4, array: Int32Array },
  8: { name: 'int64', bytes: 8, array: BigInt64Array },
  9: { name: 'bool', bytes: 1, array: Uint8Array },  // 0 false, 1 true
};

// pnn_status codes -> the enum's names (pocketnn.h).
const STATUS_NAMES = [
  'PNN_OK', 'PNN_ERR_INVALID_ARGUMENT', 'PNN_ERR_IO', 'PNN_ERR_FORMAT', 'PNN_ERR_VERSION',
  'PNN_ERR_CHECKSUM', 'PNN_ERR_UNSUPPORTED', 'PNN_ERR_SHAPE', 'PNN_ERR_OUT_OF_MEMORY', 'PNN_ERR_BUSY', 'PNN_ERR_LIMIT',
];

const MODEL_ALIGNMENT = 64; // the runtime uses a 64-byte aligned buffer in place

/** An error reported by the runtime: status is e.g. "PNN_ERR_FORMAT", the message
 * the runtime's own text. */
export class PocketnnError extends Error {
  constructor(message, status) {
    super(message);
    this.name = 'PocketnnError';
    this.status = status;
  }
}

export function toBytes(data, what) {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer || (typeof SharedArrayBuffer === 'function' && data instanceof SharedArrayBuffer)) {
    return new Uint8Array(data);
  }
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError(`${what} must be a Uint8Array, an ArrayBuffer or a typed array`);
}

// The pthreads build's glue warns once when the calling thread waits for the pool;
// run() is synchronous by design (pages run it in a worker), so the warning is noise.
const BLOCKING_WARNING = 'Blocking on the main thread is very dangerous';

// Threads of the pthreads build when loadPocketnn's options do not say: the cores, at
// most this many (each thread is a worker holding its own instance of the module).
const DEFAULT_MAX_THREADS = 4;

/**
 * Which build loadPocketnn instantiates, and with how many threads in all (the
 * caller's included). options.build: 'auto' (default), 'single' or 'threads';
 * options.threads: a positive integer. 'auto' takes the pthreads build when
 * threadsAvailable (SharedArrayBuffer usable: crossOriginIsolated pages, node) and
 * more than one thread is wanted; it means 'single' when options.wasmBinary or
 * options.wasmUrl name the single-threaded build's bytes.
 */
export function chooseBuild(options, threadsAvailable, cores) {
  const build = options.build ?? 'auto';
  if (!['auto', 'single', 'threads'].includes(build)) {
    throw new TypeError(`build must be 'auto', 'single' or 'threads', got ${build}`);
  }
  const threads = options.threads ?? Math.max(1, Math.min(DEFAULT_MAX_THREADS, cores));
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) {
    throw new TypeError(`threads must be an integer in [1, 256], got ${threads}`);
  }
  if (build === 'threads') {
    if (!threadsAvailable) {
      throw new Error('the pthreads build needs SharedArrayBuffer: serve the page with ' +
        'Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp');
    }
    return { build, threads };
  }
  const explicitBytes = options.wasmBinary != null || options.wasmUrl != null;
  if (build === 'auto' && threadsAvailable && threads > 1 && !explicitBytes) return { build: 'threads', threads };
  return { build: 'single', threads: 1 };
}

/**
 * Workers the pthreads build's factory starts for `threads` in all: one per thread
 * beside the caller, and at least one. emcc 3.1.6's loader waits for every pool worker
 * to load the module before it resolves, counting down from the pool's size: with an
 * empty pool the count never reaches zero and loadPocketnn({ build: 'threads',
 * threads: 1 }) never resolved. The spare worker stays idle (models get threads - 1).
 */
export function pthreadPoolSize(threads) {
  return Math.max(1, threads - 1);
}

/**
 * Instantiates a build's module factory (dist/pocketnn_wasm.mjs or
 * dist/pocketnn_wasm_threads.mjs) from its .wasm bytes. build and threads: as
 * chooseBuild returns them (threads: what models may use in all); moduleOptions: what the pthreads
 * build's factory needs (pthreadPoolSize, and under node pthreadWorker and
 * mainScriptUrlOrBlob).
 */
export async function instantiate(createModule, wasmBinary, { build = 'single', threads = 1, moduleOptions = {} } = {}) {
  const module = await createModule({
    ...moduleOptions,
    wasmBinary: toBytes(wasmBinary, 'wasmBinary'),
    print: (text) => console.log(text),
    printErr: (text) => {
      if (!text.startsWith(BLOCKING_WARNING)) console.warn(text);
    },
  });
  return new Pocketnn(module, { build, threads });
}

/** One instance of the WebAssembly module; models loaded from it share its memory. */
export class Pocketnn {
  constructor(module, { build = 'single', threads = 1 } = {}) {
    this._m = module;
    /** Threads in all (the caller's included) the models of this module share. */
    this.threads = threads;
    /** 'threads' for the pthreads build, else 'single'. */
    this.build = build;
    // Pool workers not held by a model's session. A session starts its threads when
    // created; one beyond the pool would wait for a new worker to load, which cannot
    // happen while the caller blocks in run, so loadModel refuses it.
    this._idleWorkers = threads - 1;
    this.layout = {};
    LAYOUT_KEYS.forEach((key, index) => {
      this.layout[key] = module._pnn_wasm_layout(index);
    });
    // One pnn_error for every call: calls come from this one JavaScript thread.
    this._error = this._malloc(this.layout.errorSize);
  }

  /** The runtime's release (PNN_RUNTIME_VERSION of the C sources compiled). */
  get version() {
    return this._string(this._m._pnn_runtime_version());
  }

  _malloc(bytes) {
    const pointer = this._m._malloc(Math.max(1, bytes));
    if (pointer === 0) throw new PocketnnError(`out of memory allocating ${bytes} bytes`, 'PNN_ERR_OUT_OF_MEMORY');
    return pointer;
  }

  // Views are re-created on every use: growing the memory detaches the old ones.
  get _heap() {
    return this._m.HEAPU8;
  }

  _view() {
    return new DataView(this._m.HEAPU8.buffer);
  }

  _string(pointer) {
    return pointer === 0 ? null : this._m.UTF8ToString(pointer);
  }

  _check(status, context) {
    if (status === 0) return;
    const name = STATUS_NAMES[status] ?? `PNN_STATUS_${status}`;
    const message = this._string(this._error + this.layout.errorMessage) ||
      this._string(this._m._pnn_status_string(status));
    throw new PocketnnError(context ? `${context}: ${message}` : message, name);
  }

  _clearError() {
    this._heap.fill(0, this._error, this._error + this.layout.errorSize);
  }

  /**
   * Loads a .pnn model from its bytes (copied once into the WebAssembly memory).
   * options.threads: threads its runs use (default: the pool's idle workers + 1).
   */
  loadModel(data, options = {}) {
    return new Model(this, toBytes(data, 'model data'), options);
  }
}

function shapeSize(shape) {
  return shape.reduce((a, b) => a * b, 1);
}

/** A loaded model with one session. Call dispose() to free its memory. */
export class Model {
  constructor(pnn, bytes, options) {
    this._pnn = pnn;
    const m = pnn._m;
    const L = pnn.layout;
    this._block = 0;
    this._model = 0;
    this._session = 0;
    /** Threads this model's runs use (1 in the single-threaded build). */
    this.threads = 1;
    const slot = pnn._malloc(4);
    try {
      // Model bytes at a 64-byte aligned address, kept until dispose().
      this._block = pnn._malloc(bytes.length + MODEL_ALIGNMENT);
      const data = this._block + ((MODEL_ALIGNMENT - (this._block % MODEL_ALIGNMENT)) % MODEL_ALIGNMENT);
      pnn._heap.set(bytes, data);
      // options.maxMemory: bytes a session may use for activations and scratch (the
      // runtime's default, 1 GiB, when absent; wasm32 addresses at most 4 GiB).
      const maxMemory = options.maxMemory ?? 0;
      if (!Number.isInteger(maxMemory) || maxMemory < 0 || maxMemory > 0xffffffff) {
        throw new PocketnnError(`maxMemory must be an integer number of bytes in [0, 2^32), got ${maxMemory}`,
          'PNN_ERR_INVALID_ARGUMENT');
      }
      const loadOptions = pnn._malloc(L.loadOptionsSize);
      try {
        pnn._heap.fill(0, loadOptions, loadOptions + L.loadOptionsSize);
        pnn._view().setUint32(loadOptions + L.loadOptionsMaxMemory, maxMemory, true);
        pnn._clearError();
        pnn._check(m._pnn_model_load_with_options(data, bytes.length, loadOptions, slot, pnn._error),
          'loading the model');
      } finally {
        m._free(loadOptions);
      }
      this._model = pnn._view().getUint32(slot, true);

      const threads = this._takeThreads(options.threads);
      const opts = pnn._malloc(L.optionsSize);
      try {
        pnn._heap.fill(0, opts, opts + L.optionsSize);
        pnn._view().setUint32(opts + L.optionsThreads, threads, true);
        pnn._clearError();
        pnn._check(m._pnn_session_create_with_options(this._model, opts, slot, pnn._error),
          'creating a session');
      } finally {
        m._free(opts);
      }
      this._session = pnn._view().getUint32(slot, true);

      this.inputs = this._infos(m._pnn_model_num_inputs(this._model), m._pnn_model_input_info);
      this.outputs = this._infos(m._pnn_model_num_outputs(this._model), m._pnn_model_output_info);
    } catch (error) {
      this.dispose();
      throw error;
    } finally {
      m._free(slot);
    }
  }

  // The threads this model's session runs with, taken from the pool until dispose().
  _takeThreads(requested) {
    const pnn = this._pnn;
    const threads = requested ?? pnn._idleWorkers + 1;
    if (!Number.isInteger(threads) || threads < 1) {
      throw new PocketnnError(`threads must be a positive integer, got ${threads}`, 'PNN_ERR_INVALID_ARGUMENT');
    }
    if (pnn.build === 'single') return 1;
    if (threads - 1 > pnn._idleWorkers) {
      throw new PocketnnError(`${threads} threads requested but ${pnn._idleWorkers + 1} are free ` +
        `(loadPocketnn({ threads: ${pnn.threads} }) sized the pool; other models hold the rest)`, 'PNN_ERR_LIMIT');
    }
    pnn._idleWorkers -= threads - 1;
    this.threads = threads;
    return threads;
  }

  _infos(count, getter) {
    const pnn = this._pnn;
    const L = pnn.layout;
    const info = pnn._malloc(L.infoSize);
    try {
      const result = [];
      for (let i = 0; i < count; ++i) {
        pnn._check(getter(this._model, i, info), `tensor info ${i}`);
        const view = pnn._view();
        const rank = view.getInt32(info + L.infoRank, true);
        const shape = [];
        for (let d = 0; d < rank; ++d) shape.push(Number(view.getBigInt64(info + L.infoDims + 8 * d, true)));
        const code = view.getInt32(info + L.infoDtype, true);
        const dtype = DTYPES[code] ?? { name: `dtype${code}`, bytes: 0, array: Uint8Array };
        result.push({
          name: pnn._string(view.getUint32(info + L.infoName, true)),
          shape,
          dtype: dtype.name,
          sizeBytes: view.getUint32(info + L.infoSizeBytes, true),
          _array: dtype.array,
        });
      }
      return result.map((t) => {
        Object.defineProperty(t, '_array', { enumerable: false, value: t._array });
        return t;
      });
    } finally {
      pnn._m._free(info);
    }
  }

  _alive() {
    if (this._session === 0) throw new Error('the model has been disposed');
  }

  /** The graph's nodes: [{ name, op, kernel }] (kernel: the variant chosen at load). */
  get nodes() {
    this._alive();
    const pnn = this._pnn;
    const L = pnn.layout;
    const info = pnn._malloc(L.nodeSize);
    try {
      const result = [];
      const count = pnn._m._pnn_model_num_nodes(this._model);
      for (let i = 0; i < count; ++i) {
        pnn._check(pnn._m._pnn_model_node_info(this._model, i, info), `node info ${i}`);
        const view = pnn._view();
        result.push({
          name: pnn._string(view.getUint32(info + L.nodeName, true)),
          op: pnn._string(view.getUint32(info + L.nodeOp, true)),
          kernel: pnn._string(view.getUint32(info + L.nodeKernel, true)) ?? '',
        });
      }
      return result;
    } finally {
      pnn._m._free(info);
    }
  }

  /** String metadata by key, or null. */
  metadata(key) {
    this._alive();
    const pnn = this._pnn;
    const bytes = new TextEncoder().encode(`${key}\0`);
    const pointer = pnn._malloc(bytes.length);
    try {
      pnn._heap.set(bytes, pointer);
      return pnn._string(pnn._m._pnn_model_metadata(this._model, pointer));
    } finally {
      pnn._m._free(pointer);
    }
  }

  /**
   * Runs the model. feeds: { inputName: TypedArray (or Array for float32) } with as
   * many elements as the input's shape. Returns { outputName: TypedArray } (copies).
   */
  run(feeds) {
    this._alive();
    const pnn = this._pnn;
    const m = pnn._m;
    const known = new Set(this.inputs.map((t) => t.name));
    for (const name of Object.keys(feeds)) {
      if (!known.has(name)) {
        throw new Error(`unknown input "${name}"; the model's inputs are ${[...known].join(', ')}`);
      }
    }
    this.inputs.forEach((info, index) => {
      let value = feeds[info.name];
      if (value === undefined) throw new Error(`missing input "${info.name}" (shape [${info.shape}])`);
      if (Array.isArray(value) && info._array === Float32Array) value = Float32Array.from(value);
      if (!(value instanceof info._array)) {
        throw new TypeError(`input "${info.name}" must be a ${info._array.name} (dtype ${info.dtype})`);
      }
      if (value.byteLength !== info.sizeBytes) {
        throw new Error(`input "${info.name}" has ${value.length} elements; the model expects ` +
          `shape [${info.shape}] (${shapeSize(info.shape)} elements)`);
      }
      const target = m._pnn_session_input(this._session, index);
      pnn._heap.set(new Uint8Array(value.buffer, value.byteOffset, value.byteLength), target);
    });
    pnn._clearError();
    pnn._check(m._pnn_session_run(this._session, pnn._error), 'run');
    const results = {};
    this.outputs.forEach((info, index) => {
      const source = m._pnn_session_output(this._session, index);
      const copy = pnn._heap.slice(source, source + info.sizeBytes);
      results[info.name] = info._array.BYTES_PER_ELEMENT === 1
        ? new info._array(copy.buffer)
        : new info._array(copy.buffer, 0, info.sizeBytes / info._array.BYTES_PER_ELEMENT);
    });
    return results;
  }

  /** Frees the session, the model and its copy of the file. Safe to call twice. */
  dispose() {
    const m = this._pnn._m;
    if (this._session !== 0) m._pnn_session_free(this._session);
    if (this._model !== 0) m._pnn_model_free(this._model);
    if (this._block !== 0) m._free(this._block);
    this._session = this._model = this._block = 0;
    this._pnn._idleWorkers += (this.threads ?? 1) - 1;
    this.threads = 1;
  }
}
