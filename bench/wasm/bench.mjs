// pocketnn (WebAssembly SIMD128 build) vs onnxruntime-web (wasm backend), both single
// threaded, in one node process: the engines run interleaved (A, B, A, B, ...) on the
// same input so machine noise hits both alike; the table shows medians and the
// ratio pocketnn / onnxruntime-web (below 1 means pocketnn is faster).
//
//   wasm/build.sh && python3 bench/wasm/make_models.py
//   (cd bench/wasm && npm install) && node bench/wasm/bench.mjs [--runs 20] [--models a,b]
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import * as ort from 'onnxruntime-web';

import { loadPocketnn } from '../../wasm/pocketnn.node.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '3' },
    models: { type: 'string', default: 'mobilenet_v1,mobilenet_v2,resnet18' },
    dir: { type: 'string', default: path.join(HERE, 'models') },
  },
});
const runs = Number(args.runs);
const warmup = Number(args.warmup);

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function relativeError(actual, expected) {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; ++i) {
    diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return diff / Math.max(scale, 1e-12);
}

// Single thread, set before any session exists.
ort.env.wasm.numThreads = 1;
ort.env.logLevel = 'error';

const pnn = await loadPocketnn();
const rows = [];
for (const name of args.models.split(',')) {
  const model = pnn.loadModel(readFileSync(path.join(args.dir, `${name}.pnn`)));
  const session = await ort.InferenceSession.create(readFileSync(path.join(args.dir, `${name}.onnx`)), {
    executionProviders: ['wasm'],
    graphOptimizationLevel: 'all',
  });
  const input = model.inputs[0];
  const x = new Float32Array(input.shape.reduce((a, b) => a * b, 1));
  let seed = 1;
  for (let i = 0; i < x.length; ++i) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    x[i] = (seed >>> 8) / 8388608 - 1;
  }
  const feedsOrt = { [session.inputNames[0]]: new ort.Tensor('float32', x, input.shape) };
  const feedsPnn = { [input.name]: x };

  const ours = () => model.run(feedsPnn);
  const theirs = () => session.run(feedsOrt);

  const a = ours()[model.outputs[0].name];
  const b = (await theirs())[session.outputNames[0]].data;
  const agreement = relativeError(a, b);

  for (let i = 0; i < warmup; ++i) {
    ours();
    await theirs();
  }
  const times = { pocketnn: [], ort: [] };
  for (let i = 0; i < runs; ++i) {
    let start = performance.now();
    ours();
    times.pocketnn.push(performance.now() - start);
    start = performance.now();
    await theirs();
    times.ort.push(performance.now() - start);
  }
  const p = median(times.pocketnn);
  const o = median(times.ort);
  rows.push({ name, p, o, agreement });
  console.error(`${name}: pocketnn ${p.toFixed(2)} ms, onnxruntime-web ${o.toFixed(2)} ms`);
  model.dispose();
  await session.release();
}

console.log(`\nwasm32 SIMD128, 1 thread, node ${process.version}, 224x224, median of ${runs} interleaved runs\n`);
console.log('| model | pocketnn-wasm ms | onnxruntime-web ms | ratio pocketnn/ort | max rel. diff of outputs |');
console.log('| --- | --- | --- | --- | --- |');
for (const r of rows) {
  console.log(`| ${r.name} | ${r.p.toFixed(2)} | ${r.o.toFixed(2)} | ${(r.p / r.o).toFixed(2)} | ${r.agreement.toExponential(1)} |`);
}
