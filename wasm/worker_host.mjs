// The worker side of createPocketnnWorker(): one WebAssembly module, the models
// loaded into it by handle, and a request/reply loop over an endpoint
// ({ post(message, transfer), listen(onMessage) }, a web worker's self or node's
// parentPort). Replies are { id, ok, result } or { id, ok: false, error }; run's
// outputs are transferred, not copied.

export function serveModels(endpoint, loadPocketnn) {
  let pnn = null;
  const models = new Map();
  let nextHandle = 1;

  const model = (handle) => {
    const found = models.get(handle);
    if (found === undefined) throw new Error('the model has been disposed');
    return found;
  };

  const handlers = {
    async init({ wasmUrl, wasmBinary, build, threads }) {
      if (pnn !== null) throw new Error('the worker is already initialized');
      pnn = await loadPocketnn({ wasmUrl, wasmBinary, build, threads });
      return { result: { version: pnn.version, build: pnn.build, threads: pnn.threads } };
    },
    load({ bytes, options }) {
      const loaded = pnn.loadModel(bytes, options);
      const handle = nextHandle++;
      models.set(handle, loaded);
      return { result: { handle, inputs: loaded.inputs, outputs: loaded.outputs, threads: loaded.threads } };
    },
    run({ handle, feeds }) {
      const outputs = model(handle).run(feeds);
      return { result: outputs, transfer: Object.values(outputs).map((array) => array.buffer) };
    },
    nodes({ handle }) {
      return { result: model(handle).nodes };
    },
    metadata({ handle, key }) {
      return { result: model(handle).metadata(key) };
    },
    dispose({ handle }) {
      models.get(handle)?.dispose();
      models.delete(handle);
      return { result: null };
    },
  };

  endpoint.listen(async (message) => {
    const { id, op } = message;
    try {
      const handler = Object.hasOwn(handlers, op) ? handlers[op] : null;
      if (handler === null) throw new Error(`unknown request "${op}"`);
      if (op !== 'init' && pnn === null) throw new Error('the worker is not initialized');
      const { result, transfer = [] } = await handler(message);
      endpoint.post({ id, ok: true, result }, transfer);
    } catch (error) {
      endpoint.post({ id, ok: false, error: { name: error.name, message: error.message, status: error.status } });
    }
  });
}
