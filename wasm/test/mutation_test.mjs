// node --test wasm/test/mutation_test.mjs
//
// Mutated .pnn files through the WebAssembly build: the fixtures of make_fixtures.py
// (PNN_FIXTURES) with bytes flipped, overwritten with boundary integers, spliced or
// truncated, some left with a stale checksum and most with the header's sizes and
// CRC-32 rewritten so the mutation reaches the validators. Each file is loaded,
// described, run on deterministic inputs and disposed. Every failure must be a
// PocketnnError carrying a PNN_ERR_* status and a message: never a
// WebAssembly.RuntimeError (a trap or an abort), never another exception. A hang is
// caught by the timeout wasm/run_tests.sh runs this file under.
//
// PNN_MUTATION_MODELS names a folder of more .pnn files to mutate (wasm/run_tests.sh
// passes the seeds of tests/fuzz/make_corpus.py: int8, int4, group-sparse and most op
// codes, which the fixtures lack). PNN_MUTATION_CASES (default 10000) sets the number of
// files; the sequence is fixed by PNN_MUTATION_SEED (default 16), and a failing file is
// written to the temp folder.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { loadPocketnn, PocketnnError } from 'pocketnn';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const FIXTURES = process.env.PNN_FIXTURES ?? path.join(HERE, 'fixtures');
const EXTRA_MODELS = process.env.PNN_MUTATION_MODELS;
const CASES = Number(process.env.PNN_MUTATION_CASES ?? 10000);
const SEED = Number(process.env.PNN_MUTATION_SEED ?? 16);
// Larger fixtures only slow each case down (the CRC, the copy into wasm memory).
const MAX_FIXTURE_BYTES = 256 * 1024;

// docs/FORMAT.md, header.
const HEADER_SIZE = 64;
const CHECKSUM_AT = 8;
const FILE_SIZE_AT = 16;
const DATA_OFFSET_AT = 48;
const DATA_SIZE_AT = 56;

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; ++n) {
    let c = n;
    for (let k = 0; k < 8; ++k) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(bytes) {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; ++i) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// mulberry32: a small deterministic generator, so a failing case can be replayed.
function generator(seed) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    below: (n) => Math.floor(next() * n),
    chance: (p) => next() < p,
    pick: (items) => items[Math.floor(next() * items.length)],
  };
}

function view(bytes) {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

// The end of the structure sections (header .. data_offset): mutations there reach
// the parsers; the data section is mostly weights.
function structureEnd(bytes) {
  if (bytes.length < HEADER_SIZE) return bytes.length;
  const dataOffset = view(bytes).getBigUint64(DATA_OFFSET_AT, true);
  return Number(dataOffset < BigInt(bytes.length) ? dataOffset : BigInt(bytes.length));
}

// Makes file_size, data_size and the checksum agree with the bytes.
function fixHeader(bytes) {
  if (bytes.length < HEADER_SIZE) return;
  const v = view(bytes);
  v.setBigUint64(FILE_SIZE_AT, BigInt(bytes.length), true);
  const dataOffset = v.getBigUint64(DATA_OFFSET_AT, true);
  if (dataOffset <= BigInt(bytes.length)) v.setBigUint64(DATA_SIZE_AT, BigInt(bytes.length) - dataOffset, true);
  v.setUint32(CHECKSUM_AT, 0, true);
  v.setUint32(CHECKSUM_AT, crc32(bytes), true);
}

// Little-endian values at the edges of what the loader checks: counts, ranks, dims,
// offsets, dtype and op codes, string lengths.
const BOUNDARY_VALUES = [0n, 1n, 2n, 3n, 7n, 8n, 9n, 63n, 64n, 65n, 127n, 128n, 255n, 256n, 4096n, 4097n,
  0x7fffn, 0xffffn, 0x10000n, 0xffffffn, 0x1000000n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n,
  1n << 48n, (1n << 63n) - 1n, 1n << 63n, (1n << 64n) - 1n];

function writeValue(bytes, offset, width, value) {
  for (let i = 0; i < width && offset + i < bytes.length; ++i) bytes[offset + i] = Number((value >> BigInt(8 * i)) & 0xffn);
}

// One mutated copy of `original` and a description of what was done.
function mutate(original, rng) {
  const kind = rng.pick(['flip', 'flip', 'truncate', 'truncate-fixed', 'bytes-fixed', 'bytes-fixed',
    'bytes-fixed', 'value-fixed', 'value-fixed', 'value-fixed', 'splice-fixed', 'extend-fixed']);
  let bytes = new Uint8Array(original);
  const steps = [];
  const structure = () => (rng.chance(0.85) ? Math.max(1, structureEnd(bytes)) : bytes.length);
  switch (kind) {
    case 'flip':
      for (let i = 1 + rng.below(4); i > 0; --i) {
        const at = rng.below(bytes.length);
        const bit = rng.below(8);
        bytes[at] ^= 1 << bit;
        steps.push(`bit ${bit} of byte ${at}`);
      }
      break;
    case 'truncate':
    case 'truncate-fixed': {
      const length = rng.chance(0.3) ? rng.below(HEADER_SIZE + 1) : rng.below(bytes.length);
      bytes = bytes.slice(0, length);
      steps.push(`truncated to ${length}`);
      break;
    }
    case 'bytes-fixed':
      for (let i = 1 + rng.below(6); i > 0; --i) {
        const at = rng.below(structure());
        const value = rng.below(256);
        bytes[at] = value;
        steps.push(`byte ${at} = ${value}`);
      }
      break;
    case 'value-fixed':
      for (let i = 1 + rng.below(2); i > 0; --i) {
        const width = rng.pick([1, 2, 4, 4, 8, 8]);
        const at = rng.below(structure());
        let value = rng.pick(BOUNDARY_VALUES);
        if (rng.chance(0.2)) value = (1n << BigInt(8 * width)) - value; // negative in two's complement
        writeValue(bytes, at, width, value);
        steps.push(`${width} bytes at ${at} = ${value}`);
      }
      break;
    case 'splice-fixed': {
      const length = 1 + rng.below(32);
      const from = rng.below(bytes.length);
      const to = rng.below(structure());
      bytes.copyWithin(to, from, Math.min(bytes.length, from + length));
      steps.push(`${length} bytes from ${from} copied to ${to}`);
      break;
    }
    case 'extend-fixed': {
      const extra = 1 + rng.below(128);
      const longer = new Uint8Array(bytes.length + extra);
      longer.set(bytes);
      for (let i = bytes.length; i < longer.length; ++i) longer[i] = rng.below(256);
      bytes = longer;
      steps.push(`${extra} random bytes appended`);
      break;
    }
    default:
      throw new Error(`unknown mutation ${kind}`);
  }
  if (kind.endsWith('-fixed')) fixHeader(bytes);
  return { bytes, what: `${kind}: ${steps.join(', ')}` };
}

// Deterministic inputs of the right type and size: small signed values.
function feedsFor(model) {
  const feeds = {};
  for (const info of model.inputs) {
    const array = new info._array(info.sizeBytes / info._array.BYTES_PER_ELEMENT);
    for (let i = 0; i < array.length; ++i) {
      const v = (i * 7) % 17 - 8;
      array[i] = array instanceof BigInt64Array ? BigInt(v) : array instanceof Float32Array ? v * 0.25 : v & 0x7f;
    }
    feeds[info.name] = array;
  }
  return feeds;
}

let pnn;
let fixtures;

before(async () => {
  pnn = await loadPocketnn();
  const manifest = JSON.parse(readFileSync(path.join(FIXTURES, 'manifest.json'), 'utf8'));
  const files = manifest.map((entry) => path.join(FIXTURES, entry.model));
  if (EXTRA_MODELS) {
    for (const name of readdirSync(EXTRA_MODELS).sort()) {
      if (name.endsWith('.pnn')) files.push(path.join(EXTRA_MODELS, name));
    }
  }
  fixtures = files
    .map((file) => ({ name: path.basename(file, '.pnn'), bytes: new Uint8Array(readFileSync(file)) }))
    .filter((fixture) => fixture.bytes.length <= MAX_FIXTURE_BYTES);
});

test(`${CASES} mutated files: every failure is a PocketnnError with a message, never a trap`, () => {
  assert.ok(fixtures.length >= 5, `at least 5 fixtures of at most ${MAX_FIXTURE_BYTES} bytes`);
  const rng = generator(SEED);
  const outcomes = new Map();
  const count = (key) => outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
  let slowest = { ms: 0, what: '' };
  const start = performance.now();
  for (let index = 0; index < CASES; ++index) {
    const fixture = fixtures[index % fixtures.length];
    const { bytes, what } = mutate(fixture.bytes, rng);
    const label = `case ${index} (seed ${SEED}) on ${fixture.name}: ${what}`;
    const caseStart = performance.now();
    let model = null;
    try {
      model = pnn.loadModel(bytes);
      for (const node of model.nodes) assert.equal(typeof node.op, 'string', label);
      model.metadata('producer');
      const outputs = model.run(feedsFor(model));
      for (const info of model.outputs) assert.equal(outputs[info.name].byteLength, info.sizeBytes, label);
      count('ran');
    } catch (error) {
      if (!(error instanceof PocketnnError)) {
        const file = path.join(os.tmpdir(), `pnn-mutation-${SEED}-${index}.pnn`);
        writeFileSync(file, bytes);
        const type = error instanceof WebAssembly.RuntimeError ? 'a WebAssembly trap' : `${error?.name}`;
        assert.fail(`${label}: ${type}, not a PocketnnError: ${error?.message} (file written to ${file})`);
      }
      assert.match(error.status, /^PNN_ERR_[A-Z_]+$/, label);
      assert.ok(error.message.length > 10, `${label}: a message, got "${error.message}"`);
      count(error.status);
    } finally {
      model?.dispose();
    }
    const ms = performance.now() - caseStart;
    if (ms > slowest.ms) slowest = { ms, what: label };
  }
  const seconds = (performance.now() - start) / 1000;
  const summary = [...outcomes.entries()].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ');
  console.log(`  ${CASES} cases over ${fixtures.length} fixtures in ${seconds.toFixed(1)} s: ${summary}`);
  console.log(`  slowest: ${slowest.ms.toFixed(0)} ms, ${slowest.what}`);
  // Mutations that leave the file valid must still run: some cases load and run.
  assert.ok((outcomes.get('ran') ?? 0) > 0, 'some mutated files load and run');
  assert.ok((outcomes.get('PNN_ERR_CHECKSUM') ?? 0) > 0, 'stale checksums are refused');
  // The module is still usable after every error.
  pnn.loadModel(fixtures[0].bytes).dispose();
});
