// The worker thread createPocketnnWorker() starts under node (see worker.mjs).
import { parentPort } from 'node:worker_threads';

import { loadPocketnn } from './pocketnn.node.mjs';
import { serveModels } from './worker_host.mjs';

serveModels({
  post: (message, transfer) => parentPort.postMessage(message, transfer),
  listen: (onMessage) => parentPort.on('message', onMessage),
}, loadPocketnn);
