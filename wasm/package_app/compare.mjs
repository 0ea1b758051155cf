// Fixture helpers shared by the node tests and the packaged app: read a raw float32
// file of make_fixtures.py and compare outputs with the native runtime's.
import { readFileSync } from 'node:fs';
import path from 'node:path';

/** A fixture's raw little-endian float32 file, in a buffer of its own (transferable). */
export function readF32(dir, file) {
  const bytes = readFileSync(path.join(dir, file));
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

/** max |actual - expected| / max |expected|; NaN on either side gives Infinity. */
export function relativeError(actual, expected) {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; ++i) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!(d <= diff)) diff = Number.isNaN(d) ? Infinity : d;
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return diff / Math.max(scale, 1e-12);
}
