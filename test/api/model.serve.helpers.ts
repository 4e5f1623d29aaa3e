/** Publishing a version whose file on disk no longer matches the digest the store recorded for it. */
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { File, type ModelStore, type TensorsInput } from '../../lib/index.js';
import { setFaultHook } from '../../lib/util/publish.js';

/** Flips every bit of one byte of `dataset`'s data in the file at `path` (bit rot / tampering inside a tensor). */
export function flipTensorByte(path: string, dataset: string): void {
  const f = File.open(path);
  const offset = f.dataset(dataset).offset;
  f.close();
  if (offset === null) throw new Error(`${dataset} is not contiguous`);
  const fd = openSync(path, 'r+');
  try {
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, offset);
    b[0]! ^= 0xff;
    writeSync(fd, b, 0, 1, offset);
  } finally {
    closeSync(fd);
  }
}

/**
 * store.save, except that a byte of `dataset` is flipped in the finished,
 * hashed file just before it is published: the index then names a version
 * whose bytes differ from its recorded SHA-256, and no reader can have
 * loaded it before the flip.
 */
export async function saveCorrupt(
  store: ModelStore,
  name: string,
  tensors: TensorsInput,
  dataset: string,
): Promise<number> {
  let flipped = false; // once: 'rename' repeats when a version number is already taken
  setFaultHook((step, { temp }) => {
    if (step === 'rename' && !flipped) {
      flipTensorByte(temp, dataset);
      flipped = true;
    }
  });
  try {
    return await store.save(name, tensors);
  } finally {
    setFaultHook(undefined);
  }
}
