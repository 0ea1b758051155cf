// The demo page's logic: load a model (file picker or URL), run it on a random
// input a few times, show the outputs and the median time.
import { loadPocketnn } from '../pocketnn.mjs';

const $ = (id) => document.getElementById(id);
const status = (text, isError = false) => {
  $('status').textContent = text;
  $('status').className = isError ? 'error' : '';
};
const escape = (s) => String(s).replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

let pnn;
let model;

function describe(tensors) {
  return tensors.map((t) => `<tr><td>${escape(t.name)}</td><td>[${t.shape.join(', ')}]</td><td>${t.dtype}</td></tr>`).join('');
}

function useModel(bytes, label) {
  try {
    model?.dispose();
    model = null;
    const start = performance.now();
    model = pnn.loadModel(bytes);
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
    const order = Array.from(values.keys()).sort((a, b) => values[b] - values[a]).slice(0, 5);
    top = `<br>top-5: ${order.map((i) => `#${i} (${values[i].toFixed(3)})`).join(', ')}`;
  }
  return `<p><b>${escape(name)}</b> (${values.length} values): ${preview}${values.length > 8 ? ', …' : ''}${top}</p>`;
}

function run() {
  const runs = Math.max(1, Number($('runs').value) || 1);
  const feeds = {};
  for (const info of model.inputs) feeds[info.name] = randomInput(info);
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
    $('result').innerHTML = `<h2>Result</h2>
      <p id="timing">median ${median.toFixed(2)} ms over ${runs} runs (first ${times[0].toFixed(2)} … slowest ${times[times.length - 1].toFixed(2)} ms)</p>
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
  pnn = await loadPocketnn();
  status('WebAssembly module ready: pick a .pnn file or load the URL.');
  // ?autorun loads the URL and runs once (used by wasm/browser_test.sh).
  if (new URLSearchParams(location.search).has('autorun')) {
    await fetchModel();
    if (model) run();
  }
} catch (error) {
  status(`Could not load the WebAssembly module: ${error.message}`, true);
}
