/**
 * The parse worker: runs one task of lib/safety/budget.ts's runOffLoop on a
 * worker thread (heap capped by the caller) and posts one message back. It
 * imports no native code: a parser needs none, and a worker that loads the
 * addon is one more thing that must survive terminate().
 */
import { parentPort, workerData } from 'node:worker_threads';
import { encodeFailure, parseJsonBounded, type JsonBudget, type OffLoopTask } from './budget.js';
import { packHeader, parseHeaderCompact } from '../formats/safetensors-header.js';

const { task, input } = workerData as { task: OffLoopTask; input: unknown };
try {
  if (task === 'json') {
    const { text, budget } = input as { text: string; budget: JsonBudget };
    parentPort!.postMessage({ ok: true, value: parseJsonBounded(text, budget) });
  } else if (task === 'safetensors-header') {
    const { path, bytes, fileSize } = input as { path: string; bytes: Uint8Array; fileSize: number };
    const { value, transfer } = packHeader(parseHeaderCompact(path, bytes, fileSize));
    parentPort!.postMessage({ ok: true, value }, transfer);
  } else {
    throw new TypeError(`unknown parse task '${String(task)}'`);
  }
} catch (e) {
  parentPort!.postMessage({ ok: false, error: encodeFailure(e) });
}
