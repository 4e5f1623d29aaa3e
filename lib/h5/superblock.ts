/**
 * Repairs the superblock checksum in a file image taken from an open file.
 *
 * libhdf5 1.10's H5Fget_file_image clears the superblock's status flags in
 * the image (they say "open for writing") but keeps the checksum computed
 * with the flags set, so the image of a file with a version 2 or 3
 * superblock (libver 'latest', or h5vault's own files, whose file-space
 * strategy needs version 2) fails to open: "incorrect metadata checksum".
 * The checksum is recomputed here over the image's own bytes.
 */

const SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

/** Bob Jenkins' lookup3 hashlittle, byte by byte: libhdf5's metadata checksum (initval 0). */
export function lookup3(k: Uint8Array, initval = 0): number {
  let length = k.length;
  let a = (0xdeadbeef + length + initval) >>> 0;
  let b = a;
  let c = a;
  const rot = (x: number, n: number): number => ((x << n) | (x >>> (32 - n))) >>> 0;
  const word = (o: number): number => (k[o]! | (k[o + 1]! << 8) | (k[o + 2]! << 16) | (k[o + 3]! << 24)) >>> 0;
  let o = 0;
  while (length > 12) {
    a = (a + word(o)) >>> 0;
    b = (b + word(o + 4)) >>> 0;
    c = (c + word(o + 8)) >>> 0;
    a = (a - c) >>> 0;
    a = (a ^ rot(c, 4)) >>> 0;
    c = (c + b) >>> 0;
    b = (b - a) >>> 0;
    b = (b ^ rot(a, 6)) >>> 0;
    a = (a + c) >>> 0;
    c = (c - b) >>> 0;
    c = (c ^ rot(b, 8)) >>> 0;
    b = (b + a) >>> 0;
    a = (a - c) >>> 0;
    a = (a ^ rot(c, 16)) >>> 0;
    c = (c + b) >>> 0;
    b = (b - a) >>> 0;
    b = (b ^ rot(a, 19)) >>> 0;
    a = (a + c) >>> 0;
    c = (c - b) >>> 0;
    c = (c ^ rot(b, 4)) >>> 0;
    b = (b + a) >>> 0;
    length -= 12;
    o += 12;
  }
  if (length === 0) return c;
  const t = [0, 0, 0];
  for (let i = 0; i < length; i++) t[i >> 2] = (t[i >> 2]! + ((k[o + i]! << (8 * (i & 3))) >>> 0)) >>> 0;
  a = (a + t[0]!) >>> 0;
  b = (b + t[1]!) >>> 0;
  c = (c + t[2]!) >>> 0;
  c = (c ^ b) >>> 0;
  c = (c - rot(b, 14)) >>> 0;
  a = (a ^ c) >>> 0;
  a = (a - rot(c, 11)) >>> 0;
  b = (b ^ a) >>> 0;
  b = (b - rot(a, 25)) >>> 0;
  c = (c ^ b) >>> 0;
  c = (c - rot(b, 16)) >>> 0;
  a = (a ^ c) >>> 0;
  a = (a - rot(c, 4)) >>> 0;
  b = (b ^ a) >>> 0;
  b = (b - rot(a, 14)) >>> 0;
  c = (c ^ b) >>> 0;
  c = (c - rot(b, 24)) >>> 0;
  return c;
}

/** Where the superblock starts: offset 0, or after a user block (512, 1024, 2048, ...). */
function superblockAt(img: Uint8Array): number {
  for (let off = 0; off + SIGNATURE.length <= img.length; off = off === 0 ? 512 : off * 2) {
    if (SIGNATURE.every((v, i) => img[off + i] === v)) return off;
  }
  return -1;
}

/** Rewrites, in place, the checksum of a version 2/3 superblock in `img`; other images are left as they are. */
export function repairSuperblockChecksum(img: Uint8Array): void {
  const at = superblockAt(img);
  if (at < 0) return;
  const version = img[at + 8]!;
  if (version < 2) return;
  // signature, version, sizes of offsets and lengths, flags; then 4 addresses.
  const sizeOfOffsets = img[at + 9]!;
  const end = at + 12 + 4 * sizeOfOffsets;
  if (end + 4 > img.length) return;
  const sum = lookup3(img.subarray(at, end));
  new DataView(img.buffer, img.byteOffset + end, 4).setUint32(0, sum, true);
}
