// --pre-js of the pthreads build (inside the factory, so it shadows the global only
// there): the class emscripten's pthread pool starts its workers with. Node has no
// Worker global; pocketnn.node.mjs passes Module.pthreadWorker (pthread_node.mjs), a
// web-worker-shaped class over node:worker_threads. Browsers use their Worker.
var Worker = Module['pthreadWorker'] || globalThis.Worker;
