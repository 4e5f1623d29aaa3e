// Hostile safetensors headers: one file per rule of the format (and of the
// reference reader), each refused with H5Error H5_SAFETENSORS_INVALID and
// the rule's `reason`, before any tensor is handed out. Plus the reference
// implementation's own refused byte examples.
import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { H5Error, openSafetensors } from '../../lib/index.js';
import { tempDir } from '../helpers.js';
import { REFERENCE_VECTORS } from './vectors.js';

const dir = tempDir('h5vault-st-hostile-');
let seq = 0;

/** A file with header text `header` (padded to 8 with spaces unless raw) and `data` bytes after it. */
function file(header: string | Buffer, data: number | Buffer = 0, n?: bigint): string {
  const h = typeof header === 'string' ? Buffer.from(header, 'utf8') : header;
  const size = Buffer.alloc(8);
  size.writeBigUInt64LE(n ?? BigInt(h.length));
  const body = typeof data === 'number' ? Buffer.alloc(data) : data;
  const p = join(dir, `h${seq++}.safetensors`);
  writeFileSync(p, Buffer.concat([size, h, body]));
  return p;
}

async function refused(p: string): Promise<H5Error & { reason: string; tensor?: string }> {
  const e = await openSafetensors(p).then(
    () => null,
    (x: unknown) => x,
  );
  expect(e, 'the file was accepted').toBeInstanceOf(H5Error);
  expect((e as H5Error).code).toBe('H5_SAFETENSORS_INVALID');
  // The stack points at the caller, not at the addon or a promise job.
  expect((e as H5Error).stack).toContain('safetensors.hostile.test.ts');
  return e as H5Error & { reason: string; tensor?: string };
}

const t = (name: string, dtype: string, shape: unknown, offsets: unknown): string =>
  `${JSON.stringify(name)}:${JSON.stringify({ dtype, shape, data_offsets: offsets })}`;

describe('hostile safetensors headers are refused with a typed error', () => {
  it('a file shorter than the 8-byte header size', async () => {
    const p = join(dir, 'tiny.safetensors');
    writeFileSync(p, Buffer.from([1, 0, 0]));
    expect((await refused(p)).reason).toBe('file-too-small');
  });

  it('a header size above the 100 MB cap (without reading or allocating it)', async () => {
    const e = await refused(file('{}', 0, 100_000_001n));
    expect(e.reason).toBe('header-too-large');
    expect((await refused(file('{}', 0, 2n ** 64n - 1n))).reason).toBe('header-too-large');
  });

  it('maxHeaderBytes lowers the cap', async () => {
    const p = file(`{${t('a', 'U8', [1], [0, 1])}}`, 1);
    const e = await openSafetensors(p, { maxHeaderBytes: 16 }).catch((x: unknown) => x);
    expect((e as H5Error & { reason: string }).reason).toBe('header-too-large');
  });

  it('a header size past the end of the file', async () => {
    expect((await refused(file('{}', 0, 1000n))).reason).toBe('header-out-of-bounds');
  });

  it('a header that is not UTF-8', async () => {
    const h = Buffer.concat([Buffer.from('{"'), Buffer.from([0xff, 0xfe]), Buffer.from('":1}')]);
    expect((await refused(file(h))).reason).toBe('header-not-utf8');
  });

  it('a header that is not JSON', async () => {
    expect((await refused(file('{"a": [1, 2}'))).reason).toBe('header-not-json');
  });

  it("a header that does not begin with '{' (array, string, BOM, leading space)", async () => {
    expect((await refused(file('[1, 2, 3]'))).reason).toBe('header-not-object');
    expect((await refused(file('"text"'))).reason).toBe('header-not-object');
    expect((await refused(file(Buffer.from('\ufeff{}', 'utf8')))).reason).toBe('header-not-object');
    expect((await refused(file(' {}'))).reason).toBe('header-not-object');
  });

  it('duplicate keys, at the top level and inside __metadata__', async () => {
    const e = await refused(file(`{${t('a', 'U8', [1], [0, 1])},${t('a', 'U8', [1], [1, 2])}}`, 2));
    expect(e.reason).toBe('duplicate-key');
    expect((await refused(file('{"__metadata__":{"k":"1","k":"2"}}'))).reason).toBe('duplicate-key');
  });

  it('an unknown dtype', async () => {
    const e = await refused(file(`{${t('w', 'F128', [1], [0, 16])}}`, 16));
    expect(e.reason).toBe('bad-dtype');
    expect(e.tensor).toBe('w');
    expect((await refused(file(`{${t('w', 'f32', [1], [0, 4])}}`, 4))).reason).toBe('bad-dtype');
  });

  it('overlapping tensors', async () => {
    const e = await refused(file(`{${t('a', 'F32', [4], [0, 16])},${t('b', 'F32', [4], [8, 24])}}`, 24));
    expect(e.reason).toBe('overlap');
    expect(e.tensor).toBe('b');
    // The same bytes claimed twice.
    expect((await refused(file(`{${t('a', 'F32', [4], [0, 16])},${t('b', 'F32', [4], [0, 16])}}`, 16))).reason).toBe(
      'overlap',
    );
  });

  it('holes: bytes between tensors or after the last one that belong to no tensor', async () => {
    expect((await refused(file(`{${t('a', 'F32', [2], [0, 8])},${t('b', 'F32', [2], [16, 24])}}`, 24))).reason).toBe(
      'hole',
    );
    expect((await refused(file(`{${t('a', 'F32', [2], [0, 8])}}`, 12))).reason).toBe('hole');
    expect((await refused(file(`{${t('a', 'F32', [2], [4, 12])}}`, 12))).reason).toBe('hole');
  });

  it('offsets out of bounds of the data section, and end before begin', async () => {
    const e = await refused(file(`{${t('a', 'F32', [4], [0, 16])}}`, 8));
    expect(e.reason).toBe('out-of-bounds');
    expect((await refused(file(`{${t('a', 'F32', [0], [8, 0])}}`, 8))).reason).toBe('bad-offsets');
  });

  it('shape x item size different from end - begin', async () => {
    const e = await refused(file(`{${t('a', 'F32', [3], [0, 16])}}`, 16));
    expect(e.reason).toBe('shape-mismatch');
    expect(e.message).toMatch(/needs 12 bytes/);
  });

  it('integer overflow in the shape product, in a shape entry and in offsets', async () => {
    // 2^32 * 2^32 elements: exact 64-bit arithmetic overflows; a float product would not notice.
    expect((await refused(file(`{${t('a', 'F32', [4294967296, 4294967296], [0, 16])}}`, 16))).reason).toBe('overflow');
    expect(
      (await refused(file(`{"a":{"dtype":"U8","shape":[18446744073709551617],"data_offsets":[0,1]}}`, 1))).reason,
    ).toBe('overflow');
    expect(
      (await refused(file(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[9007199254740993,9007199254740994]}}`, 1)))
        .reason,
    ).toBe('overflow');
  });

  it('integers written as 1.0, 1e0, 01 or -0 are refused, in shapes and in offsets, though they equal integers', async () => {
    // The reference reads u64/usize fields: only plain digits. The parser reads short plain literals in place,
    // so each other spelling of a small integer must still reach the token check.
    for (const lit of ['1.0', '1e0', '1E0', '01', '-0', '-1', '1.', '0x1']) {
      const bad = await openSafetensors(file(`{"a":{"dtype":"F32","shape":[${lit}],"data_offsets":[0,4]}}`, 4)).then(
        () => null,
        (e: unknown) => e as H5Error & { reason: string },
      );
      expect(bad?.reason === 'bad-tensor-entry' || bad?.reason === 'header-not-json', lit).toBe(true);
    }
    for (const lit of ['4.0', '4e0', '04', '-0']) {
      const e = await refused(file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,${lit}]}}`, 4));
      expect(['bad-tensor-entry', 'header-not-json'], lit).toContain(e.reason);
    }
    // 16 digits go to the token check: an exact value, so the size rule is what refuses it.
    const big = await refused(file('{"a":{"dtype":"U8","shape":[1000000000000000],"data_offsets":[0,1]}}', 1));
    expect(big.reason).toBe('shape-mismatch');
    expect(big.message).toMatch(/shape \[1000000000000000\]/);
    const f = await openSafetensors(file('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0 , 1 ]}}', 1));
    expect([...f.tensors.get('a')!.data]).toEqual([0]);
    f.close();
  });

  it('malformed tensor entries: negative, fractional or missing fields', async () => {
    expect((await refused(file(`{${t('a', 'F32', [-1], [0, 4])}}`, 4))).reason).toBe('bad-tensor-entry');
    expect((await refused(file(`{${t('a', 'F32', [1.5], [0, 4])}}`, 4))).reason).toBe('bad-tensor-entry');
    expect((await refused(file('{"a":{"dtype":"F32","shape":[1]}}', 4))).reason).toBe('bad-tensor-entry');
    expect((await refused(file('{"a":[1,2]}'))).reason).toBe('bad-tensor-entry');
  });

  it('__metadata__ that is not a string -> string map', async () => {
    expect((await refused(file('{"__metadata__":{"epoch":3}}'))).reason).toBe('metadata-not-string-map');
    expect((await refused(file('{"__metadata__":{"a":{"b":"c"}}}'))).reason).toBe('metadata-not-string-map');
    expect((await refused(file('{"__metadata__":["a"]}'))).reason).toBe('metadata-not-string-map');
    expect((await refused(file('{"__metadata__":null}'))).reason).toBe('metadata-not-string-map');
  });

  it("the reference implementation's refused byte examples", async () => {
    for (const v of REFERENCE_VECTORS.filter((x) => !x.ok)) {
      const p = join(dir, `ref-${v.name}.safetensors`);
      writeFileSync(p, v.bytes);
      const e = await openSafetensors(p).then(
        () => null,
        (x: unknown) => x,
      );
      expect(e, `${v.test} (${v.name}) was accepted`).toBeInstanceOf(H5Error);
      expect((e as H5Error).code, v.name).toBe('H5_SAFETENSORS_INVALID');
      expect((e as H5Error & { reason: string }).reason, v.name).toBe(v.reason);
    }
  });
});
