// The module worker createPocketnnWorker() starts in a browser: it runs the runtime
// off the page's thread and answers worker_client.mjs's requests.
import { loadPocketnn } from './pocketnn.mjs';
import { serveModels } from './worker_host.mjs';

serveModels({
  post: (message, transfer) => self.postMessage(message, transfer),
  listen: (onMessage) => self.addEventListener('message', (event) => onMessage(event.data)),
}, loadPocketnn);
