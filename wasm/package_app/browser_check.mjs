// Opens a page in a running headless Chromium over the DevTools protocol and waits, in
// real time (no virtual time: workers and fetches run as they would for a user), for
// #out to read "done ..." or "error ...". Prints it; exits 1 unless it is "done".
//   node --experimental-websocket browser_check.mjs DEBUG_PORT URL
const [port, url] = process.argv.slice(2);
const TIMEOUT_MS = 60000;

const target = await (await fetch(`http://127.0.0.1:${port}/json/new?${url}`, { method: 'PUT' })).json();
const socket = new WebSocket(target.webSocketDebuggerUrl);
await new Promise((resolve, reject) => {
  socket.addEventListener('open', resolve);
  socket.addEventListener('error', reject);
});
let nextId = 0;
const replies = new Map();
socket.addEventListener('message', (event) => {
  const message = JSON.parse(event.data);
  if (replies.has(message.id)) {
    replies.get(message.id)(message);
    replies.delete(message.id);
  } else if (message.method === 'Runtime.exceptionThrown') {
    console.log(`page exception: ${message.params.exceptionDetails.exception?.description ?? message.params.exceptionDetails.text}`);
  }
});
const send = (method, params = {}) => new Promise((resolve) => {
  const id = ++nextId;
  replies.set(id, resolve);
  socket.send(JSON.stringify({ id, method, params }));
});

await send('Runtime.enable');
const started = Date.now();
let text = '';
while (Date.now() - started < TIMEOUT_MS) {
  const reply = await send('Runtime.evaluate', { expression: "document.getElementById('out')?.textContent ?? ''" });
  text = reply.result?.result?.value ?? '';
  if (text.startsWith('done') || text.startsWith('error')) break;
  await new Promise((resolve) => setTimeout(resolve, 200));
}
console.log(`browser (${Date.now() - started} ms): ${text}`);
process.exit(text.startsWith('done') ? 0 : 1);
