/**
 * Opening a Keras file through the one opener (lib/safety/open.ts): a plain
 * HDF5 file, or the weights member of a .keras zip, opened in place when
 * libhdf5 can find it there, else extracted; with the archive's config.json
 * and metadata.json.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { File } from '../h5/file.js';
import { H5Error } from '../errors.js';
import { openInput, type Input } from '../safety/open.js';
import type { JsonValue } from '../model/schema.js';
import { extractZipMember, looksLikeZip, readZipDirectory, readZipMember, type ZipEntry } from './zip.js';
import { isObject, MAX_JSON_MEMBER, parseJson } from './keras-config.js';
import type { KerasLoadOptions, KerasSource } from './keras-types.js';
import { checkAbort } from '../util/abort.js';

export const WEIGHTS_MEMBER = 'model.weights.h5';
const HDF5_SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

export function notKeras(path: string, what: string): H5Error {
  return new H5Error(
    `'${path}' ${what}; expected a Keras 2 model (a 'model_weights' group with a 'layer_names' attribute), ` +
      `Keras 2 weights (a root 'layer_names' attribute), Keras 3 weights ('layers/<name>/vars/<i>' groups) ` +
      `or a .keras archive holding ${WEIGHTS_MEMBER}`,
    { code: 'H5_NOT_KERAS', path },
  );
}

export interface Opened {
  file: File;
  container: 'hdf5' | 'zip';
  source: KerasSource;
  digest: string | undefined;
  config: JsonValue | null;
  zipMetadata: Record<string, JsonValue> | null;
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

/**
 * libhdf5 looks for the superblock at 0, 512, 1024, 2048, ... and treats the
 * bytes before it as a user block, so a stored member starting at such an
 * offset opens in place, provided no earlier candidate offset holds the
 * signature (libhdf5 takes the first one it finds).
 */
async function directOpenBlocker(input: Input, e: ZipEntry): Promise<string | null> {
  if (e.method !== 'stored') return 'the member is deflated';
  const at = e.dataOffset;
  if (at !== 0 && !(at >= 512 && isPowerOfTwo(at)))
    return `the member starts at offset ${at}, where libhdf5 does not look for a superblock (0, 512, 1024, 2048, ...)`;
  const sig = Buffer.alloc(8);
  for (let off = 0; off < at; off = off === 0 ? 512 : off * 2) {
    const bytesRead = await input.read(sig, 0, 8, off);
    if (bytesRead === 8 && sig.equals(HDF5_SIGNATURE))
      return `the archive has an HDF5 signature at offset ${off}, before the member`;
  }
  const head = Buffer.alloc(8);
  const bytesRead = await input.read(head, 0, 8, at);
  if (bytesRead !== 8 || !head.equals(HDF5_SIGNATURE)) return 'the member does not start with an HDF5 superblock';
  return null;
}

async function openZip(abs: string, input: Input, o: KerasLoadOptions): Promise<Opened> {
  // One pinned descriptor (lib/safety/open.ts) is hashed, read for the
  // directory and members, and opened by libhdf5: the archive hashed is the
  // archive loaded, whatever happens to the path meanwhile (issue 21, #7).
  let digest: string | undefined;
  if (o.expectDigest !== undefined) {
    digest = await input.sha256();
    if (digest !== o.expectDigest) {
      throw new H5Error(`'${abs}': SHA-256 ${digest} does not match the expected ${o.expectDigest}`, {
        code: 'H5_CHECKSUM_MISMATCH',
        path: abs,
        expected: o.expectDigest,
        actual: digest,
      });
    }
  }
  const entries = await readZipDirectory(input, abs, new Set([WEIGHTS_MEMBER, 'config.json', 'metadata.json']));
  const weights = entries.get(WEIGHTS_MEMBER);
  if (!weights) {
    const npz = entries.has('model.weights.npz') ? ' (its weights are model.weights.npz, not HDF5)' : '';
    throw notKeras(abs, `is a zip archive without ${WEIGHTS_MEMBER}${npz}`);
  }
  const json = async (name: string): Promise<JsonValue | null> => {
    const e = entries.get(name);
    if (!e) return null;
    return parseJson((await readZipMember(input, abs, e, MAX_JSON_MEMBER)).toString('utf8'), abs, name);
  };
  const config = await json('config.json');
  const meta = await json('metadata.json');
  const zipMetadata = isObject(meta) ? meta : null;
  checkAbort(o.signal, 'load');

  const blocker = await directOpenBlocker(input, weights);
  if (blocker === null) {
    // Same checks as any HDF5 file: the untrusted walk runs over the archive
    // itself (libhdf5 sees the member through its user-block offset), through
    // the pinned descriptor, and libhdf5 opens that descriptor.
    const file = await File.openAsync(abs, {
      ...(o.untrusted && o.expectDigest === undefined ? { untrusted: true, limits: o.limits } : {}),
      input,
    });
    unchangedOr(input, () => file.close());
    return {
      file,
      container: 'zip',
      source: { kind: 'zip-direct', member: WEIGHTS_MEMBER, offset: weights.dataOffset, compression: 'stored' },
      digest,
      config,
      zipMetadata,
    };
  }
  const dir = await mkdtemp(join(o.tmpDir ?? tmpdir(), 'h5vault-keras-'));
  try {
    const tmp = join(dir, WEIGHTS_MEMBER);
    await extractZipMember(input, abs, weights, tmp);
    unchangedOr(input, () => {});
    checkAbort(o.signal, 'load');
    // The extracted file is ours, but its bytes are the archive's: walk it unless the archive's digest vouched for it.
    const file =
      o.untrusted && o.expectDigest === undefined
        ? await File.openAsync(tmp, { untrusted: true, limits: o.limits })
        : File.open(tmp);
    return {
      file,
      container: 'zip',
      digest,
      config,
      zipMetadata,
      source: {
        kind: 'zip-extracted',
        member: WEIGHTS_MEMBER,
        offset: weights.dataOffset,
        compression: weights.method,
        reason: blocker,
      },
    };
  } finally {
    // libhdf5 holds the descriptor and the mapping; the name is no longer needed.
    await rm(dir, { recursive: true, force: true });
  }
}

/** The archive was not written to while it was hashed and read (the descriptor's identity, never the path's). */
function unchangedOr(input: Input, undo: () => void): void {
  if (input.unchanged()) return;
  undo();
  throw input.changedError('while it was being read');
}

export async function openAny(abs: string, o: KerasLoadOptions): Promise<Opened> {
  // Regular files only, never blocking: a FIFO or /dev/zero is H5_OPEN_FAILED here (issue 21, #9).
  const input = o.input ?? (await openInput(abs, 'Keras file'));
  try {
    if (await looksLikeZip(input)) return await openZip(abs, input, o);
    const file = await File.openAsync(abs, {
      untrusted: o.untrusted,
      limits: o.limits,
      expectDigest: o.expectDigest,
      input,
    });
    return {
      file,
      container: 'hdf5',
      source: { kind: 'hdf5' },
      digest: o.expectDigest,
      config: null,
      zipMetadata: null,
    };
  } finally {
    // libhdf5 holds its own descriptor of the pinned inode.
    if (input !== o.input) input.close();
  }
}
