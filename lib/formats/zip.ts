/**
 * The few zip-archive operations a `.keras` file needs: list the central
 * directory, locate a member's bytes, read a small member into memory, and
 * copy a member to a file (inflating it if deflated) with its CRC-32 checked.
 * Everything is bounds-checked against the archive's size: a damaged or
 * hostile archive gives H5Error H5_CORRUPT (or H5_UNSUPPORTED for zip
 * features we do not read), never a wrong byte range.
 */
import { createWriteStream } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createInflateRaw, crc32, inflateRawSync } from 'node:zlib';
import { H5Error } from '../errors.js';

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
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
  /** Offset of the member's first data byte (after the local header). */
  dataOffset: number;
}

export function zipCorrupt(path: string, what: string): H5Error {
  return new H5Error(`'${path}' is not a valid zip archive: ${what}`, { code: 'H5_CORRUPT', path, reason: 'archive' });
}

async function readAt(fh: FileHandle, offset: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(buf, done, length - done, offset + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done === length ? buf : buf.subarray(0, done);
}

/** True if the first bytes are a zip local-file header ("PK\3\4") or an empty archive's EOCD. */
export async function looksLikeZip(fh: FileHandle): Promise<boolean> {
  const b = await readAt(fh, 0, 4);
  return b.length === 4 && (b.readUInt32LE(0) === SIG_LOCAL || b.readUInt32LE(0) === SIG_EOCD);
}

/**
 * Reads the central directory. Zip64 archives (more than 65535 members or
 * 4 GiB) and encrypted members are refused with H5_UNSUPPORTED: Keras never
 * writes them for the small config/metadata members, and a weights member
 * over 4 GiB would need zip64.
 */
export async function readZipDirectory(fh: FileHandle, path: string): Promise<Map<string, ZipEntry>> {
  const size = (await fh.stat()).size;
  if (size < EOCD_MIN) throw zipCorrupt(path, `${size} bytes is too short for an end-of-central-directory record`);
  const tailLen = Math.min(size, EOCD_SEARCH);
  const tail = await readAt(fh, size - tailLen, tailLen);
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
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    throw new H5Error(`'${path}' is a zip64 archive, which h5vault does not read`, { code: 'H5_UNSUPPORTED', path });
  }
  const eocdAt = size - tailLen + eocd;
  if (cdOffset + cdSize > eocdAt) throw zipCorrupt(path, `central directory [${cdOffset}, +${cdSize}) runs past its end record at ${eocdAt}`);
  const cd = await readAt(fh, cdOffset, cdSize);
  const entries = new Map<string, ZipEntry>();
  let p = 0;
  for (let n = 0; n < count; n++) {
    if (p + 46 > cd.length || cd.readUInt32LE(p) !== SIG_CENTRAL) throw zipCorrupt(path, `central directory entry ${n} is damaged`);
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
    const name = cd.toString('utf8', p + 46, p + 46 + nameLen);
    p = end;
    if (compressedSize === 0xffffffff || usize === 0xffffffff || headerOffset === 0xffffffff) {
      throw new H5Error(`'${path}': member '${name}' needs zip64, which h5vault does not read`, { code: 'H5_UNSUPPORTED', path });
    }
    if (flags & 1) throw new H5Error(`'${path}': member '${name}' is encrypted`, { code: 'H5_UNSUPPORTED', path });
    if (methodId !== 0 && methodId !== 8) {
      throw new H5Error(`'${path}': member '${name}' uses zip compression method ${methodId}; only stored (0) and deflate (8) are read`, {
        code: 'H5_UNSUPPORTED', path,
      });
    }
    const method: ZipMethod = methodId === 0 ? 'stored' : 'deflate';
    if (method === 'stored' && compressedSize !== usize) throw zipCorrupt(path, `stored member '${name}' has two different sizes`);
    if (headerOffset + 30 > cdOffset) throw zipCorrupt(path, `member '${name}' starts at ${headerOffset}, inside the central directory`);
    const local = await readAt(fh, headerOffset, 30);
    if (local.length < 30 || local.readUInt32LE(0) !== SIG_LOCAL) throw zipCorrupt(path, `member '${name}' has no local header at ${headerOffset}`);
    const dataOffset = headerOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
    if (dataOffset + compressedSize > cdOffset) {
      throw zipCorrupt(path, `member '${name}' [${dataOffset}, +${compressedSize}) runs into the central directory at ${cdOffset} (truncated?)`);
    }
    entries.set(name, { name, method, crc32: crc, compressedSize, size: usize, headerOffset, dataOffset });
  }
  return entries;
}

/** A member's bytes in memory (for small members: config.json, metadata.json), CRC-checked. */
export async function readZipMember(fh: FileHandle, path: string, e: ZipEntry, maxBytes: number): Promise<Buffer> {
  if (e.size > maxBytes) {
    throw new H5Error(`'${path}': member '${e.name}' declares ${e.size} bytes, more than the ${maxBytes} allowed`, { code: 'H5_UNSUPPORTED', path });
  }
  const raw = await readAt(fh, e.dataOffset, e.compressedSize);
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
  if (data.length !== e.size) throw zipCorrupt(path, `member '${e.name}' holds ${data.length} bytes, its header says ${e.size}`);
  if (crc32(data) !== e.crc32) throw zipCorrupt(path, `member '${e.name}' fails its CRC-32 check`);
  return data;
}

/**
 * Copies a member to `dest` (a new file), inflating a deflated one, in
 * bounded memory; checks its size and CRC-32. Inflated output beyond the
 * declared size stops the copy (a zip bomb cannot fill the disk).
 */
export async function extractZipMember(fh: FileHandle, path: string, e: ZipEntry, dest: string): Promise<void> {
  let crc = 0;
  let written = 0;
  const check = new Transform({
    transform(chunk: Buffer, _enc, done) {
      written += chunk.length;
      if (written > e.size) return done(zipCorrupt(path, `member '${e.name}' inflates to more than the ${e.size} bytes its header says`));
      crc = crc32(chunk, crc);
      done(null, chunk);
    },
  });
  // An empty member has no byte range to stream (end is inclusive).
  const source = e.compressedSize === 0
    ? Readable.from([])
    : fh.createReadStream({ start: e.dataOffset, end: e.dataOffset + e.compressedSize - 1, autoClose: false, highWaterMark: 1 << 20 });
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
    throw new H5Error(`cannot extract '${e.name}' from '${path}' to '${dest}': ${(err as Error).message}`, { code: 'H5_IO', path });
  }
  if (written !== e.size) throw zipCorrupt(path, `member '${e.name}' holds ${written} bytes, its header says ${e.size} (truncated?)`);
  if (crc !== e.crc32) throw zipCorrupt(path, `member '${e.name}' fails its CRC-32 check`);
}
