/**
 * The one name rule (docs/architecture.md, "One name rule"): every name a
 * caller hands h5vault (tensor, dataset, group, attribute, link and store
 * names, and the paths that look objects up) is checked here, before any file
 * is touched, with one message format: `<kind> name <JSON> <problem>`.
 *
 * A violation is a TypeError (the caller passed an unusable argument: what
 * the path, tensor and store checks always threw) that also carries
 * `code: 'H5_INVALID_ARGUMENT'` (the code docs/errors.md gave a NUL in a
 * name, which libhdf5 would have cut: code that switches on it keeps
 * working), `kind` and `value` (the name). Names read from a file (a
 * safetensors header, an ONNX initializer) are the file's data, not an
 * argument: their readers use `nameProblem` and raise their format's H5Error
 * naming the entry.
 *
 * Every kind: a non-empty string, no NUL (libhdf5 takes C strings: a NUL
 * would cut the name and address another object), well-formed Unicode (a
 * lone UTF-16 surrogate cannot be UTF-8: it would be stored as U+FFFD, a
 * different name, and the file would no longer match what it claims).
 */

/** What a name names; the word that starts every message. */
export type NameKind =
  | 'tensor'
  | 'dataset'
  | 'group'
  | 'link'
  | 'path'
  | 'attribute'
  | 'model'
  | 'safetensors tensor'
  | 'metadata key';

// Control characters would make the canonical digest text of a model
// ambiguous (tab and newline are its separators) and are unreadable in h5dump.
// biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting C0 controls and DEL in names is the point of this regex
const CONTROL = /[\u0000-\u001f\u007f]/;
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;
/** Store names are directory names and S3 key segments: portable, no path syntax. */
export const STORE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

function common(name: unknown): string | null {
  if (typeof name !== 'string') return 'must be a string';
  if (name === '') return 'must not be empty';
  const nul = name.indexOf('\0');
  if (nul >= 0) return `contains a NUL character (at index ${nul})`;
  // With the u flag a surrogate pair is one code point, so this finds only
  // lone surrogates (String.prototype.isWellFormed, without needing ES2024 typings).
  const lone = LONE_SURROGATE.exec(name);
  if (lone) return `is not well-formed Unicode (a lone surrogate at index ${lone.index}): it cannot be stored as UTF-8`;
  return null;
}

/**
 * HDF5 object paths: '/'-separated segments, a leading '/' for an absolute
 * path ('/' alone is the root), no empty segment ('a//b', a trailing '/'),
 * no '.' or '..' (libhdf5 has no parent links: '..' would be a link named
 * '..', and a path that reads like a relative filesystem path is refused
 * rather than guessed at).
 */
function pathProblem(name: string): string | null {
  if (name === '/') return null;
  const body = name.startsWith('/') ? name.slice(1) : name;
  for (const seg of body.split('/')) {
    if (seg === '' || seg === '.' || seg === '..')
      return "must be '/'-separated non-empty segments without '.' or '..'";
  }
  return null;
}

/** Why `name` breaks the rule for `kind`, or null if it is a good name. */
export function nameProblem(kind: NameKind, name: unknown): string | null {
  const c = common(name);
  if (c !== null) return c;
  const s = name as string;
  switch (kind) {
    case 'attribute':
    case 'safetensors tensor':
    case 'metadata key':
      // Not paths: '/' and '.' are ordinary characters in attribute names and
      // in safetensors keys ('model.layers.0.weight', 'a/b' alike).
      return null;
    case 'model':
      return STORE_NAME_RE.test(s) ? null : `must match ${STORE_NAME_RE} (letters, digits, '.', '_', '-')`;
    case 'tensor':
      // One tensor, one spelling: no leading '/', which would be the same dataset.
      if (CONTROL.test(s)) return 'contains a control character';
      if (s.startsWith('/')) return "must be '/'-separated non-empty segments without '.' or '..' (and no leading '/')";
      return pathProblem(s);
    default:
      return pathProblem(s);
  }
}

/** A name that breaks the rule: a TypeError with a stable code, the kind of name and the name. */
export class InvalidNameError extends TypeError {
  readonly code = 'H5_INVALID_ARGUMENT';
  constructor(
    message: string,
    readonly kind: NameKind,
    readonly value: unknown,
  ) {
    super(message);
  }
}

/** The rule's error: `<kind> name <JSON> <problem>`. */
export function nameError(kind: NameKind, name: unknown, problem: string): InvalidNameError {
  if (typeof name !== 'string')
    return new InvalidNameError(`${kind} name ${problem}, got ${name === null ? 'null' : typeof name}`, kind, name);
  return new InvalidNameError(`${kind} name ${JSON.stringify(name)} ${problem}`, kind, name);
}

/** Throws the rule's error when `name` is not a good `kind` name. */
export function checkName(kind: NameKind, name: unknown): asserts name is string {
  const p = nameProblem(kind, name);
  if (p !== null) throw nameError(kind, name, p);
}

/** A tensor name (saveModel, ModelStore.save, saveSafetensors, convert outputs). */
export function checkTensorName(name: unknown): asserts name is string {
  checkName('tensor', name);
}
/** An HDF5 object path given to create or look up a dataset, group or link. */
export function checkObjectPath(kind: 'dataset' | 'group' | 'link' | 'path', name: unknown): asserts name is string {
  checkName(kind, name);
}
/** An HDF5 attribute name. */
export function checkAttributeName(name: unknown): asserts name is string {
  checkName('attribute', name);
}
/** A ModelStore / S3ModelStore model name. */
export function checkStoreName(name: unknown): asserts name is string {
  checkName('model', name);
}
