/** NamedDatatype: a committed (named) datatype stored in a file, with its attributes. */
import type { ObjHandle } from '../addon/binding.js';
import { Attributes } from './attrs.js';

export class NamedDatatype {
  readonly kind = 'datatype' as const;
  /** Absolute path in the file. */
  readonly path: string;
  /** The attributes stored on the datatype object. */
  readonly attrs: Attributes;
  /** @internal */
  readonly handle: ObjHandle;

  /** @internal */
  constructor(handle: ObjHandle, path: string) {
    this.handle = handle;
    this.path = path;
    this.attrs = new Attributes(() => this.handle);
  }

  get name(): string {
    return this.path.slice(this.path.lastIndexOf('/') + 1);
  }

  toString(): string {
    return `<NamedDatatype ${this.path}>`;
  }
}
