// node --test wasm/test/package_test.mjs
//
// The npm package's metadata: its version is the runtime's (PNN_RUNTIME_VERSION in
// runtime/include/pocketnn.h, compiled into the .wasm, and pyproject.toml's), every
// file "exports" names ships in "files", and the .wasm resolves by path.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { loadPocketnn } from 'pocketnn';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PACKAGE = path.join(HERE, '..');
const ROOT = path.join(PACKAGE, '..');
const pkg = JSON.parse(readFileSync(path.join(PACKAGE, 'package.json'), 'utf8'));

test('package.json version = PNN_RUNTIME_VERSION = pyproject version = the .wasm runtime', async () => {
  const header = readFileSync(path.join(ROOT, 'runtime/include/pocketnn.h'), 'utf8');
  const pyproject = readFileSync(path.join(ROOT, 'pyproject.toml'), 'utf8');
  assert.equal(pkg.version, header.match(/#define PNN_RUNTIME_VERSION "([^"]+)"/)[1]);
  assert.equal(pkg.version, pyproject.match(/^version = "([^"]+)"/m)[1]);
  assert.equal((await loadPocketnn()).version, pkg.version);
});

test('every exported file ships, and the .wasm resolves by path', () => {
  const targets = [];
  const collect = (value) => {
    if (typeof value === 'string') targets.push(value);
    else Object.values(value).forEach(collect);
  };
  collect(pkg.exports);
  targets.push(pkg.types);
  for (const target of targets) {
    if (target.includes('*') || target === './package.json') continue;
    const file = target.replace(/^\.\//, '');
    assert.ok(pkg.files.includes(file), `${file} is exported but not in "files"`);
    assert.ok(existsSync(path.join(PACKAGE, file)), `${file} exists`);
  }
  for (const file of pkg.files) assert.ok(existsSync(path.join(PACKAGE, file)), `${file} exists`);
  assert.equal(fileURLToPath(import.meta.resolve('pocketnn/dist/pocketnn_wasm.wasm')),
    path.join(PACKAGE, 'dist/pocketnn_wasm.wasm'));
  assert.equal(fileURLToPath(import.meta.resolve('pocketnn/pocketnn_wasm.wasm')),
    path.join(PACKAGE, 'dist/pocketnn_wasm.wasm'));
  assert.equal(fileURLToPath(import.meta.resolve('pocketnn')), path.join(PACKAGE, 'pocketnn.node.mjs'));
});
