// What new memory costs on this machine: the delta pull's floor (docs/object-storage.md) is
// writing a 256 MiB file, and on some VMs that cost depends on how long the memory was free.
// A hypervisor that takes back free guest pages (free page reporting, a balloon) makes the first
// touch of such a page a fault on the host: the same write then costs several times more than
// into pages freed a moment ago, which the guest kernel hands out first (LIFO).
//
//   node bench/fresh-memory.mjs [--mib 256] [--rounds 5] [--idle-ms 5000]
//
// Each round: write a --mib MiB file from one reused 1 MiB buffer (new page-cache pages), delete it
// and at once write it again (the pages just freed), then the same for anonymous memory (a new
// Buffer filled, dropped, collected, allocated again); then sleep --idle-ms so freed pages can be
// taken back before the next round. Prints the medians in ms and ms per MiB.
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { benchArgs, machineLine, median } from './common.mjs';

const args = benchArgs(
  { mib: '256', rounds: '5', 'idle-ms': '5000' },
  'node bench/fresh-memory.mjs [--mib 256] [--rounds 5] [--idle-ms 5000]',
);
const MIB = Number(args.mib);
const ROUNDS = Number(args.rounds);
const IDLE = Number(args['idle-ms']);
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');
const dir = mkdtempSync(join(tmpdir(), 'h5vault-fresh-memory-'));
const chunk = Buffer.alloc(1 << 20, 7);

function writeFile(path) {
  const t = performance.now();
  const fd = openSync(path, 'w');
  for (let i = 0; i < MIB; i++) writeSync(fd, chunk, 0, chunk.length, i * chunk.length);
  closeSync(fd);
  return performance.now() - t;
}
function touchAnon() {
  const t = performance.now();
  const b = Buffer.allocUnsafeSlow(MIB << 20);
  b.fill(1);
  return performance.now() - t;
}

const r = { fileFresh: [], fileRecycled: [], anonFresh: [], anonRecycled: [] };
try {
  for (let k = 0; k < ROUNDS; k++) {
    await new Promise((res) => setTimeout(res, IDLE));
    const f = join(dir, 'f');
    r.fileFresh.push(writeFile(f));
    rmSync(f);
    r.fileRecycled.push(writeFile(f));
    rmSync(f);
    gc();
    r.anonFresh.push(touchAnon());
    gc();
    r.anonRecycled.push(touchAnon());
    gc();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const line = (name, xs) =>
  `  ${name.padEnd(44)} ${median(xs).toFixed(0).padStart(5)} ms = ${(median(xs) / MIB).toFixed(2)} ms/MiB  (runs ${xs.map((x) => x.toFixed(0)).join(', ')})`;
console.log(`${MIB} MiB, ${ROUNDS} rounds, ${IDLE} ms idle before each (medians):`);
console.log(line('file, new page-cache pages after the idle', r.fileFresh));
console.log(line('file again, into the pages just freed', r.fileRecycled));
console.log(line('anonymous memory after the idle', r.anonFresh));
console.log(line('anonymous memory again, just freed', r.anonRecycled));
console.log(machineLine());
