// How evenly the pthreads build shares a run between its threads, from each thread's
// CPU time (utime + stime in /proc/self/task/*/stat, Linux only): the caller's share of
// the CPU all threads spent inside model.run. The caller runs every serial part and
// waits at the end of each parallel one, so all CPU / the caller's CPU bounds the
// speed-up N threads can give (Amdahl). Unlike wall time this survives a loaded host
// as long as the other threads get a core now and then (a descheduled worker leaves
// its tasks to the caller, which only lowers the bound).
//   node bench/wasm/thread_share.mjs [--threads 2] [--runs 20] [--models a,b]
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { loadPocketnn } from '../../wasm/pocketnn.node.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '20' },
    threads: { type: 'string', default: '2' },
    models: { type: 'string', default: 'mobilenet_v1,mobilenet_v2,resnet18' },
    dir: { type: 'string', default: path.join(HERE, 'models') },
  },
});
const runs = Number(args.runs);
const threads = Number(args.threads);

// Clock ticks of CPU each thread of this process has used, by thread id.
function threadTicks() {
  const ticks = new Map();
  for (const tid of readdirSync('/proc/self/task')) {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks.set(tid, Number(fields[11]) + Number(fields[12]));  // utime, stime
  }
  return ticks;
}

const pnn = await loadPocketnn({ build: 'threads', threads });
const caller = String(process.pid);
console.log(`| model | caller CPU ticks | other threads' ticks | caller share | bound on the ${threads}-thread speed-up |`);
console.log('| --- | --- | --- | --- | --- |');
for (const name of args.models.split(',')) {
  const model = pnn.loadModel(readFileSync(path.join(args.dir, `${name}.pnn`)), { threads });
  const input = model.inputs[0];
  const x = new Float32Array(input.shape.reduce((a, b) => a * b, 1)).map((_, i) => Math.sin(i));
  const feeds = { [input.name]: x };
  for (let i = 0; i < 2; ++i) model.run(feeds);
  const used = new Map();
  for (let r = 0; r < runs; ++r) {
    const before = threadTicks();
    model.run(feeds);
    for (const [tid, ticks] of threadTicks()) used.set(tid, (used.get(tid) ?? 0) + ticks - (before.get(tid) ?? ticks));
  }
  const mine = used.get(caller) ?? 0;
  const others = [...used].filter(([tid, ticks]) => tid !== caller && ticks > 0).map(([, ticks]) => ticks);
  const all = others.reduce((a, b) => a + b, mine);
  console.log(`| ${name} | ${mine} | ${others.join(', ') || '-'} | ${(mine / all).toFixed(2)} | ${(all / mine).toFixed(2)}x |`);
  model.dispose();
}
