/**
 * The few zip-archive operations a `.keras` file needs: list the central
 * directory, locate a member's bytes, read a small member into memory, and
 * copy a member to a file (inflating it if deflated) with its CRC-32 checked.
 * Everything is bounds-checked against the archive's size: a damaged or
 * hostile archive gives H5Error H5_CORRUPT (or H5_UNSUPPORTED for zip
 * features we do not read), never a wrong byte range. The archive is read
 * through the pinned descriptor of lib/safety/open.ts only.
 *
 * Strictness follows CPython's zipfile where it refuses: a member whose local
 * header names another file than the central directory is refused (zipfile:
 * "File name in directory ... and header ... differ"), and the 0xFFFF /
 * 0xFFFFFFFF sentinels of the end record mean zip64 only when a zip64 locator
 * precedes it (zipfile's _EndRecData64), else they are plain counts.
 * Inflation is bounded (MAX_INFLATE_RATIO): a member declaring more than
 * that many times its compressed size (beyond INFLATE_RATIO_FLOOR bytes) is
 * refused H5_LIMIT_EXCEEDED before a byte is inflated or written.
 */
import { createWriteStream } from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createInflateRaw, crc32, inflateRawSync } from 'node:zlib';
import { H5Error } from '../errors.js';
import type { Input } from '../safety/open.js';

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const ZIP64_LOCATOR_SIZE = 20;

/**
 * Largest ratio of a member's declared size to its compressed size that is
 * inflated. Deflate reaches ~1032:1 on runs of one byte; float weights
 * compress 1.1-3:1 and JSON ~10:1, so 100:1 (Apache POI's default
 * MIN_INFLATE_RATIO of 0.01) only refuses members that are almost all one
 * byte: a 262 KB archive declaring 256 MiB of weights is refused, not
 * written to the temporary directory.
 */
export const MAX_INFLATE_RATIO = 100;
/** Members declaring at most this many bytes inflate whatever their ratio. */
export const INFLATE_RATIO_FLOOR = 16 * 1024 * 1024;
const EOCD_MIN = 22;
/** The end-of-central-directory record sits in the last 22 + 65535 (comment) bytes. */
const EOCD_SEARCH = EOCD_MIN + 0xffff;

export type ZipMethod = 'stored' | 'deflate';

export interface ZipEntry {
  name: string;
  method: ZipMethod;
  crc32: number;
  compressedSize: number;
  size: number;
  /** Offset of the local file header. */
  headerOffset: number;
  /** Offset of the member's first data byte (after the local header); -1 when its local header was not read (readZipDirectory's `locate`). */
  dataOffset: number;
}

export function zipCorrupt(path: string, what: string): H5Error {
  return new H5Error(`'${path}' is not a valid zip archive: ${what}`, { code: 'H5_CORRUPT', path, reason: 'archive' });
}

/** True if the first bytes are a zip local-file header ("PK\3\4") or an empty archive's EOCD. */
export async function looksLikeZip(input: Input): Promise<boolean> {
  const b = await input.readAt(0, 4);
  return b.length === 4 && (b.readUInt32LE(0) === SIG_LOCAL || b.readUInt32LE(0) === SIG_EOCD);
}

function located(path: string, e: ZipEntry): void {
  if (e.dataOffset < 0)
    throw new TypeError(`'${path}': member '${e.name}' was not located (pass it in readZipDirectory's locate set)`);
}

/**
 * Reads the central directory (and the local headers of the members named in
 * `locate`, all of them by default). Zip64 archives (more than 65535 members or
 * 4 GiB) and encrypted members are refused with H5_UNSUPPORTED: Keras never
 * writes them for the small config/metadata members, and a weights member
 * over 4 GiB would need zip64.
 */
export async function readZipDirectory(
  input: Input,
  path: string,
  locate?: ReadonlySet<string>,
): Promise<Map<string, ZipEntry>> {
  const size = input.size;
  if (size < EOCD_MIN) throw zipCorrupt(path, `${size} bytes is too short for an end-of-central-directory record`);
  const tailLen = Math.min(size, EOCD_SEARCH);
  const tail = await input.readAt(size - tailLen, tailLen);
  let eocd = -1;
  for (let i = tail.length - EOCD_MIN; i >= 0; i--) {
    if (tail.readUInt32LE(i) === SIG_EOCD && i + EOCD_MIN + tail.readUInt16LE(i + 20) === tail.length) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw zipCorrupt(path, 'no end-of-central-directory record (truncated?)');
  const count = tail.readUInt16LE(eocd + 10);
  const cdSize = tail.readUInt32LE(eocd + 12);
  const cdOffset = tail.readUInt32LE(eocd + 16);
  const eocdAt = size - tailLen + eocd;
  // A sentinel alone is a real value (65535 members is a valid plain zip);
  // the archive is zip64 only if the zip64 locator sits right before the end record.
  const locator = eocdAt >= ZIP64_LOCATOR_SIZE ? await input.readAt(eocdAt - ZIP64_LOCATOR_SIZE, 4) : Buffer.alloc(0);
  if (locator.length === 4 && locator.readUInt32LE(0) === SIG_ZIP64_LOCATOR) {
    throw new H5Error(`'${path}' is a zip64 archive, which h5vault does not read`, { code: 'H5_UNSUPPORTED', path });
  }
  if (cdOffset + cdSize > eocdAt)
    throw zipCorrupt(path, `central directory [${cdOffset}, +${cdSize}) runs past its end record at ${eocdAt}`);
  const cd = await input.readAt(cdOffset, cdSize);
  const entries = new Map<string, ZipEntry>();
  let p = 0;
  for (let n = 0; n < count; n++) {
    if (p + 46 > cd.length || cd.readUInt32LE(p) !== SIG_CENTRAL)
      throw zipCorrupt(path, `central directory entry ${n} is damaged`);
    const flags = cd.readUInt16LE(p + 8);
    const methodId = cd.readUInt16LE(p + 10);
    const crc = cd.readUInt32LE(p + 16);
    const compressedSize = cd.readUInt32LE(p + 20);
    const usize = cd.readUInt32LE(p + 24);
    const nameLen = cd.readUInt16LE(p + 28);
    const extraLen = cd.readUInt16LE(p + 30);
    const commentLen = cd.readUInt16LE(p + 32);
    const headerOffset = cd.readUInt32LE(p + 42);
    const end = p + 46 + nameLen + extraLen + commentLen;
    if (end > cd.length) throw zipCorrupt(path, `central directory entry ${n} runs past the directory`);
    const nameBytes = cd.subarray(p + 46, p + 46 + nameLen);
    const name = nameBytes.toString('utf8');
    const extra = cd.subarray(p + 46 + nameLen, p + 46 + nameLen + extraLen);
    p = end;
    // 0xFFFFFFFF means "see the zip64 extra field" only when that field (id 1) is there.
    if (
      (compressedSize === 0xffffffff || usize === 0xffffffff || headerOffset === 0xffffffff) &&
      hasExtra(extra, 0x0001)
    ) {
      throw new H5Error(`'${path}': member '${name}' needs zip64, which h5vault does not read`, {
        code: 'H5_UNSUPPORTED',
        path,
      });
    }
    if (flags & 1) throw new H5Error(`'${path}': member '${name}' is encrypted`, { code: 'H5_UNSUPPORTED', path });
    if (methodId !== 0 && methodId !== 8) {
      throw new H5Error(
        `'${path}': member '${name}' uses zip compression method ${methodId}; only stored (0) and deflate (8) are read`,
        {
          code: 'H5_UNSUPPORTED',
          path,
        },
      );
    }
    const method: ZipMethod = methodId === 0 ? 'stored' : 'deflate';
    if (method === 'stored' && compressedSize !== usize)
      throw zipCorrupt(path, `stored member '${name}' has two different sizes`);
    if (headerOffset + 30 > cdOffset)
      throw zipCorrupt(path, `member '${name}' starts at ${headerOffset}, inside the central directory`);
    // Local headers are read for the members the caller will read only (as
    // CPython's zipfile does when it opens a member): a directory of 65535
    // members is one read, not 65535.
    const dataOffset =
      locate === undefined || locate.has(name)
        ? await localData(input, path, name, nameBytes, headerOffset, compressedSize, cdOffset)
        : -1;
    entries.set(name, { name, method, crc32: crc, compressedSize, size: usize, headerOffset, dataOffset });
  }
  return entries;
}

/** Checks a member's local header against the directory; returns the offset of its first data byte. */
async function localData(
  input: Input,
  path: string,
  name: string,
  nameBytes: Buffer,
  headerOffset: number,
  compressedSize: number,
  cdOffset: number,
): Promise<number> {
  // The local header and (if it is as long as the directory's) its name, in one read.
  const local = await input.readAt(headerOffset, 30 + nameBytes.length);
  if (local.length < 30 || local.readUInt32LE(0) !== SIG_LOCAL)
    throw zipCorrupt(path, `member '${name}' has no local header at ${headerOffset}`);
  const localNameLen = local.readUInt16LE(26);
  const localName =
    localNameLen === nameBytes.length ? local.subarray(30) : await input.readAt(headerOffset + 30, localNameLen);
  // Two readers of this archive must see the same member under one name (CPython's zipfile refuses this too).
  if (!localName.equals(nameBytes)) {
    throw zipCorrupt(
      path,
      `member '${name}' is named '${localName.toString('utf8')}' in its local header: the names in the directory and the header differ`,
    );
  }
  const dataOffset = headerOffset + 30 + localNameLen + local.readUInt16LE(28);
  if (dataOffset + compressedSize > cdOffset) {
    throw zipCorrupt(
      path,
      `member '${name}' [${dataOffset}, +${compressedSize}) runs into the central directory at ${cdOffset} (truncated?)`,
    );
  }
  return dataOffset;
}

function hasExtra(extra: Buffer, id: number): boolean {
  for (let i = 0; i + 4 <= extra.length; i += 4 + extra.readUInt16LE(i + 2))
    if (extra.readUInt16LE(i) === id) return true;
  return false;
}

/** Refuses a deflated member that declares more than MAX_INFLATE_RATIO times its compressed size (a zip bomb). */
function checkInflation(path: string, e: ZipEntry): void {
  if (e.method !== 'deflate' || e.size <= INFLATE_RATIO_FLOOR || e.size <= MAX_INFLATE_RATIO * e.compressedSize) return;
  throw new H5Error(
    `'${path}': member '${e.name}' declares ${e.size} bytes from ${e.compressedSize} compressed ` +
      `(${Math.round(e.size / Math.max(1, e.compressedSize))}:1, more than the ${MAX_INFLATE_RATIO}:1 inflated beyond ${INFLATE_RATIO_FLOOR} bytes): refusing a likely zip bomb`,
    {
      code: 'H5_LIMIT_EXCEEDED',
      path,
      reason: 'zip-bomb',
      member: e.name,
      declared: e.size,
      compressed: e.compressedSize,
    },
  );
}

/** A member's bytes in memory (for small members: config.json, metadata.json), CRC-checked. */
export async function readZipMember(input: Input, path: string, e: ZipEntry, maxBytes: number): Promise<Buffer> {
  if (e.size > maxBytes) {
    throw new H5Error(`'${path}': member '${e.name}' declares ${e.size} bytes, more than the ${maxBytes} allowed`, {
      code: 'H5_UNSUPPORTED',
      path,
    });
  }
  located(path, e);
  checkInflation(path, e);
  const raw = await input.readAt(e.dataOffset, e.compressedSize);
  if (raw.length !== e.compressedSize) throw zipCorrupt(path, `member '${e.name}' is truncated`);
  let data: Buffer;
  if (e.method === 'stored') data = raw;
  else {
    try {
      data = inflateRawSync(raw, { maxOutputLength: Math.max(1, e.size) });
    } catch (err) {
      throw zipCorrupt(path, `member '${e.name}' does not inflate (${(err as Error).message})`);
    }
  }
  if (data.length !== e.size)
    throw zipCorrupt(path, `member '${e.name}' holds ${data.length} bytes, its header says ${e.size}`);
  if (crc32(data) !== e.crc32) throw zipCorrupt(path, `member '${e.name}' fails its CRC-32 check`);
  return data;
}

/**
 * Copies a member to `dest` (a new file), inflating a deflated one, in
 * bounded memory; checks its size and CRC-32. Inflated output beyond the
 * declared size stops the copy (a zip bomb cannot fill the disk).
 */
export async function extractZipMember(input: Input, path: string, e: ZipEntry, dest: string): Promise<void> {
  located(path, e);
  checkInflation(path, e);
  let crc = 0;
  let written = 0;
  const check = new Transform({
    transform(chunk: Buffer, _enc, done) {
      written += chunk.length;
      if (written > e.size)
        return done(zipCorrupt(path, `member '${e.name}' inflates to more than the ${e.size} bytes its header says`));
      crc = crc32(chunk, crc);
      done(null, chunk);
    },
  });
  // An empty member has an empty range (end is inclusive): stream() gives an empty stream.
  const source = input.stream(e.dataOffset, e.dataOffset + e.compressedSize - 1);
  const out = createWriteStream(dest, { flags: 'wx', mode: 0o600 });
  try {
    if (e.method === 'deflate') await pipeline(source, createInflateRaw(), check, out);
    else await pipeline(source, check, out);
  } catch (err) {
    if (err instanceof H5Error) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (code.startsWith('Z_') || code === 'ERR_STREAM_PREMATURE_CLOSE') {
      throw zipCorrupt(path, `member '${e.name}' does not inflate (${(err as Error).message})`);
    }
    throw new H5Error(`cannot extract '${e.name}' from '${path}' to '${dest}': ${(err as Error).message}`, {
      code: 'H5_IO',
      path,
    });
  }
  if (written !== e.size)
    throw zipCorrupt(path, `member '${e.name}' holds ${written} bytes, its header says ${e.size} (truncated?)`);
  if (crc !== e.crc32) throw zipCorrupt(path, `member '${e.name}' fails its CRC-32 check`);
}
