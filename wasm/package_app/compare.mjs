// How outputs are compared with the native runtime's, shared by the node tests, the
// packaged app and the browser check page (so no node import here).

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
