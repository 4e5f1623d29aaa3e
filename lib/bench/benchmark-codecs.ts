import { itemSize, type NumericDType } from '../h5/dtypes.js';
import type { BloscCompressor, Compression, CompressionName, CreateDatasetOptions } from '../h5/group.js';

export interface CodecConfig {
  /** 'none', 'gzip-4+shuffle', 'lz4+shuffle', 'szip', 'blosc-lz4+bitshuffle', ... */
  name: string;
  compression: CompressionName;
  /** gzip level (1-9), zstd level (1-22, also bitshuffle+zstd) or blosc clevel (0-9); undefined for other codecs. */
  level?: number;
  /** A shuffle is applied: the HDF5 shuffle filter, or for a codec that shuffles inside (blosc) its byte or bit shuffle. */
  shuffle: boolean;
  /** The codec's own bit shuffle (blosc '+bitshuffle'). */
  bitshuffle?: boolean;
  /** The codec's inner compressor ('blosc-zstd': 'zstd'; 'bitshuffle+zstd': 'zstd'). */
  inner?: string;
}

type ShuffleSuffix = 'shuffle' | 'bitshuffle';

/**
 * The codec families a configuration name can start with. A codec joins the
 * benchmark with one entry here (and its default configurations in
 * DEFAULT_CODECS): its level range, inner compressors, which '+...' suffixes
 * it takes and the createDataset compression option it stands for.
 */
interface Family {
  /** Level range and default; absent: the name takes no level. */
  level?: { min: number; max: number; def: number };
  /** Inner compressors, named after the family ('blosc-lz4'); the name must give one. */
  inner?: readonly string[];
  /** '+shuffle' / '+bitshuffle' suffixes the family takes. */
  suffixes: readonly ShuffleSuffix[];
  /** The suffix is the codec's own shuffle (inside the filter), not the HDF5 shuffle filter in front of it. */
  ownShuffle?: boolean;
  options(c: CodecConfig): Exclude<Compression, string> | CompressionName;
}

const FAMILIES: Record<string, Family> = {
  none: { suffixes: [], options: () => 'none' },
  gzip: {
    level: { min: 1, max: 9, def: 4 },
    suffixes: ['shuffle'],
    options: (c) => ({ name: 'gzip', level: c.level ?? 4 }),
  },
  lzf: { suffixes: ['shuffle'], options: () => 'lzf' },
  lz4: { suffixes: ['shuffle'], options: () => 'lz4' },
  zstd: {
    level: { min: 1, max: 22, def: 3 },
    suffixes: ['shuffle'],
    options: (c) => ({ name: 'zstd', level: c.level ?? 3 }),
  },
  blosc: {
    level: { min: 0, max: 9, def: 5 },
    inner: ['lz4', 'zstd', 'blosclz', 'lz4hc', 'zlib'],
    suffixes: ['shuffle', 'bitshuffle'],
    ownShuffle: true,
    options: (c) => ({
      name: 'blosc',
      compressor: c.inner as BloscCompressor,
      level: c.level ?? 5,
      shuffle: c.bitshuffle ? 'bit' : c.shuffle ? 'byte' : 'none',
    }),
  },
  // HDF5 filter 32008: its own bit transpose, then LZ4 or zstd. Named
  // 'bitshuffle+lz4' / 'bitshuffle+zstd[-level]' after hdf5plugin's usage (parsed
  // by parseBitshuffle), so it takes no '+shuffle' suffix.
  bitshuffle: {
    level: { min: 1, max: 22, def: 3 },
    suffixes: [],
    ownShuffle: true,
    options: (c) =>
      c.inner === 'zstd'
        ? { name: 'bitshuffle', compressor: 'zstd', level: c.level ?? 3 }
        : { name: 'bitshuffle', compressor: 'lz4' },
  },
  szip: { suffixes: ['shuffle'], options: () => 'szip' },
};

/** Every configuration `h5vault bench` measures by default, in table order. */
export const DEFAULT_CODECS: readonly string[] = [
  'none',
  'gzip-1',
  'gzip-1+shuffle',
  'gzip-4',
  'gzip-4+shuffle',
  'gzip-9',
  'gzip-9+shuffle',
  'lzf',
  'lzf+shuffle',
  'lz4',
  'lz4+shuffle',
  'zstd-1',
  'zstd-3',
  'zstd-3+shuffle',
  'zstd-9+shuffle',
  'blosc-lz4+shuffle',
  'blosc-lz4+bitshuffle',
  'blosc-zstd+shuffle',
  'blosc-zstd+bitshuffle',
  'bitshuffle+lz4',
  'bitshuffle+zstd-3',
  'szip',
];

/**
 * Parses configuration names. A name is `codec[-inner][-level][+shuffle|+bitshuffle]`
 * ('gzip-1+shuffle', 'lz4', 'none', 'blosc-zstd-5+bitshuffle'; bare 'gzip' is
 * gzip-4, bare 'zstd' zstd-3, 'blosc-lz4' level 5 without shuffle), or
 * `bitshuffle+lz4` / `bitshuffle+zstd[-level]` (HDF5 filter 32008), `family*`
 * ('gzip*', 'blosc*') means every default configuration of that family and
 * `all` means DEFAULT_CODECS.
 */
export function parseCodecs(names: readonly string[]): CodecConfig[] {
  const out: CodecConfig[] = [];
  const push = (c: CodecConfig) => {
    if (!out.some((o) => o.name === c.name)) out.push(c);
  };
  for (const raw of names) {
    const name = raw.trim().toLowerCase();
    if (name === '') continue;
    if (name === 'all' || name.endsWith('*')) {
      const fam = name === 'all' ? '' : name.slice(0, -1);
      const family = DEFAULT_CODECS.filter((d) => fam === '' || d.split(/[-+]/)[0] === fam);
      if (family.length === 0)
        throw new RangeError(
          `unknown codec family '${name}' (${Object.keys(FAMILIES)
            .map((f) => `${f}*`)
            .join(', ')}, all)`,
        );
      family.forEach((f) => {
        push(parseOne(f));
      });
      continue;
    }
    push(parseOne(name));
  }
  if (out.length === 0) throw new RangeError('no codec configurations given');
  return out;
}

/** 'bitshuffle', 'bitshuffle+lz4', 'bitshuffle+zstd[-level]'; undefined for other names. */
function parseBitshuffle(name: string): CodecConfig | undefined {
  const b = /^bitshuffle(?:\+(lz4|zstd)(?:-(\d{1,2}))?)?$/.exec(name);
  if (!b) return undefined;
  const inner = (b[1] ?? 'lz4') as 'lz4' | 'zstd';
  if (inner === 'lz4' && b[2] !== undefined) throw new RangeError(`bitshuffle+lz4 takes no level (in '${name}')`);
  const level = inner === 'zstd' ? (b[2] === undefined ? 3 : Number(b[2])) : undefined;
  if (level !== undefined && (level < 1 || level > 22))
    throw new RangeError(`zstd level must be from 1 to 22 (in '${name}')`);
  const canonical = `bitshuffle+${inner}${level !== undefined ? `-${level}` : ''}`;
  return { name: canonical, compression: 'bitshuffle', level, shuffle: false, inner };
}

function parseOne(name: string): CodecConfig {
  const bitshuffle = parseBitshuffle(name);
  if (bitshuffle) return bitshuffle;
  const m = /^([a-z0-9]+)(?:-([a-z][a-z0-9]*))?(?:-(\d{1,2}))?(?:\+(shuffle|bitshuffle))?$/.exec(name);
  const bad = () =>
    new RangeError(
      `unknown codec configuration '${name}' (use codec[-inner][-level][+shuffle|+bitshuffle] or bitshuffle+lz4|zstd[-level], e.g. none, gzip-4+shuffle, lz4, zstd-3, blosc-lz4+bitshuffle, bitshuffle+zstd-3, szip)`,
    );
  const fam = m ? FAMILIES[m[1]!] : undefined;
  if (!m || !fam || !Object.hasOwn(FAMILIES, m[1]!)) throw bad();
  const compression = m[1] as CompressionName;
  const inner = m[2];
  const suffix = m[4] as ShuffleSuffix | undefined;
  if (fam.inner) {
    if (inner === undefined || !fam.inner.includes(inner))
      throw new RangeError(
        `'${name}': ${compression} needs an inner compressor: ${fam.inner.join(', ')} (e.g. ${compression}-${fam.inner[0]})`,
      );
  } else if (inner !== undefined) {
    throw bad();
  }
  let level: number | undefined;
  if (fam.level) {
    level = m[3] === undefined ? fam.level.def : Number(m[3]);
    if (level < fam.level.min || level > fam.level.max)
      throw new RangeError(`${compression} level must be from ${fam.level.min} to ${fam.level.max} (in '${name}')`);
  } else if (m[3] !== undefined) {
    throw bad();
  }
  if (compression === 'none' && suffix)
    throw new RangeError("'none+shuffle' is not a configuration: shuffle only helps a compressor");
  if (suffix && !fam.suffixes.includes(suffix)) throw bad();
  // Blosc's default level is left out of the name, as gzip's and zstd's are kept in: 'blosc-lz4+shuffle'.
  const shownLevel = level !== undefined && !(fam.inner && level === fam.level?.def) ? `-${level}` : '';
  const canonical = `${compression}${inner ? `-${inner}` : ''}${shownLevel}${suffix ? `+${suffix}` : ''}`;
  return {
    name: canonical,
    compression,
    level,
    shuffle: suffix !== undefined,
    ...(suffix === 'bitshuffle' ? { bitshuffle: true } : {}),
    ...(inner ? { inner } : {}),
  };
}

/**
 * A chunk shape of about `targetBytes`: trailing dimensions are kept whole
 * while they fit (rows stay contiguous), the first dimension that does not
 * fit is split. Never larger than the shape (libhdf5 rejects that), never 0.
 */
export function chunkShapeFor(shape: readonly number[], bytesPerItem: number, targetBytes: number): number[] {
  const chunk = shape.map((n) => Math.max(1, n));
  let inner = bytesPerItem;
  for (let i = shape.length - 1; i >= 0; i--) {
    const full = inner * Math.max(1, shape[i]!);
    if (full > targetBytes) {
      chunk[i] = Math.max(1, Math.min(Math.max(1, shape[i]!), Math.floor(targetBytes / inner)));
      for (let j = 0; j < i; j++) chunk[j] = 1;
      return chunk;
    }
    inner = full;
  }
  return chunk;
}

/** Dataset creation options for a tensor under a configuration. */
export function datasetOptions(
  t: { dtype: NumericDType; shape: number[] },
  c: CodecConfig,
  chunkBytes: number,
): CreateDatasetOptions {
  const o: CreateDatasetOptions = { dtype: t.dtype, shape: t.shape };
  // Scalars and empty tensors cannot be chunked usefully: stored as is.
  if (c.compression === 'none' || t.shape.length === 0 || t.shape.some((n) => n === 0)) return o;
  const chunks = chunkShapeFor(t.shape, itemSize(t.dtype), chunkBytes);
  const fit = codecFit(t, c, chunkBytes);
  // A codec that cannot apply to this tensor (szip on a one-element chunk)
  // leaves it stored as is; the report counts such tensors.
  if (fit.fit === 'skipped') return o;
  const fam = FAMILIES[c.compression]!;
  const opts = fam.options(c);
  o.compression = c.compression === 'szip' ? { name: 'szip', pixelsPerBlock: fit.pixelsPerBlock } : opts;
  // A codec that shuffles inside (blosc) gets no HDF5 shuffle filter in front.
  o.shuffle = c.shuffle && !fam.ownShuffle;
  o.chunks = chunks;
  return o;
}

/** szip's block size, in elements, unless a chunk holds fewer (libhdf5 refuses that). */
const SZIP_PIXELS_PER_BLOCK = 32;

/**
 * Whether a configuration applies to a tensor as named: szip needs an even
 * pixelsPerBlock of 2 to 32 that fits in a chunk, so the small tensors of
 * real models (Keras biases of 5 elements, 1-element counters) get a smaller
 * block ('adapted') or, with a one-element chunk, no szip at all ('skipped').
 */
export function codecFit(
  t: { dtype: NumericDType; shape: number[] },
  c: CodecConfig,
  chunkBytes: number,
): { fit: 'ok' | 'adapted' | 'skipped'; pixelsPerBlock?: number } {
  if (c.compression !== 'szip' || t.shape.length === 0 || t.shape.some((n) => n === 0)) return { fit: 'ok' };
  const perChunk = chunkShapeFor(t.shape, itemSize(t.dtype), chunkBytes).reduce((a, b) => a * b, 1);
  if (perChunk >= SZIP_PIXELS_PER_BLOCK) return { fit: 'ok', pixelsPerBlock: SZIP_PIXELS_PER_BLOCK };
  if (perChunk < 2) return { fit: 'skipped' };
  return { fit: 'adapted', pixelsPerBlock: perChunk - (perChunk % 2) };
}
