// The demo page's logic: load the demo model and photo (assets/, made by
// make_assets.py), classify the photo a few times, show the top-5, the median time
// and the model size. A model picked by file or URL runs on the photo when its input
// is 1x3x224x224, else on random inputs. A page that is crossOriginIsolated runs the
// pthreads build (?threads=N in the URL sets its threads; default: the cores, at most 4).
import { loadPocketnn } from '../pocketnn.mjs';

const $ = (id) => document.getElementById(id);
const status = (text, isError = false) => {
  $('status').textContent = text;
  $('status').className = isError ? 'error' : '';
};
const escape = (s) => String(s).replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

let pnn;
let model;
let modelBytes = 0;
let photo = null; // Float32Array, NCHW, normalized as the manifest says

async function loadPhoto(manifest) {
  const img = $('photo');
  img.src = `assets/${manifest.photo}`;
  await img.decode();
  img.hidden = false;
  const [, channels, height, width] = manifest.input.shape;
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext('2d', { colorSpace: 'srgb' });
  context.drawImage(img, 0, 0);
  const rgba = context.getImageData(0, 0, width, height).data;
  const plane = width * height;
  const x = new Float32Array(channels * plane);
  for (let c = 0; c < channels; ++c) {
    // Math.fround at each step: the same float32 arithmetic as make_assets.py's numpy.
    const mean = Math.fround(manifest.input.mean[c]);
    const std = Math.fround(manifest.input.std[c]);
    for (let p = 0; p < plane; ++p) {
      x[c * plane + p] = Math.fround(Math.fround(Math.fround(rgba[4 * p + c] / 255) - mean) / std);
    }
  }
  return x;
}

const isPhotoInput = (info) => info.dtype === 'float32' && info.shape.join('x') === '1x3x224x224';

function describe(tensors) {
  return tensors.map((t) => `<tr><td>${escape(t.name)}</td><td>[${t.shape.join(', ')}]</td><td>${t.dtype}</td></tr>`).join('');
}

function useModel(bytes, label) {
  try {
    model?.dispose();
    model = null;
    const start = performance.now();
    model = pnn.loadModel(bytes);
    modelBytes = bytes.byteLength;
    const ms = performance.now() - start;
    $('model').innerHTML = `<h2>${escape(label)}</h2>
      <p>${(bytes.byteLength / 1e6).toFixed(2)} MB, loaded in ${ms.toFixed(1)} ms, ${model.nodes.length} nodes</p>
      <table><tr><th>input</th><th>shape</th><th>dtype</th></tr>${describe(model.inputs)}</table>
      <table><tr><th>output</th><th>shape</th><th>dtype</th></tr>${describe(model.outputs)}</table>`;
    $('result').innerHTML = '';
    $('run').disabled = false;
    status('Model loaded.');
  } catch (error) {
    $('run').disabled = true;
    status(`Could not load ${label}: ${error.message}`, true);
  }
}

function randomInput(info) {
  const n = info.shape.reduce((a, b) => a * b, 1);
  const data = new info._array(n);
  for (let i = 0; i < n; ++i) data[i] = info.dtype === 'float32' ? Math.random() * 2 - 1 : 0;
  return data;
}

function summary(name, values) {
  const preview = Array.from(values.slice(0, 8), (v) => Number(v).toFixed(4)).join(', ');
  let top = '';
  if (values instanceof Float32Array && values.length > 1) {
    const order = Array.from(values.keys()).sort((a, b) => values[b] - values[a] || a - b).slice(0, 5);
    top = `<ol class="top5">${order.map((i) =>
      `<li data-class="${i}" data-logit="${values[i]}">class #${i}: ${values[i].toFixed(3)}</li>`).join('')}</ol>`;
  }
  return `<p><b>${escape(name)}</b> (${values.length} values): ${preview}${values.length > 8 ? ', …' : ''}</p>${top}`;
}

function run() {
  const runs = Math.max(1, Number($('runs').value) || 1);
  const feeds = {};
  let onPhoto = false;
  for (const info of model.inputs) {
    onPhoto ||= Boolean(photo && isPhotoInput(info));
    feeds[info.name] = photo && isPhotoInput(info) ? photo : randomInput(info);
  }
  try {
    const times = [];
    let outputs;
    for (let i = 0; i < runs; ++i) {
      const start = performance.now();
      outputs = model.run(feeds);
      times.push(performance.now() - start);
    }
    times.sort((a, b) => a - b);
    const median = times[times.length >> 1];
    $('result').innerHTML = `<h2>Result ${onPhoto ? 'on the photo' : 'on random inputs'}</h2>
      <p id="timing" data-median-ms="${median}" data-model-bytes="${modelBytes}"
      data-model-threads="${model.threads}">median ${median.toFixed(2)} ms
      per run over ${runs} runs (fastest ${times[0].toFixed(2)} … slowest ${times[times.length - 1].toFixed(2)} ms),
      model ${(modelBytes / 1e6).toFixed(2)} MB, ${model.threads} thread${model.threads > 1 ? 's' : ''}</p>
      ${Object.entries(outputs).map(([name, values]) => summary(name, values)).join('')}`;
    status('Done.');
  } catch (error) {
    status(`Run failed: ${error.message}`, true);
  }
}

async function fetchModel() {
  const url = $('url').value;
  status(`Fetching ${url}…`);
  try {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    useModel(new Uint8Array(await response.arrayBuffer()), url);
  } catch (error) {
    status(`Could not fetch ${url}: ${error.message}`, true);
  }
}

$('file').addEventListener('change', async (event) => {
  const file = event.target.files[0];
  if (file) useModel(new Uint8Array(await file.arrayBuffer()), file.name);
});
$('fetch').addEventListener('click', fetchModel);
$('run').addEventListener('click', run);

try {
  const threads = new URLSearchParams(location.search).get('threads');
  pnn = await loadPocketnn(threads == null ? {} : { threads: Number(threads) });
  const runtime = $('runtime');
  runtime.dataset.build = pnn.build;
  runtime.dataset.threads = pnn.threads;
  runtime.textContent = pnn.build === 'threads'
    ? `pthreads build, ${pnn.threads} threads (the page is cross-origin isolated)`
    : 'single-threaded build (the page is not cross-origin isolated, or one thread was asked for)';
  status('WebAssembly module ready.');
  const response = await fetch('assets/manifest.json');
  if (!response.ok) throw new Error(`assets/manifest.json: HTTP ${response.status} (run wasm/demo/make_assets.py)`);
  photo = await loadPhoto(await response.json());
  await fetchModel();
  if (model) run();
} catch (error) {
  status(`Could not start the demo: ${error.message}`, true);
}
