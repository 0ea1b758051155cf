// Types of the pocketnn npm package (hand-written; the same API in every entry:
// pocketnn.mjs for browsers and workers, pocketnn.node.mjs for node).

/** Status names of the C runtime's pnn_status (runtime/include/pocketnn.h). */
export type PocketnnStatus =
  | 'PNN_ERR_INVALID_ARGUMENT'
  | 'PNN_ERR_IO'
  | 'PNN_ERR_FORMAT'
  | 'PNN_ERR_VERSION'
  | 'PNN_ERR_CHECKSUM'
  | 'PNN_ERR_UNSUPPORTED'
  | 'PNN_ERR_SHAPE'
  | 'PNN_ERR_OUT_OF_MEMORY'
  | 'PNN_ERR_BUSY'
  | 'PNN_ERR_LIMIT'
  | `PNN_STATUS_${number}`; // a code newer than this package

/** An error reported by the runtime (a corrupted file, a bad shape, a limit). */
export class PocketnnError extends Error {
  constructor(message: string, status: PocketnnStatus);
  readonly name: 'PocketnnError';
  /** The runtime's status name, e.g. 'PNN_ERR_CHECKSUM'. */
  readonly status: PocketnnStatus;
}

/** Element types of tensors. float16, int4 and bit tensors are handed out as raw bytes. */
export type Dtype = 'float32' | 'float16' | 'int8' | 'uint8' | 'int4' | 'bit' | 'int32' | 'int64' | 'bool';

/** The typed array holding a tensor of each dtype. */
export interface DtypeArrays {
  float32: Float32Array;
  float16: Uint16Array;
  int8: Int8Array;
  uint8: Uint8Array;
  int4: Uint8Array;
  bit: Uint8Array;
  int32: Int32Array;
  int64: BigInt64Array;
  bool: Uint8Array;
}

export type TensorArray = DtypeArrays[Dtype];

/** A model input or output. */
export interface TensorInfo {
  readonly name: string;
  readonly shape: number[];
  readonly dtype: Dtype;
  /** Bytes of the tensor (what run() expects of an input's typed array). */
  readonly sizeBytes: number;
}

/** A graph node and the kernel variant chosen for it at load, e.g. 'conv/wasmsimd'. */
export interface NodeInfo {
  readonly name: string;
  readonly op: string;
  readonly kernel: string;
}

/**
 * Inputs by name: the typed array of the input's dtype with exactly its elements
 * (a plain number[] is accepted for float32 inputs).
 */
export type Feeds = Record<string, TensorArray | number[]>;

/** Outputs by name: fresh typed arrays of each output's dtype. */
export type Outputs = Record<string, TensorArray>;

/** Bytes of a .pnn file or of the .wasm module. */
export type Bytes = Uint8Array | ArrayBufferLike | ArrayBufferView;

/** 'single': the single-threaded build; 'threads': the pthreads build (SharedArrayBuffer). */
export type Build = 'single' | 'threads';

export interface LoadPocketnnOptions {
  /** 'auto' (default): the pthreads build where SharedArrayBuffer works (node; pages
   * that are crossOriginIsolated) and threads > 1, else the single-threaded one. With
   * wasmBinary or wasmUrl, 'auto' means 'single'. 'threads' throws where it cannot run. */
  build?: Build | 'auto';
  /** Threads in all (the caller's included) for the pthreads build; its pool starts
   * threads - 1 workers. Default: the cores, at most 4. */
  threads?: number;
  /** The chosen build's .wasm bytes, when the caller already has them. */
  wasmBinary?: Bytes;
  /** Where to fetch the chosen build's .wasm (relative to the page; under node also a
   * path or file: URL). Default: dist/pocketnn_wasm.wasm (or
   * dist/pocketnn_wasm_threads.wasm) in the package. */
  wasmUrl?: string | URL;
}

export interface ModelOptions {
  /** Bytes a session may use for activations and scratch; a model needing more throws
   * PocketnnError 'PNN_ERR_LIMIT'. Default (0): the runtime's 1 GiB. */
  maxMemory?: number;
  /** Threads of the session's runs (the pthreads build; the single-threaded build
   * always runs 1). Default: the pool's idle workers + 1. More than that throws
   * PocketnnError 'PNN_ERR_LIMIT'. */
  threads?: number;
}

/** A loaded model with one session. dispose() frees its memory. */
export class Model {
  private constructor();
  /** Threads its runs use (held from the pool until dispose()). */
  readonly threads: number;
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
  /** The graph's nodes with their chosen kernels. */
  readonly nodes: NodeInfo[];
  /** String metadata of the .pnn by key, or null. */
  metadata(key: string): string | null;
  /** Runs the model once (synchronously, on this thread). The type parameter names
   * the outputs' arrays, e.g. run<{ logits: Float32Array }>(feeds). */
  run<T extends Outputs = Outputs>(feeds: Feeds): T;
  /** Frees the session, the model and its copy of the file. Safe to call twice. */
  dispose(): void;
}

/** One instance of the WebAssembly module; models loaded from it share its memory. */
export class Pocketnn {
  private constructor();
  /** The runtime's release, e.g. '0.1.0' (the package's version). */
  readonly version: string;
  /** The build instantiated. */
  readonly build: Build;
  /** Threads in all its models share (1 for the single-threaded build). */
  readonly threads: number;
  /** Loads a .pnn model (its bytes are copied once into the WebAssembly memory). */
  loadModel(data: Bytes, options?: ModelOptions): Model;
}

/** Instantiates the WebAssembly module. */
export function loadPocketnn(options?: LoadPocketnnOptions): Promise<Pocketnn>;

export interface RunOptions {
  /** Transfer the input typed arrays' buffers to the worker (they are detached here)
   * when an array spans its whole buffer; false copies them. Default true. */
  transfer?: boolean;
}

/** A model loaded in a worker: Model's API, answered by Promises. */
export class WorkerModel {
  private constructor();
  readonly threads: number;
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
  run<T extends Outputs = Outputs>(feeds: Feeds, options?: RunOptions): Promise<T>;
  nodes(): Promise<NodeInfo[]>;
  metadata(key: string): Promise<string | null>;
  dispose(): Promise<void>;
}

/** A Web Worker (a worker thread under node) running the runtime. */
export class PocketnnWorker {
  private constructor();
  /** The runtime's release in the worker. */
  readonly version: string;
  /** The build and threads of the module in the worker. */
  readonly build: Build;
  readonly threads: number;
  /** Loads a .pnn model in the worker (its bytes are copied there). */
  loadModel(data: Bytes, options?: ModelOptions): Promise<WorkerModel>;
  /** Stops the worker; pending and later calls reject. */
  terminate(): void;
}

/** Starts a worker and instantiates the WebAssembly module in it. */
export function createPocketnnWorker(options?: LoadPocketnnOptions): Promise<PocketnnWorker>;
