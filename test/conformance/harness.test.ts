/**
 * The harness's canonical comparison itself: the JS value shapes h5vault
 * returns today and the ones proposed for compound, enum, vlen, array,
 * reference, opaque, bitfield and complex values reach the same canonical
 * elements as h5py_dump.py writes for the same HDF5 values, and values that
 * differ do not.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Empty, File } from '../../lib/index.js';
import { tempDir } from '../helpers.js';
import {
  asLatin1,
  canonicalElems,
  runFile,
  stableStringify,
  type CanonValue,
  type Dumped,
  type Elem,
} from './harness.js';

function same(v: unknown, cls: string, elems: Elem[]): boolean {
  const ref: CanonValue = { shape: [elems.length], elems };
  return stableStringify(canonicalElems(v, { cls, ref })) === stableStringify(elems);
}

describe('canonical comparison with h5py', () => {
  it('numbers: NaN, infinities and -0 are compared by value and sign, large integers exactly', () => {
    expect(
      same(new Float32Array([1.5, NaN, -0, Infinity]), 'float', [1.5, { $f: 'NaN' }, { $f: '-0' }, { $f: 'Infinity' }]),
    ).toBe(true);
    expect(same(new Float64Array([0]), 'float', [{ $f: '-0' }])).toBe(false);
    expect(same(new BigInt64Array([2n ** 60n, -3n]), 'integer', [{ $big: String(2n ** 60n) }, -3])).toBe(true);
    expect(same(2n ** 60n + 1n, 'integer', [{ $big: String(2n ** 60n) }])).toBe(false);
    expect(same(true, 'bool', [1])).toBe(true);
  });

  it('float16 bits are converted to their values', () => {
    expect(same(new Uint16Array([0x3c00, 0xc000]), 'float', [1, -2])).toBe(true);
  });

  it('strings: text compared exactly, undecodable bytes kept as bytes', () => {
    expect(same(['a', 'µ'], 'string-fixed', ['a', 'µ'])).toBe(true);
    expect(same('a   ', 'string-fixed', ['a'])).toBe(false);
    expect(same(new Uint8Array([0xb5, 0x6d]), 'string-fixed', [{ $bytes: 'b56d' }])).toBe(true);
    expect(same('\ufffdm', 'string-fixed', [{ $bytes: 'b56d' }])).toBe(false);
  });

  it('a null dataspace is no elements, not an empty string', () => {
    expect(same(undefined, 'integer', [])).toBe(true);
    expect(same('', 'string-vlen', [])).toBe(false);
  });

  it('compound: column objects (struct of arrays) and arrays of records', () => {
    const elems: Elem[] = [{ $c: { a: 1, b: 'x' } }, { $c: { a: 2, b: 'y' } }];
    expect(same({ a: new Int32Array([1, 2]), b: ['x', 'y'] }, 'compound', elems)).toBe(true);
    expect(
      same(
        [
          { a: 1, b: 'x' },
          { a: 2, b: 'y' },
        ],
        'compound',
        elems,
      ),
    ).toBe(true);
    expect(same({ a: new Int32Array([1, 3]), b: ['x', 'y'] }, 'compound', elems)).toBe(false);
    // nested compound column
    expect(same({ p: { x: new Float64Array([0.5]) } }, 'compound', [{ $c: { p: { $c: { x: 0.5 } } } }])).toBe(true);
  });

  it('complex: interleaved re/im pairs or {r, i} columns', () => {
    const elems: Elem[] = [{ $c: { r: 1, i: -1 } }, { $c: { r: 0.5, i: 2 } }];
    expect(same(new Float64Array([1, -1, 0.5, 2]), 'complex', elems)).toBe(true);
    expect(same({ r: new Float64Array([1, 0.5]), i: new Float64Array([-1, 2]) }, 'complex', elems)).toBe(true);
    expect(same(new Float64Array([1, -1, 2, 0.5]), 'complex', elems)).toBe(false);
  });

  it('vlen sequences: an array of typed arrays', () => {
    expect(same([new Int32Array([1, 2]), new Int32Array([])], 'vlen', [[1, 2], []])).toBe(true);
    expect(same([new Int32Array([1]), new Int32Array([])], 'vlen', [[1, 2], []])).toBe(false);
  });

  it('array types: a trailing dimension, flattened', () => {
    expect(same(new Float32Array([1, 2, 3, 4]), 'array', [1, 2, 3, 4])).toBe(true);
  });

  it('references: resolved paths; region references by their object', () => {
    expect(same([{ path: '/a' }, { path: null }], 'reference', [{ $ref: '/a' }, { $ref: null }])).toBe(true);
    expect(same([{ path: '/b', selection: {} }], 'reference', [{ $region: '/b' }])).toBe(true);
    expect(same([{ path: '/b' }], 'reference', [{ $ref: '/a' }])).toBe(false);
  });

  it('opaque and bitfield bytes: split per element; bitfields as little-endian integers', () => {
    expect(same(new Uint8Array([1, 2, 3, 4]), 'opaque', [{ $bytes: '0102' }, { $bytes: '0304' }])).toBe(true);
    expect(same(new Uint8Array([1, 2, 3, 4]), 'bitfield', [0x0201, 0x0403])).toBe(true);
    expect(same(new Uint8Array([5, 6]), 'bitfield', [5, 6])).toBe(true);
  });

  it("a null dataspace read as h5vault's Empty is no elements", () => {
    expect(
      same(
        new Empty({ class: 'float', size: 4, dtype: 'float32', bigEndian: false, precisionLoss: false }),
        'float',
        [],
      ),
    ).toBe(true);
    expect(
      same(
        new Empty({ class: 'float', size: 4, dtype: 'float32', bigEndian: false, precisionLoss: false }),
        'float',
        [0],
      ),
    ).toBe(false);
  });

  it('a scalar complex attribute: the pair [re, im] is one {r, i} element', () => {
    expect(same([4.3, 0], 'complex', [{ $c: { r: 4.3, i: 0 } }])).toBe(true);
    expect(same([0, 4.3], 'complex', [{ $c: { r: 4.3, i: 0 } }])).toBe(false);
  });

  it('references as h5vault returns them ({ kind, path }), also inside vlen sequences and compound fields', () => {
    expect(
      same([[{ kind: 'object', path: '/x' }], [{ kind: 'object', path: '/y' }]], 'vlen', [
        [{ $ref: '/x' }],
        [{ $ref: '/y' }],
      ]),
    ).toBe(true);
    // one sequence read as two (the old nesting) or a wrong path differ
    expect(
      same(
        [
          [
            { kind: 'object', path: '/x' },
            { kind: null, path: null },
          ],
        ],
        'vlen',
        [[{ $ref: '/x' }]],
      ),
    ).toBe(false);
    expect(same([[{ kind: 'object', path: '/y' }]], 'vlen', [[{ $ref: '/x' }]])).toBe(false);
    const rl: Elem[] = [{ $c: { dataset: { $ref: '/v' }, dimension: 0 } }];
    expect(same({ dataset: [{ kind: 'object', path: '/v' }], dimension: new Int32Array([0]) }, 'compound', rl)).toBe(
      true,
    );
    expect(same({ dataset: [{ kind: 'object', path: '/w' }], dimension: new Int32Array([0]) }, 'compound', rl)).toBe(
      false,
    );
  });

  it('vlen sequences of strings: each sequence against its own element', () => {
    expect(same([['5', '66'], ['x']], 'vlen', [['5', '66'], ['x']])).toBe(true);
    expect(same([['5'], ['66']], 'vlen', [['5', '66'], ['x']])).toBe(false);
  });

  it('array-typed compound fields: the n x k column is cut into the records, numbers and strings', () => {
    const elems: Elem[] = [{ $c: { v: [1, 2, 3], s: ['a', 'b'] } }, { $c: { v: [4, 5, { $f: '-0' }], s: ['c', 'd'] } }];
    expect(same({ v: new Float32Array([1, 2, 3, 4, 5, -0]), s: ['a', 'b', 'c', 'd'] }, 'compound', elems)).toBe(true);
    // -0 stays distinct from 0 even where the field's class is not known
    expect(same({ v: new Float32Array([1, 2, 3, 4, 5, 0]), s: ['a', 'b', 'c', 'd'] }, 'compound', elems)).toBe(false);
    // the old scalar reading (one value per record) and a short column differ
    expect(same({ v: new Float32Array([1, 4]), s: ['a', 'c'] }, 'compound', elems)).toBe(false);
    expect(same({ v: new Float32Array([1, 2, 3, 4, 5, -0]), s: ['a', 'c'] }, 'compound', elems)).toBe(false);
  });

  it('vlen sequences of compounds: one column object per sequence', () => {
    const elems: Elem[] = [[{ $c: { x: 1.5, y: 2 } }], [{ $c: { x: 1.5, y: 2 } }, { $c: { x: 3, y: 4 } }]];
    const v = [
      { x: new Float32Array([1.5]), y: new Float64Array([2]) },
      { x: new Float32Array([1.5, 3]), y: new Float64Array([2, 4]) },
    ];
    expect(same(v, 'vlen', elems)).toBe(true);
    expect(same([v[1], v[0]], 'vlen', elems)).toBe(false);
  });

  it('compound-typed array fields: n x k records cut into n arrays of k', () => {
    const r = (x: number): Elem => ({ $c: { x, y: 2 } });
    const elems: Elem[] = [{ $c: { s: [r(1), r(2)] } }, { $c: { s: [r(3), r(4)] } }];
    expect(
      same({ s: { x: new Float32Array([1, 2, 3, 4]), y: new Float64Array([2, 2, 2, 2]) } }, 'compound', elems),
    ).toBe(true);
    expect(same({ s: { x: new Float32Array([1, 3]), y: new Float64Array([2, 2]) } }, 'compound', elems)).toBe(false);
  });

  it("non-UTF-8 string bytes: h5vault's latin1 text matches only the exact bytes", () => {
    expect(asLatin1('µm', { $bytes: 'b56d' })).toEqual({ $bytes: 'b56d' });
    // the UTF-8 reading of other bytes, U+FFFD, or a different byte: still strings, so they differ
    expect(asLatin1('µm', { $bytes: 'c2b56d' })).toBe('µm');
    expect(asLatin1('\ufffdm', { $bytes: 'b56d' })).toBe('\ufffdm');
    expect(asLatin1('µn', { $bytes: 'b56d' })).toBe('µn');
    expect(asLatin1({ $c: { u: ['µm'] } }, { $c: { u: [{ $bytes: 'b56d' }] } })).toEqual({
      $c: { u: [{ $bytes: 'b56d' }] },
    });
  });
});

describe('each file is read in a child process', () => {
  // h5py's reading of the file, as h5py_dump.py would give it.
  const dumpOf = (file: string): Dumped => ({
    dump: {
      file,
      h5py: '',
      hdf5: '',
      entries: [
        {
          kind: 'dataset',
          path: '/d',
          object: 'dataset',
          class: 'integer',
          shape: [3],
          value: { shape: [3], elems: [1, 2, 3] },
        },
        {
          kind: 'attribute',
          path: '/',
          object: 'group',
          name: 'a',
          class: 'float',
          value: { shape: null, elems: [0.5] },
        },
      ],
    },
  });
  const write = () => {
    const file = join(tempDir(), 'small.h5');
    const f = File.create(file);
    f.createDataset('d', { dtype: 'int32', shape: [3] }).writeSync(new Int32Array([1, 2, 3]));
    f.attrs.set('a', 0.5);
    f.close();
    return file;
  };

  it('values read in the child are compared as before', async () => {
    const file = write();
    const r = await runFile(file, dumpOf(file));
    expect(r.results.map((x) => `${x.key} ${x.outcome}`)).toEqual(
      ['walk /', 'dataset /d', 'attribute /@a'].map((k) => `${k} match`),
    );
  });

  it('a reader that dies (here: killed at its deadline) fails its values, untyped, and the run goes on', async () => {
    const file = write();
    const r = await runFile(file, dumpOf(file), 1);
    expect(r.results.length).toBe(3);
    expect(r.results.every((x) => x.outcome === 'untyped' && (x.code === 'timeout' || x.code === 'not-read'))).toBe(
      true,
    );
    expect(r.results[0]).toMatchObject({ key: 'walk /', code: 'timeout' });
  });
});
