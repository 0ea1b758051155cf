// The app test_package.sh bundles: runs one fixture of make_fixtures.py through the
// installed `pocketnn` package, on this thread and in a worker, and checks both
// against the native runtime's outputs.
//   node app.mjs FIXTURE_DIR
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { createPocketnnWorker, loadPocketnn } from 'pocketnn';

import { relativeError } from './compare.mjs';
import { readF32 as readFixture } from './fixture_file.mjs';

const TOLERANCE = 1e-4;
const fixtures = process.argv[2];
const manifest = JSON.parse(readFileSync(path.join(fixtures, 'manifest.json'), 'utf8'));
const fixture = manifest[0];

const readF32 = (file) => readFixture(fixtures, file);

function check(outputs, where) {
  for (const t of fixture.outputs) {
    const expected = readF32(t.file);
    const actual = outputs[t.name];
    if (!(actual instanceof Float32Array) || actual.length !== expected.length) {
      throw new Error(`${where}: output ${t.name} is not a Float32Array of ${expected.length}`);
    }
    const error = relativeError(actual, expected);
    if (!(error <= TOLERANCE)) throw new Error(`${where}: ${t.name} relative error ${error}`);
  }
}

const feeds = () => Object.fromEntries(fixture.inputs.map((t) => [t.name, readF32(t.file)]));
const bytes = readFileSync(path.join(fixtures, fixture.model));

// Both builds of the package (in node the default is the pthreads one).
const pnn = await loadPocketnn({ build: 'single' });
for (const instance of [pnn, await loadPocketnn({ build: 'threads', threads: 2 })]) {
  const model = instance.loadModel(bytes);
  check(model.run(feeds()), `main thread, ${instance.build} build, ${model.threads} threads`);
  model.dispose();
}

const worker = await createPocketnnWorker();
try {
  const remote = await worker.loadModel(bytes);
  check(await remote.run(feeds()), 'worker');
  await remote.dispose();
} finally {
  worker.terminate();
}
console.log(`package app: ${fixture.name} matches the native runtime on the main thread (both builds) and in a worker ` +
  `(pocketnn ${pnn.version})`);
