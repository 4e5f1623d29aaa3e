/**
 * loadModel's layout check reads the object headers of a model's datasets
 * with h5vault's own bounded parser (native/h5/ohdr.cc) instead of an H5Dopen
 * per tensor (docs/model-storage.md#why-the-one-call-check-is-still-a-full-check).
 * libhdf5's path stays the reference: for every model here, written by
 * h5vault or edited by h5py, the parser's answer equals libhdf5's exactly
 * (native.modelLayout with engine 'parser' vs 'libhdf5'), and h5vault's own
 * tensors are all parsed ('parser-strict'). The damaged-header sweep is in
 * model.header-parser.damage.test.ts.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { File, loadModel } from '../../lib/index.js';
import { requirePeers, tempDir } from '../helpers.js';
import { DTYPES, layout, makeModels, models } from './ohdr-fixtures.js';

const dir = tempDir('h5vault-ohdr-');

beforeAll(async () => {
  requirePeers();
  await makeModels(dir);
});

describe("the object-header parser agrees with libhdf5's layouts", () => {
  for (const name of [...Object.keys(models), 'attrs']) {
    it(`${name}: the parser's rows equal libhdf5's`, () => {
      const p = join(dir, `${name}.h5`);
      const ref = layout(p, 'libhdf5');
      expect(ref).not.toBeNull();
      expect(layout(p, 'parser')).toEqual(ref);
      if (models[name]?.allParsed) expect(layout(p, 'parser-strict')).toEqual(ref);
      else expect(layout(p, 'parser-strict')).toBeNull();
    });
  }

  it('a header continued in a second chunk is parsed (attrs.h5 cube has 30 attributes)', () => {
    const p = join(dir, 'attrs.h5');
    const f = File.open(p);
    f.close();
    const ref = layout(p, 'libhdf5')!;
    const cube = ref.find((r) => r[0] === '/cube')!;
    expect(cube[2]).toEqual([2, 3, 4]);
    // Only the big-endian dataset needs libhdf5; strict therefore declines, auto agrees.
    expect(layout(p, 'parser-strict')).toBeNull();
    expect(layout(p, 'parser')).toEqual(ref);
  });

  it('loadModel without verify maps every tensor of a parsed model and gives the saved values', async () => {
    const m = await loadModel(join(dir, 'dtypes.h5'), { verify: false });
    try {
      for (const d of DTYPES) {
        const want = models.dtypes!.tensors[`t/${d}`]!;
        const got = m.tensors.get(`t/${d}`)!;
        expect(got.shape).toEqual(want.shape);
        expect(Buffer.from(got.data.buffer, got.data.byteOffset, got.data.byteLength)).toEqual(
          Buffer.from(want.data.buffer, want.data.byteOffset, want.data.byteLength),
        );
      }
      expect(m.views.size).toBe(DTYPES.length);
    } finally {
      m.close();
    }
  });
});
