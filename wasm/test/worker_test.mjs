// node --test wasm/test/worker_test.mjs
//
// createPocketnnWorker() under node (worker_threads): a fixture run in the worker
// matches the NATIVE runtime's outputs, the caller's thread stays free while it
// runs, inputs are transferred (or copied on request), runtime errors come back as
// PocketnnError, and terminate() rejects what is pending.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { createPocketnnWorker, PocketnnError } from 'pocketnn';

import { relativeError } from '../package_app/compare.mjs';
import { readF32 as readFixture } from '../package_app/fixture_file.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const FIXTURES = process.env.PNN_FIXTURES ?? path.join(HERE, 'fixtures');
const TOLERANCE = 1e-4;
const manifest = JSON.parse(readFileSync(path.join(FIXTURES, 'manifest.json'), 'utf8'));

const readF32 = (file) => readFixture(FIXTURES, file);

const feedsOf = (fixture) => Object.fromEntries(fixture.inputs.map((t) => [t.name, readF32(t.file)]));
const modelBytes = (fixture) => readFileSync(path.join(FIXTURES, fixture.model));

describe('createPocketnnWorker', () => {
  let worker;
  before(async () => {
    worker = await createPocketnnWorker();
  });
  after(() => worker.terminate());

  test('reports the runtime version of package.json', () => {
    const pkg = JSON.parse(readFileSync(path.join(HERE, '..', 'package.json'), 'utf8'));
    assert.equal(worker.version, pkg.version);
  });

  for (const fixture of manifest.slice(0, 4)) {
    test(`${fixture.name} in the worker matches the native runtime`, async () => {
      const model = await worker.loadModel(modelBytes(fixture));
      try {
        assert.deepEqual(model.inputs.map((t) => [t.name, t.shape, t.dtype]),
          fixture.inputs.map((t) => [t.name, t.shape, 'float32']));
        const outputs = await model.run(feedsOf(fixture));
        for (const t of fixture.outputs) {
          assert.ok(outputs[t.name] instanceof Float32Array, `${t.name} is a Float32Array`);
          const error = relativeError(outputs[t.name], readF32(t.file));
          assert.ok(error <= TOLERANCE, `${fixture.name}/${t.name}: relative error ${error}`);
        }
      } finally {
        await model.dispose();
      }
    });
  }

  test('the caller keeps running while the worker computes', async () => {
    const fixture = manifest.reduce((a, b) => (modelBytes(b).length > modelBytes(a).length ? b : a));
    const model = await worker.loadModel(modelBytes(fixture));
    try {
      const feeds = feedsOf(fixture);
      let ticks = 0;
      const timer = setInterval(() => { ticks += 1; }, 0);
      const started = performance.now();
      const runs = [];
      for (let i = 0; i < 20; ++i) runs.push(model.run(feeds, { transfer: false }));
      await Promise.all(runs);
      clearInterval(timer);
      const ms = performance.now() - started;
      console.log(`  (${fixture.name}: 20 runs in the worker took ${ms.toFixed(1)} ms; ${ticks} timer ticks meanwhile)`);
      assert.ok(ticks > 0, 'the event loop ran timers during inference');
    } finally {
      await model.dispose();
    }
  });

  test('inputs are transferred by default and copied with { transfer: false }', async () => {
    const fixture = manifest[0];
    const model = await worker.loadModel(modelBytes(fixture));
    try {
      const copied = feedsOf(fixture);
      await model.run(copied, { transfer: false });
      for (const array of Object.values(copied)) assert.ok(array.length > 0, 'still usable');
      const moved = feedsOf(fixture);
      await model.run(moved);
      for (const array of Object.values(moved)) assert.equal(array.buffer.byteLength, 0, 'detached');
      // A view into a larger buffer is copied, not transferred (that would detach the rest).
      const [name, input] = Object.entries(feedsOf(fixture))[0];
      const large = new Float32Array(input.length + 8);
      large.set(input);
      const view = large.subarray(0, input.length);
      if (fixture.inputs.length === 1) {
        await model.run({ [name]: view });
        assert.equal(large.buffer.byteLength, (input.length + 8) * 4, 'not detached');
      }
    } finally {
      await model.dispose();
    }
  });

  test('errors come back as PocketnnError / Error, and the worker keeps serving', async () => {
    const bytes = new Uint8Array(modelBytes(manifest[0]));
    bytes[bytes.length >> 1] ^= 0x5a;
    await assert.rejects(worker.loadModel(bytes), (error) => {
      assert.ok(error instanceof PocketnnError);
      assert.match(error.status, /^PNN_ERR_/);
      return true;
    });
    const model = await worker.loadModel(modelBytes(manifest[0]));
    await assert.rejects(model.run({}), /missing input/);
    await assert.rejects(model.run({ [model.inputs[0].name]: new Int32Array(3) }), TypeError);
    await model.dispose();
    await assert.rejects(model.run(feedsOf(manifest[0])), /disposed/);
    await model.dispose(); // twice is fine
  });
});

test('terminate() rejects pending and later calls', async () => {
  const worker = await createPocketnnWorker();
  const model = await worker.loadModel(modelBytes(manifest[0]));
  const pending = model.run(feedsOf(manifest[0]));
  worker.terminate();
  await assert.rejects(pending, /terminated/);
  await assert.rejects(worker.loadModel(modelBytes(manifest[0])), /terminated/);
  await model.dispose(); // its worker is gone: nothing to free, no error
});

test('wasmUrl: a path or a URL; a missing file rejects createPocketnnWorker', async () => {
  await assert.rejects(createPocketnnWorker({ wasmUrl: path.join(FIXTURES, 'no-such.wasm') }), /no-such\.wasm|ENOENT/);
  const wasm = path.join(HERE, '..', 'dist', 'pocketnn_wasm.wasm');
  for (const wasmUrl of [path.relative(process.cwd(), wasm), pathToFileURL(wasm), pathToFileURL(wasm).href]) {
    const worker = await createPocketnnWorker({ wasmUrl });
    worker.terminate();
  }
});
