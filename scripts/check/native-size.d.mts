// Types of native-size.mjs, for the tests that import it.
export const MAX_FILE_LINES: number;
export const MAX_FUNCTION_LINES: number;
export const PENDING: Record<string, number>;
export interface NativeFunction {
  name: string;
  start: number;
  end: number;
  lines: number;
}
export function blank(src: string): string;
export function functions(src: string): NativeFunction[];
export function measure(root: string): {
  files: { file: string; lines: number }[];
  functions: (NativeFunction & { file: string })[];
};
export function sizeProblems(root: string, pending?: Record<string, number>): { problems: string[]; stale: string[] };
export const LIB_PENDING: Record<string, number>;
export function libSizeProblems(root: string, pending?: Record<string, number>): { problems: string[]; stale: string[] };
