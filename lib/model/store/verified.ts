/**
 * ModelStore's "verified once" records (docs/model-storage.md#verified-once):
 * next to each version file, `.vNNNNNN.h5.verified` says "the file with this
 * identity (device, inode, size, mtime, ctime) hashed to this digest, and its
 * tensors matched their checksums". A load that finds the version file with
 * that very identity skips both hashes; any write to the file changes its
 * ctime (which no user can set back), so a tampered file is hashed again.
 *
 * A record is only as trusted as the store directory that holds it: whoever
 * can write it can also rewrite index.json, whose digests the loads check.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FileStamp } from '../../safety/untrusted.js';
import { SHA256_HEX } from '../digest.js';
import { unlinkQuiet, writeFileAtomic } from '../../util/publish.js';
import { parseStoredJson } from '../../safety/budget.js';

export interface VerifiedRecord {
  /** The file digest the version's index entry holds (a record for another digest is ignored). */
  digest: string;
  stamp: FileStamp;
}

/** Path of the record of version file `file` (e.g. 'v000003.h5') in `dir`. */
export function recordPath(dir: string, file: string): string {
  return join(dir, `.${file}.verified`);
}

const DEC = /^\d{1,24}$/;

function isStamp(s: unknown): s is FileStamp {
  const x = s as Record<string, unknown>;
  return (
    typeof x === 'object' &&
    x !== null &&
    ['dev', 'ino', 'size', 'mtimeNs', 'ctimeNs'].every((k) => typeof x[k] === 'string' && DEC.test(x[k] as string))
  );
}

/** The record, or null when there is none or it is unreadable or malformed (the version is then hashed, as without one). */
export async function readRecord(dir: string, file: string): Promise<VerifiedRecord | null> {
  try {
    const r = parseStoredJson(await readFile(recordPath(dir, file), 'utf8')) as {
      format?: unknown;
      digest?: unknown;
      stamp?: unknown;
    };
    if (r?.format !== 1 || typeof r.digest !== 'string' || !SHA256_HEX.test(r.digest) || !isStamp(r.stamp)) return null;
    return { digest: r.digest, stamp: r.stamp };
  } catch {
    return null;
  }
}

/**
 * Writes the record atomically. Best effort: a store the loader cannot write
 * (read-only mount, another user's store) still loads, only without the fast path.
 */
export async function writeRecord(dir: string, file: string, rec: VerifiedRecord): Promise<void> {
  const { dev, ino, size, mtimeNs, ctimeNs } = rec.stamp;
  const text = `${JSON.stringify({ format: 1, digest: rec.digest, stamp: { dev, ino, size, mtimeNs, ctimeNs } })}\n`;
  await writeFileAtomic(recordPath(dir, file), text).catch(() => {});
}

export async function removeRecord(dir: string, file: string): Promise<void> {
  await unlinkQuiet(recordPath(dir, file));
}

export function sameStamp(a: FileStamp, b: FileStamp): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}
