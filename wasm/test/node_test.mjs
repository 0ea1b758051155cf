// node --test wasm/test/node_test.mjs
//
// Runs the fixtures of make_fixtures.py (models converted by the Python package,
// inputs and the NATIVE runtime's outputs) in the WebAssembly build and checks the
// outputs agree (max |wasm - native| / max |native| <= 1e-4), plus the wrapper's
// error paths. PNN_FIXTURES overrides the fixture folder.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { loadPocketnn, PocketnnError } from 'pocketnn';

import { relativeError } from '../package_app/compare.mjs';
import { readF32 as readFixture } from '../package_app/fixture_file.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const FIXTURES = process.env.PNN_FIXTURES ?? path.join(HERE, 'fixtures');
const TOLERANCE = 1e-4;

const readF32 = (file) => readFixture(FIXTURES, file);

const manifest = JSON.parse(readFileSync(path.join(FIXTURES, 'manifest.json'), 'utf8'));
let pnn;

before(async () => {
  pnn = await loadPocketnn();
});

describe('wasm matches the native runtime', () => {
  for (const fixture of manifest) {
    test(fixture.name, () => {
      const model = pnn.loadModel(readFileSync(path.join(FIXTURES, fixture.model)));
      try {
        assert.deepEqual(model.inputs.map((t) => t.name), fixture.inputs.map((t) => t.name));
        assert.deepEqual(model.outputs.map((t) => t.name), fixture.outputs.map((t) => t.name));
        for (const [i, t] of fixture.inputs.entries()) {
          assert.deepEqual(model.inputs[i].shape, t.shape);
          assert.equal(model.inputs[i].dtype, 'float32');
        }
        const feeds = {};
        for (const t of fixture.inputs) feeds[t.name] = readF32(t.file);
        // Twice: a second run on the same session must give the same answer.
        for (let round = 0; round < 2; ++round) {
          const outputs = model.run(feeds);
          for (const t of fixture.outputs) {
            const expected = readF32(t.file);
            const actual = outputs[t.name];
            assert.ok(actual instanceof Float32Array, `${t.name} is a Float32Array`);
            assert.equal(actual.length, expected.length, `${t.name} length`);
            const error = relativeError(actual, expected);
            assert.ok(error <= TOLERANCE, `${fixture.name}/${t.name}: relative error ${error} > ${TOLERANCE}`);
          }
        }
      } finally {
        model.dispose();
      }
    });
  }

  test('the SIMD128 kernels are the ones selected', () => {
    const fixture = manifest.find((f) => f.name.startsWith('mobilenet_v2'));
    const model = pnn.loadModel(readFileSync(path.join(FIXTURES, fixture.model)));
    try {
      const kernels = model.nodes.filter((n) => n.op === 'Conv' || n.op === 'Gemm').map((n) => n.kernel);
      assert.ok(kernels.length > 0, 'conv nodes report their kernel');
      for (const kernel of kernels) assert.match(kernel, /\/wasmsimd$/);
      assert.ok(kernels.some((k) => k.startsWith('dwconv/')), 'a depthwise conv runs');
    } finally {
      model.dispose();
    }
  });
});

describe('errors', () => {
  const good = () => readFileSync(path.join(FIXTURES, manifest[0].model));

  test('a corrupted .pnn throws a PocketnnError with the runtime message', () => {
    const bytes = new Uint8Array(good());
    bytes[bytes.length >> 1] ^= 0x5a; // flips bits in the middle: the checksum catches it
    assert.throws(() => pnn.loadModel(bytes), (error) => {
      assert.ok(error instanceof Error);
      assert.ok(error instanceof PocketnnError);
      assert.match(error.status, /^PNN_ERR_/);
      assert.ok(error.message.length > 20, `a real message: ${error.message}`);
      console.log(`  (message: ${error.message})`);
      return true;
    });
  });

  test('truncated, empty and garbage files throw, not crash', () => {
    const bytes = good();
    for (const data of [bytes.subarray(0, 100), bytes.subarray(0, bytes.length - 1), new Uint8Array(0),
      new TextEncoder().encode('definitely not a pocketnn file, just some text')]) {
      assert.throws(() => pnn.loadModel(data), PocketnnError);
    }
    // The module still works after the errors.
    pnn.loadModel(bytes).dispose();
  });

  test('maxMemory refuses a model that needs more, naming the bytes; a large enough limit loads', () => {
    assert.throws(() => pnn.loadModel(good(), { maxMemory: 1024 }), (error) => {
      assert.ok(error instanceof PocketnnError);
      assert.equal(error.status, 'PNN_ERR_LIMIT');
      assert.match(error.message, /memory limit of 1024 bytes/);
      return true;
    });
    assert.throws(() => pnn.loadModel(good(), { maxMemory: -1 }), /maxMemory/);
    pnn.loadModel(good(), { maxMemory: 256 << 20 }).dispose();
  });

  test('wrong feeds are rejected before running', () => {
    const fixture = manifest[0];
    const model = pnn.loadModel(good());
    try {
      const name = fixture.inputs[0].name;
      assert.throws(() => model.run({}), /missing input/);
      assert.throws(() => model.run({ [name]: new Float32Array(3) }), /elements/);
      assert.throws(() => model.run({ [name]: new Int32Array(3) }), TypeError);
      assert.throws(() => model.run({ [name]: readF32(fixture.inputs[0].file), extra: new Float32Array(1) }), /unknown input/);
    } finally {
      model.dispose();
    }
    assert.throws(() => model.run({}), /disposed/);
    model.dispose(); // twice is fine
  });

  test('an ArrayBuffer loads as well as a Uint8Array; many load/dispose cycles do not leak', () => {
    const bytes = good();
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    const before = pnn._m.HEAPU8.length;
    for (let i = 0; i < 30; ++i) pnn.loadModel(buffer).dispose();
    assert.equal(pnn._m.HEAPU8.length, before, 'memory did not grow');
  });
});
