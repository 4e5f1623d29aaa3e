// The Keras config JSON is parsed within a budget (issue 21 #11): config.json
// of a .keras archive and the model_config attribute of a Keras 2 .h5 are
// refused when nested deeper than 127 levels (H5_LIMIT_EXCEEDED, the limit
// named) instead of parsed, and a 10 MB nesting bomb costs little memory.
import { execFileSync } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { H5Error, loadKeras } from '../../lib/index.js';
import { PYTHON, requirePeers, tempDir } from '../helpers.js';
import { childPeak } from '../child-peak.js';

requirePeers();
const dir = tempDir('h5vault-keras-budget-');
const FIXTURES = join(process.cwd(), 'test', 'fixtures', 'keras');

/** A copy of the real .keras fixture whose config.json is `depth` nested arrays (deflated: a 10 MB bomb is a few KB). */
function kerasWithConfig(name: string, depth: number): string {
  const p = join(dir, name);
  execFileSync(PYTHON, [
    '-c',
    `
import zipfile, sys
src, dst, d = sys.argv[1], sys.argv[2], int(sys.argv[3])
zin = zipfile.ZipFile(src)
with zipfile.ZipFile(dst, 'w') as zout:
    for i in zin.infolist():
        data = (b'[' * d + b']' * d) if i.filename == 'config.json' else zin.read(i.filename)
        zout.writestr(i, data, compress_type=zipfile.ZIP_DEFLATED if i.filename == 'config.json' else i.compress_type)
`,
    join(FIXTURES, 'flownet_25-06_model.keras'),
    p,
    String(depth),
  ]);
  return p;
}

describe('Keras config JSON budget', () => {
  it('config.json nested 127 deep is read; 128 deep is H5_LIMIT_EXCEEDED naming the depth limit', async () => {
    using ok = await loadKeras(kerasWithConfig('d127.keras', 127));
    expect(Array.isArray(ok.config)).toBe(true);
    const e = (await loadKeras(kerasWithConfig('d128.keras', 128)).catch((x: unknown) => x)) as H5Error & {
      limit: string;
      max: number;
    };
    expect(e).toBeInstanceOf(H5Error);
    expect([e.code, e.limit, e.max]).toEqual(['H5_LIMIT_EXCEEDED', 'depth', 127]);
    expect(e.message).toMatch(/config\.json is over budget: nesting deeper than 127 levels/);
  });

  it('a Keras 2 .h5 whose model_config attribute is nested 30,000 deep is refused the same way', async () => {
    const p = join(dir, 'deep-model-config.h5');
    copyFileSync(join(FIXTURES, 'simple_lstm_tf_keras_2_model.h5'), p);
    execFileSync(PYTHON, [
      '-c',
      `
import h5py, sys
with h5py.File(sys.argv[1], 'r+') as f:
    f.attrs['model_config'] = (b'[' * 30000 + b']' * 30000)
`,
      p,
    ]);
    const e = (await loadKeras(p).catch((x: unknown) => x)) as H5Error & { limit: string };
    expect([e.code, e.limit]).toEqual(['H5_LIMIT_EXCEEDED', 'depth']);
  });

  it('a 10 MB nesting bomb in config.json is refused with a small peak memory (JSON.parse of it took ~570 MB)', () => {
    const p = kerasWithConfig('bomb.keras', 5_000_000);
    const out = childPeak(
      `
      const { loadKeras } = await import(DIST + '/index.js');
      const e = await loadKeras(process.env.P).then(() => null, (x) => x);
      out.result = e && [e.code, e.limit].join(' ');`,
      { P: p },
    );
    expect(out.result).toBe('H5_LIMIT_EXCEEDED depth');
    expect(out.growthMb).toBeLessThan(150);
  });
});
