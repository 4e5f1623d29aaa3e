/**
 * The walk child: a separate Node process that caps its own memory
 * and CPU, walks one untrusted file's metadata with libhdf5, and prints one
 * JSON line. Run by lib/safety/untrusted.ts as `node dist/safety/walk-child.js <request>`;
 * if libhdf5 crashes or hangs on the file, only this process dies.
 */
import { native } from '../addon/binding.js';
import type { WalkChildRequest } from './untrusted.js';

const req = JSON.parse(process.argv[2] ?? '{}') as WalkChildRequest;
// Limits first, before libhdf5 reads a byte of the file.
const applied = native.limitProcess(req.memoryBytes, req.cpuSeconds);
const t0 = performance.now();
const report = native.untrustedWalk(req.path, req.limits);
const ms = performance.now() - t0;
process.stdout.write(`${JSON.stringify({ ...report, ms, applied })}\n`);
