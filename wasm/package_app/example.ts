// Type-checked by test_package.sh (tsc --noEmit --strict) against the installed
// package's pocketnn.d.ts. The @ts-expect-error lines must fail to type-check.
import {
  createPocketnnWorker, loadPocketnn, PocketnnError,
  type Build, type Dtype, type Model, type Outputs, type PocketnnStatus, type TensorInfo,
} from 'pocketnn';

async function main(bytes: Uint8Array): Promise<number> {
  const pnn = await loadPocketnn({ wasmUrl: '/assets/pocketnn_wasm.wasm' });
  const version: string = pnn.version;
  const model: Model = pnn.loadModel(bytes, { maxMemory: 64 << 20 });
  const input: TensorInfo = model.inputs[0];
  const dtype: Dtype = input.dtype;
  const shape: number[] = input.shape;
  const kernels: string[] = model.nodes.map((node) => `${node.op}:${node.kernel}`);
  const author: string | null = model.metadata('author');
  const outputs: Outputs = model.run({ [input.name]: new Float32Array(input.sizeBytes / 4) });
  const typed = model.run<{ logits: Float32Array }>({ [input.name]: [0, 1, 2] });
  const best: number = typed.logits.indexOf(Math.max(...typed.logits));
  model.dispose();

  const threaded = await loadPocketnn({ build: 'threads', threads: 2 });
  const build: Build = threaded.build;
  const threadCount: number = threaded.loadModel(bytes, { threads: 2 }).threads + threaded.threads;
  // @ts-expect-error: build is 'auto', 'single' or 'threads'
  await loadPocketnn({ build: 'fast' });

  try {
    pnn.loadModel(new ArrayBuffer(8));
  } catch (error) {
    if (error instanceof PocketnnError) {
      const status: PocketnnStatus = error.status;
      console.log(status, error.message);
    }
  }

  const worker = await createPocketnnWorker({ wasmBinary: new Uint8Array(0) });
  const remote = await worker.loadModel(bytes.buffer);
  const remoteOutputs: Outputs = await remote.run({ x: new Int8Array(4) }, { transfer: false });
  const probabilities = await remote.run<{ prob: Float32Array }>({ x: new Float32Array(4) });
  const first: number = probabilities.prob[0];
  await remote.dispose();
  worker.terminate();

  // @ts-expect-error: feeds are typed arrays or numbers, not strings
  model.run({ x: 'not a tensor' });
  // @ts-expect-error: run in a worker returns a Promise, not the outputs
  const notAwaited: Outputs = remote.run({ x: new Float32Array(4) });
  // @ts-expect-error: no such dtype
  const badDtype: Dtype = 'float64';
  // @ts-expect-error: maxMemory is a number of bytes
  pnn.loadModel(bytes, { maxMemory: '64MB' });
  // @ts-expect-error: status names are the runtime's
  const badStatus: PocketnnStatus = 'PNN_ERR_WHATEVER';

  console.log(version, build, threadCount, dtype, shape, kernels, author, outputs, remoteOutputs, notAwaited, badDtype, badStatus);
  return best + first;
}

export default main;
