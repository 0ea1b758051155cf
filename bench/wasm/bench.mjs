// pocketnn (WebAssembly SIMD128 builds) vs onnxruntime-web (wasm backend) in one node
// process: the engines run interleaved (A, B, C, A, B, C, ...) on the same input so
// machine noise hits all alike; the table shows medians and ratios (below 1 means
// pocketnn is faster).
//   --threads 1 (default): pocketnn's single-threaded build vs onnxruntime-web at 1 thread.
//   --threads N: pocketnn's pthreads build at N threads and its single-threaded build
//     (the speed-up N threads give) vs onnxruntime-web at N threads (onnxruntime-web
//     sets its thread count once per process, hence one process per count).
//
//   --baseline FILE: also time another single-threaded build's .wasm (an older commit's
//     wasm/dist/pocketnn_wasm.wasm, built by wasm/build.sh from the same exports, so this
//     package's glue loads it) in the same interleaving: an A/B of two versions.
//   --clock cpu: time each run by the process's CPU time (process.cpuUsage) instead of
//     wall time, for A/B on a loaded host (the engines run on the calling thread at 1
//     thread; not meaningful with --threads above 1).
//
//   wasm/build.sh && python3 bench/wasm/make_models.py
//   (cd bench/wasm && npm install) && node bench/wasm/bench.mjs [--threads 2] [--runs 20] [--models a,b]
// On a loaded host, where wall-time speed-ups mean little, thread_share.mjs beside this
// file measures how evenly the threads share a run (per-thread CPU time).
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import * as ort from 'onnxruntime-web';

import { loadPocketnn } from '../../wasm/pocketnn.node.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '20' },
    threads: { type: 'string', default: '1' },
    warmup: { type: 'string', default: '3' },
    models: { type: 'string', default: 'mobilenet_v1,mobilenet_v2,resnet18' },
    dir: { type: 'string', default: path.join(HERE, 'models') },
    baseline: { type: 'string' },
    clock: { type: 'string', default: 'wall' },
  },
});
if (!['wall', 'cpu'].includes(args.clock)) throw new Error(`--clock is wall or cpu, not ${args.clock}`);
const runs = Number(args.runs);
const warmup = Number(args.warmup);
const threads = Number(args.threads);

// Milliseconds: wall time, or the process's user + system CPU time.
const clock =
  args.clock === 'cpu'
    ? () => {
        const { user, system } = process.cpuUsage();
        return (user + system) / 1000;
      }
    : () => performance.now();

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

// Set before any session exists.
ort.env.wasm.numThreads = threads;
ort.env.logLevel = 'error';

const single = await loadPocketnn({ build: 'single' });
const threaded = threads > 1 ? await loadPocketnn({ build: 'threads', threads }) : null;
const baseline = args.baseline ? await loadPocketnn({ build: 'single', wasmUrl: args.baseline }) : null;
const rows = [];
for (const name of args.models.split(',')) {
  const bytes = readFileSync(path.join(args.dir, `${name}.pnn`));
  const model = single.loadModel(bytes);
  const modelThreaded = threaded?.loadModel(bytes, { threads });
  const modelBaseline = baseline?.loadModel(bytes);
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

  // Engines by column name; each returns its first output's values.
  const engines = { pocketnn: async () => model.run(feedsPnn)[model.outputs[0].name] };
  if (modelThreaded) engines[`pocketnn ${threads}t`] = async () => modelThreaded.run(feedsPnn)[model.outputs[0].name];
  if (modelBaseline) engines.baseline = async () => modelBaseline.run(feedsPnn)[model.outputs[0].name];
  engines.ort = async () => (await session.run(feedsOrt))[session.outputNames[0]].data;

  const expected = await engines.ort();
  const agreement = {};
  for (const [engine, run] of Object.entries(engines)) agreement[engine] = relativeError(await run(), expected);

  for (let i = 0; i < warmup; ++i) for (const run of Object.values(engines)) await run();
  const times = Object.fromEntries(Object.keys(engines).map((engine) => [engine, []]));
  for (let i = 0; i < runs; ++i) {
    for (const [engine, run] of Object.entries(engines)) {
      const start = clock();
      await run();
      times[engine].push(clock() - start);
    }
  }
  const medians = Object.fromEntries(Object.entries(times).map(([engine, t]) => [engine, median(t)]));
  rows.push({ name, medians, agreement: Math.max(...Object.values(agreement)) });
  console.error(`${name}: ${Object.entries(medians).map(([e, ms]) => `${e} ${ms.toFixed(2)} ms`).join(', ')}`);
  model.dispose();
  modelThreaded?.dispose();
  modelBaseline?.dispose();
  await session.release();
}

const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
console.log(`\nwasm32 SIMD128, node ${process.version}, ${cpu}, median ${args.clock} time of ${runs} interleaved runs ` +
  `(each model at its own input size)\n`);
if (baseline) {
  console.log(`| model | pocketnn-wasm ms | baseline (${args.baseline}) ms | ratio pocketnn/baseline |`);
  console.log('| --- | --- | --- | --- |');
  for (const { name, medians: m } of rows) {
    console.log(`| ${name} | ${m.pocketnn.toFixed(2)} | ${m.baseline.toFixed(2)} | ${(m.pocketnn / m.baseline).toFixed(3)} |`);
  }
  console.log();
}
if (threads === 1) {
  console.log('| model | pocketnn-wasm ms | onnxruntime-web ms | ratio pocketnn/ort | max rel. diff of outputs |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const { name, medians: m, agreement } of rows) {
    console.log(`| ${name} | ${m.pocketnn.toFixed(2)} | ${m.ort.toFixed(2)} | ${(m.pocketnn / m.ort).toFixed(2)} | ` +
      `${agreement.toExponential(1)} |`);
  }
} else {
  const t = `pocketnn ${threads}t`;
  console.log(`| model | pocketnn 1 thread ms | pocketnn ${threads} threads ms | speed-up | ` +
    `onnxruntime-web ${threads} threads ms | ratio pocketnn/ort at ${threads} threads | max rel. diff of outputs |`);
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const { name, medians: m, agreement } of rows) {
    console.log(`| ${name} | ${m.pocketnn.toFixed(2)} | ${m[t].toFixed(2)} | ${(m.pocketnn / m[t]).toFixed(2)}x | ` +
      `${m.ort.toFixed(2)} | ${(m[t] / m.ort).toFixed(2)} | ${agreement.toExponential(1)} |`);
  }
}
