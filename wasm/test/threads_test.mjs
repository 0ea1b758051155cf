// node --test wasm/test/threads_test.mjs
//
// The pthreads build (dist/pocketnn_wasm_threads.*, its pool on node worker threads
// through pthread_node.mjs) against the single-threaded build: every fixture of
// make_fixtures.py at 1, 2 and 4 threads gives the single-threaded build's outputs
// (max |threads - single| / max |single| <= 1e-5: threads split rows and channels,
// not the sums, so in practice they are equal) and the native runtime's (1e-4); the
// build choice and the pool's thread budget.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { createPocketnnWorker, loadPocketnn, PocketnnError } from 'pocketnn';

import { relativeError } from '../package_app/compare.mjs';
import { readF32 as readFixture } from '../package_app/fixture_file.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const FIXTURES = process.env.PNN_FIXTURES ?? path.join(HERE, 'fixtures');
const SAME_AS_SINGLE = 1e-5;
const SAME_AS_NATIVE = 1e-4;
const THREADS = [1, 2, 4];
const manifest = JSON.parse(readFileSync(path.join(FIXTURES, 'manifest.json'), 'utf8'));

const readF32 = (file) => readFixture(FIXTURES, file);
const feedsOf = (fixture) => Object.fromEntries(fixture.inputs.map((t) => [t.name, readF32(t.file)]));
const modelBytes = (fixture) => readFileSync(path.join(FIXTURES, fixture.model));

function runOnce(pnn, fixture, options) {
  const model = pnn.loadModel(modelBytes(fixture), options);
  try {
    return { threads: model.threads, outputs: model.run(feedsOf(fixture)) };
  } finally {
    model.dispose();
  }
}

describe('the pthreads build matches the single-threaded build', () => {
  let single;
  let threaded;
  before(async () => {
    single = await loadPocketnn({ build: 'single' });
    threaded = await loadPocketnn({ build: 'threads', threads: Math.max(...THREADS) });
  });

  test('each build is the one asked for', () => {
    assert.equal(single.build, 'single');
    assert.equal(single.threads, 1);
    assert.equal(threaded.build, 'threads');
    assert.equal(threaded.threads, Math.max(...THREADS));
    assert.equal(threaded.version, single.version);
  });

  for (const fixture of manifest) {
    test(fixture.name, () => {
      const reference = runOnce(single, fixture, {}).outputs;
      for (const threads of THREADS) {
        // Twice per count: the pool's workers are reused by the next session.
        for (let round = 0; round < 2; ++round) {
          const run = runOnce(threaded, fixture, { threads });
          assert.equal(run.threads, threads);
          for (const t of fixture.outputs) {
            const where = `${fixture.name}/${t.name} at ${threads} threads`;
            assert.ok(run.outputs[t.name] instanceof Float32Array, `${where}: a Float32Array`);
            const vsSingle = relativeError(run.outputs[t.name], reference[t.name]);
            assert.ok(vsSingle <= SAME_AS_SINGLE, `${where}: ${vsSingle} from the single-threaded build`);
            const vsNative = relativeError(run.outputs[t.name], readF32(t.file));
            assert.ok(vsNative <= SAME_AS_NATIVE, `${where}: ${vsNative} from the native runtime`);
          }
        }
      }
    });
  }

  test('models share the pool: more threads than are idle is a PNN_ERR_LIMIT', () => {
    const fixture = manifest[0];
    const first = threaded.loadModel(modelBytes(fixture), { threads: 3 });
    try {
      assert.equal(first.threads, 3);
      assert.throws(() => threaded.loadModel(modelBytes(fixture), { threads: 3 }),
        (error) => error instanceof PocketnnError && error.status === 'PNN_ERR_LIMIT');
      const second = threaded.loadModel(modelBytes(fixture));  // the idle rest: 2 threads
      assert.equal(second.threads, 2);
      second.dispose();
    } finally {
      first.dispose();
    }
    const whole = threaded.loadModel(modelBytes(fixture));
    assert.equal(whole.threads, 4, 'dispose() gives the threads back');
    whole.dispose();
  });

  test('the single-threaded build runs 1 thread whatever is asked', () => {
    const run = runOnce(single, manifest[0], { threads: 4 });
    assert.equal(run.threads, 1);
  });
});

describe('build choice under node', () => {
  test("'auto' takes the pthreads build for more than one thread, else the single one", async () => {
    assert.equal((await loadPocketnn({ threads: 2 })).build, 'threads');
    assert.equal((await loadPocketnn({ threads: 1 })).build, 'single');
    // Explicit bytes are the single-threaded build's unless build says otherwise.
    const bytes = readFileSync(path.join(HERE, '..', 'dist', 'pocketnn_wasm.wasm'));
    assert.equal((await loadPocketnn({ threads: 2, wasmBinary: bytes })).build, 'single');
  });

  test("build: 'threads' with 1 thread loads (an empty pool hung emcc's loader) and runs alone", async () => {
    const one = await loadPocketnn({ build: 'threads', threads: 1 });
    assert.equal(one.build, 'threads');
    assert.equal(one.threads, 1);
    const run = runOnce(one, manifest[0], {});
    assert.equal(run.threads, 1);
    const reference = runOnce(await loadPocketnn({ build: 'single' }), manifest[0], {}).outputs;
    for (const t of manifest[0].outputs) assert.deepEqual(run.outputs[t.name], reference[t.name], t.name);
  });

  test('bad options throw a TypeError', async () => {
    await assert.rejects(loadPocketnn({ build: 'fast' }), TypeError);
    await assert.rejects(loadPocketnn({ threads: 0 }), TypeError);
    await assert.rejects(loadPocketnn({ threads: 1.5 }), TypeError);
  });
});

describe('the pthreads build in a worker', () => {
  let worker;
  before(async () => {
    worker = await createPocketnnWorker({ build: 'threads', threads: 2 });
  });
  after(() => worker.terminate());

  test('a fixture run with 2 threads inside the worker matches the native runtime', async () => {
    assert.equal(worker.build, 'threads');
    const fixture = manifest.find((f) => f.name.startsWith('mobilenet_v2')) ?? manifest[0];
    const model = await worker.loadModel(modelBytes(fixture));
    try {
      assert.equal(model.threads, 2);
      const outputs = await model.run(feedsOf(fixture));
      for (const t of fixture.outputs) {
        const error = relativeError(outputs[t.name], readF32(t.file));
        assert.ok(error <= SAME_AS_NATIVE, `${t.name}: ${error}`);
      }
    } finally {
      await model.dispose();
    }
  });
});
