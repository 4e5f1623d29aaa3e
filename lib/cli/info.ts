/** `h5vault info FILE`: file-level summary, plus model metadata/provenance from root attributes. */
import type { Command } from './command.js';
import type { AttrReadValue } from '../h5/attrs.js';
import { libraryInfo } from '../h5/runtime.js';
import { INPUT_OPTIONS, parse } from './args.js';
import { EXIT, formatBytes, Output, table } from './output.js';
import {
  errorSummary,
  isUnsupported,
  openFileBytes,
  openInput,
  pipelineName,
  summarize,
  walkTree,
  type ErrorSummary,
} from './tree.js';
import { parseStoredJson } from '../safety/budget.js';

const USAGE = `Usage: h5vault info FILE [--untrusted] [--json] [--endpoint URL] [--region R]

File-level summary: size on disk, groups, datasets, logical and stored bytes,
overall compression ratio, dtypes, filter pipelines, how many datasets can be
viewed zero-copy, and the root attributes (model metadata and provenance;
JSON strings are decoded). --untrusted: see 'h5vault ls --help'. FILE may be
s3://bucket/key, read lazily (see 'h5vault ls --help').
An object or attribute that cannot be read is listed with its error code
and the rest is still summarised. Exit 0 when everything was read or only
holds values of types h5vault cannot represent yet (H5_UNSUPPORTED_TYPE,
listed), 1 when an object could not be read (damaged), 3 when the file
cannot be opened.`;

/** Attribute values for display: JSON-looking strings decoded, long arrays summarised. */
export function attrForJson(v: AttrReadValue): unknown {
  if (typeof v === 'string' && /^\s*[[{]/.test(v)) {
    try {
      return parseStoredJson(v);
    } catch {
      return v;
    }
  }
  return v;
}

export function attrForHuman(v: AttrReadValue, max = 72): string {
  let s: string;
  if (ArrayBuffer.isView(v)) {
    const items = Array.from(v as unknown as ArrayLike<number | bigint>)
      .slice(0, 8)
      .map(String);
    s = `[${items.join(', ')}${v.length > 8 ? `, … (${v.length} values)` : ''}]`;
  } else if (Array.isArray(v)) {
    s = JSON.stringify(v.length > 8 ? [...v.slice(0, 8), `… (${v.length} values)`] : v);
  } else if (typeof v === 'string') {
    s = v.replace(/\s+/g, ' ');
  } else {
    s = String(v);
  }
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

function isFailure(v: unknown): v is { error: ErrorSummary } {
  return typeof v === 'object' && v !== null && !ArrayBuffer.isView(v) && !Array.isArray(v) && 'error' in v;
}

function countBy(xs: string[]): Record<string, number> {
  const m: Record<string, number> = {};
  for (const x of xs) m[x] = (m[x] ?? 0) + 1;
  return m;
}

export const command: Command = {
  summary: 'file summary: sizes, ratio, dtypes, filters, model metadata and provenance',
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parse(argv, INPUT_OPTIONS, { min: 1, max: 1, names: 'FILE' });
    const out = new Output(values);
    const file = positionals[0]!;
    const f = await openInput(file, values.untrusted, values);
    try {
      let groups = 0;
      let links = 0;
      const datasets = [];
      const errors: ({ path: string } & ErrorSummary)[] = [];
      for (const e of walkTree(f)) {
        if (e.kind === 'group') groups++;
        else if (e.kind === 'link') links++;
        else if (e.kind === 'error') errors.push({ path: e.path, ...e.error });
        else {
          try {
            datasets.push(summarize(e.obj));
          } catch (err) {
            errors.push({ path: e.path, ...errorSummary(err) });
          }
        }
      }
      const logical = datasets.reduce((a, d) => a + d.byteLength, 0);
      const stored = datasets.reduce((a, d) => a + d.storageSize, 0);
      // One attribute h5vault cannot decode is reported in place of its value, never fatal.
      const attrs: Record<string, AttrReadValue | { error: ErrorSummary }> = {};
      try {
        for (const k of f.attrs.keys()) {
          try {
            attrs[k] = f.attrs.get(k);
          } catch (err) {
            attrs[k] = { error: errorSummary(err) };
            errors.push({ path: `/@${k}`, ...errorSummary(err) });
          }
        }
      } catch (err) {
        errors.push({ path: '/', ...errorSummary(err) });
      }
      const damaged = errors.some((e) => !isUnsupported(e.code));
      const info = {
        file,
        fileBytes: f.remote ? f.remote.size : openFileBytes(f),
        hdf5Library: libraryInfo().hdf5,
        groups,
        datasets: datasets.length,
        links,
        logicalBytes: logical,
        storedBytes: stored,
        ratio: stored > 0 ? logical / stored : null,
        dtypes: countBy(datasets.map((d) => d.dtype)),
        filters: countBy(datasets.map((d) => pipelineName(d.filters))),
        viewable: datasets.filter((d) => d.viewable === true).length,
        notViewable: countBy(datasets.filter((d) => d.viewable !== true).map((d) => String(d.viewable))),
        attributes: Object.fromEntries(Object.entries(attrs).map(([k, v]) => [k, isFailure(v) ? v : attrForJson(v)])),
        errors,
      };
      if (out.json) {
        out.emitJson(f.remote ? { ...info, remote: f.remote } : info);
        return damaged ? EXIT.FAILURE : EXIT.OK;
      }
      const fmtCounts = (m: Record<string, number>) =>
        Object.entries(m)
          .map(([k, n]) => `${k} x${n}`)
          .join(', ') || '-';
      const rows: [string, string][] = [
        ['file', `${file} (${formatBytes(info.fileBytes)}${f.remote ? ' remote' : ' on disk'})`],
        ['objects', `${groups} groups, ${datasets.length} datasets${links ? `, ${links} links not followed` : ''}`],
        [
          'data',
          `${formatBytes(logical)} logical, ${formatBytes(stored)} stored${info.ratio ? `, ratio ${info.ratio.toFixed(2)}x` : ''}`,
        ],
        ['dtypes', fmtCounts(info.dtypes)],
        ['filters', fmtCounts(info.filters)],
        [
          'zero-copy',
          `${info.viewable} of ${datasets.length} datasets viewable${Object.keys(info.notViewable).length ? ` (others: ${fmtCounts(info.notViewable)})` : ''}`,
        ],
        ['libhdf5', info.hdf5Library],
      ];
      for (const [k, v] of rows) out.line(`${out.style(k.padEnd(10), 'bold')} ${v}`);
      const keys = Object.keys(attrs);
      out.line();
      if (keys.length === 0) {
        out.line(out.style('no root attributes (no model metadata or provenance recorded)', 'dim'));
      } else {
        out.line(out.style('root attributes (model metadata / provenance)', 'bold'));
        out.line(
          table(
            ['name', 'value'],
            keys.map((k) => {
              const v = attrs[k]!;
              return [k, isFailure(v) ? out.style(`(cannot read: ${v.error.code})`, 'yellow') : attrForHuman(v)];
            }),
            ['l', 'l'],
            out,
          ),
        );
      }
      if (errors.length) {
        out.line();
        out.line(
          out.style(
            `could not read ${errors.length} object${errors.length > 1 ? 's or attributes' : ' or attribute'}`,
            'bold',
          ),
        );
        for (const e of errors)
          out.line(out.style(`  ${e.path}: [${e.code}] ${e.message}`, isUnsupported(e.code) ? 'yellow' : 'red'));
      }
      return damaged ? EXIT.FAILURE : EXIT.OK;
    } finally {
      f.close();
    }
  },
};
