/** `h5vault ls FILE [PATH]`: the tree of groups and datasets with storage details. */
import type { Command } from './command.js';
import { Dataset } from '../h5/dataset.js';
import { INPUT_OPTIONS, parse } from './args.js';
import { EXIT, formatBytes, formatShape, Output, table } from './output.js';
import {
  errorSummary,
  isUnsupported,
  openInput,
  pipelineName,
  summarize,
  walkTree,
  type DatasetSummary,
  type ErrorSummary,
  type TreeEntry,
} from './tree.js';

type Row =
  | ({ kind: 'dataset' } & DatasetSummary & { attributes: number })
  | { kind: 'group'; path: string; attributes: number; children: number }
  | { kind: 'link'; path: string; link: string; target: string }
  | { kind: 'error'; path: string; error: ErrorSummary };

const USAGE = `Usage: h5vault ls FILE [PATH] [--untrusted] [--json] [--endpoint URL] [--region R]

Lists groups and datasets below PATH (default '/'): dtype, shape, layout,
chunk shape, filters, stored size, compression ratio, and whether a
zero-copy view is possible (or why not). Soft, external and dangling links
are listed, never followed. --untrusted walks the file in a sandboxed child
process first and refuses it (exit 3, H5_UNSAFE_FILE) if it is malformed.
FILE may be s3://bucket/key: only the blocks the listing needs are fetched
(credentials from the AWS chain; --json adds what it cost under 'remote').
An object that cannot be read is listed with its error code and the walk
goes on: exit 1 if any object could not be read, 0 otherwise.`;

/** One walk entry as a row; describing a dataset may itself fail (then it is an error row). */
function rowOf(e: Exclude<TreeEntry, { kind: 'link' } | { kind: 'error' }>): Row {
  try {
    if (e.kind === 'dataset') return { kind: 'dataset', ...summarize(e.obj), attributes: e.obj.attrs.keys().length };
    return { kind: 'group', path: e.path, attributes: e.obj.attrs.keys().length, children: e.obj.keys().length };
  } catch (err) {
    return { kind: 'error', path: e.path, error: errorSummary(err) };
  }
}

export const command: Command = {
  summary: 'tree of groups and datasets with dtype, shape, layout, filters, ratio, viewability',
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parse(argv, INPUT_OPTIONS, { min: 1, max: 2, names: 'FILE [PATH]' });
    const out = new Output(values);
    const [file, start = '/'] = positionals as [string, string?];
    const f = await openInput(file, values.untrusted, values);
    try {
      const rows: Row[] = [];
      const depthOf = new Map<string, number>();
      const root = start === '/' ? f : f.get(start);
      if (root instanceof Dataset) {
        rows.push({ kind: 'dataset', ...summarize(root), attributes: root.attrs.keys().length });
        depthOf.set(root.path, 0);
      } else {
        rows.push({
          kind: 'group',
          path: root.path,
          attributes: root.attrs.keys().length,
          children: root.keys().length,
        });
        depthOf.set(root.path, 0);
        for (const e of walkTree(root)) {
          depthOf.set(e.path, e.depth + 1);
          if (e.kind === 'link') rows.push({ kind: 'link', path: e.path, link: e.link, target: e.target });
          else if (e.kind === 'error') rows.push({ kind: 'error', path: e.path, error: e.error });
          else rows.push(rowOf(e));
        }
      }
      const failed = rows.some((r) => r.kind === 'error' && !isUnsupported(r.error.code));
      if (out.json) {
        out.emitJson({ file, path: root.path, entries: rows, ...(f.remote ? { remote: f.remote } : {}) });
        return failed ? EXIT.FAILURE : EXIT.OK;
      }
      const body = rows.map((r) => {
        const depth = depthOf.get(r.path) ?? 0;
        const base = r.path === '/' ? '/' : r.path.slice(r.path.lastIndexOf('/') + 1);
        const name = '  '.repeat(depth) + (r.kind === 'group' && r.path !== '/' ? `${base}/` : base);
        if (r.kind === 'group')
          return [
            out.style(name, 'bold'),
            out.style(`group, ${r.children} members`, 'dim'),
            '',
            '',
            '',
            '',
            '',
            '',
            '',
          ];
        if (r.kind === 'error')
          return [
            out.style(name, 'red'),
            out.style(`cannot read: [${r.error.code}] ${r.error.message}`, 'red'),
            '',
            '',
            '',
            '',
            '',
            '',
            '',
          ];
        if (r.kind === 'link') {
          const what =
            r.target === 'seen'
              ? 'hard link to an object listed above'
              : `${r.link} link${r.target === 'dangling' ? ' (dangling)' : ''}`;
          return [out.style(name, 'cyan'), out.style(`-> ${what}`, 'dim'), '', '', '', '', '', '', ''];
        }
        const view = r.viewable === true ? out.style('yes', 'green') : out.style(`no: ${r.viewable}`, 'dim');
        return [
          name,
          r.dtype,
          formatShape(r.shape),
          r.layout,
          r.chunks ? formatShape(r.chunks) : '-',
          pipelineName(r.filters),
          formatBytes(r.storageSize),
          r.ratio === null ? '-' : `${r.ratio.toFixed(2)}x`,
          view,
        ];
      });
      out.line(
        table(
          ['name', 'dtype', 'shape', 'layout', 'chunks', 'filters', 'stored', 'ratio', 'view'],
          body,
          ['l', 'l', 'l', 'l', 'l', 'l', 'r', 'r', 'l'],
          out,
        ),
      );
      return failed ? EXIT.FAILURE : EXIT.OK;
    } finally {
      f.close();
    }
  },
};
