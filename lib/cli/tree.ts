/**
 * Walking a file for the CLI commands (ls, info, verify, repack): every group
 * and dataset reachable through hard links, once each, in name order; soft,
 * external and dangling links are reported but never followed.
 */
import { native } from '../addon/binding.js';
import { File } from '../h5/file.js';
import { Dataset } from '../h5/dataset.js';
import { H5Error } from '../errors.js';
import type { Group, LinkInfo } from '../h5/group.js';
import { isS3Url } from '../remote/url.js';
import { fileStampOf } from '../safety/untrusted.js';
import type { Values } from './args.js';

/**
 * Opens a file for reading; with `untrusted` it is first walked in a limited
 * child process, so a malformed file that would crash libhdf5 is refused
 * (H5_UNSAFE_FILE) instead of taking the CLI down.
 */
export async function openInput(path: string, untrusted: unknown, values: Values = {}): Promise<File> {
  if (isS3Url(path)) {
    // Read lazily: only the blocks the command touches are fetched.
    const { endpoint, region } = values;
    return File.openAsync(path, {
      ...(untrusted ? { untrusted: true } : {}),
      ...(typeof endpoint === 'string' ? { endpoint } : {}),
      ...(typeof region === 'string' ? { region } : {}),
    });
  }
  return untrusted ? File.openAsync(path, { untrusted: true }) : File.open(path);
}

/**
 * Size in bytes of the file an open local File holds: libhdf5's descriptor's,
 * never the path's again (the path may name another file by then).
 */
export function openFileBytes(f: File): number {
  return Number(fileStampOf(f).size);
}

export type TreeEntry =
  | { kind: 'group'; path: string; name: string; depth: number; obj: Group }
  | { kind: 'dataset'; path: string; name: string; depth: number; obj: Dataset }
  /** A link that is not followed: soft, external, dangling, a named datatype, or a second hard link to an object already listed. */
  | {
      kind: 'link';
      path: string;
      name: string;
      depth: number;
      link: LinkInfo['link'];
      target: LinkInfo['kind'] | 'seen';
    }
  /** An object (or a group's link table) that could not be read: listed with its typed error, and the walk goes on. */
  | { kind: 'error'; path: string; name: string; depth: number; error: ErrorSummary };

/** An error as the CLI reports it (JSON and text): the H5Error code, or the error's name for anything else. */
export interface ErrorSummary {
  code: string;
  message: string;
}

export function errorSummary(e: unknown): ErrorSummary {
  if (e instanceof H5Error) return { code: e.code, message: e.message };
  if (e instanceof Error) return { code: e.name, message: e.message };
  return { code: 'ERROR', message: String(e) };
}

/** Codes that mean "a valid value h5vault cannot represent yet", not damage: listed, never a failure. */
export function isUnsupported(code: string): boolean {
  return code === 'H5_UNSUPPORTED_TYPE';
}

function join(parent: string, name: string): string {
  return parent === '/' ? `/${name}` : `${parent}/${name}`;
}

export function* walkTree(
  root: Group,
  depth = 0,
  seen = new Set<string>([native.objIdentity(root.handle)]),
): Generator<TreeEntry> {
  let links: LinkInfo[];
  try {
    links = root.links();
  } catch (e) {
    yield { kind: 'error', path: root.path, name: root.name, depth, error: errorSummary(e) };
    return;
  }
  for (const l of links) {
    const path = join(root.path, l.name);
    if (l.link !== 'hard' || (l.kind !== 'group' && l.kind !== 'dataset')) {
      yield { kind: 'link', path, name: l.name, depth, link: l.link, target: l.kind };
      continue;
    }
    let obj: Dataset | Group;
    let id: string;
    try {
      obj = root.get(l.name);
      id = native.objIdentity(obj.handle);
    } catch (e) {
      // One object libhdf5 cannot open (a damaged header) must not hide its siblings.
      yield { kind: 'error', path, name: l.name, depth, error: errorSummary(e) };
      continue;
    }
    if (seen.has(id)) {
      yield { kind: 'link', path, name: l.name, depth, link: 'hard', target: 'seen' };
      continue;
    }
    seen.add(id);
    if (obj instanceof Dataset) {
      yield { kind: 'dataset', path, name: l.name, depth, obj };
    } else {
      yield { kind: 'group', path, name: l.name, depth, obj };
      yield* walkTree(obj, depth + 1, seen);
    }
  }
}

export interface DatasetSummary {
  path: string;
  dtype: string;
  shape: number[];
  layout: string;
  chunks: number[] | null;
  filters: string[];
  /** Logical bytes (elements x item size); 0 for strings. */
  byteLength: number;
  /** Bytes allocated in the file. */
  storageSize: number;
  /** byteLength / storageSize, or null when either is 0. */
  ratio: number | null;
  /** true, or why a zero-copy view is impossible. */
  viewable: true | string;
}

export function summarize(ds: Dataset): DatasetSummary {
  const byteLength = ds.byteLength;
  const storageSize = ds.storageSize;
  return {
    path: ds.path,
    dtype: ds.dtype,
    shape: ds.shape,
    layout: ds.layout,
    chunks: ds.chunks,
    filters: ds.filters.map((f) => f.name),
    byteLength,
    storageSize,
    ratio: byteLength > 0 && storageSize > 0 ? byteLength / storageSize : null,
    viewable: ds.viewable,
  };
}

/** 'shuffle+lz4' style name of a filter pipeline; 'none' when empty. */
export function pipelineName(filters: string[]): string {
  return filters.length ? filters.join('+') : 'none';
}
