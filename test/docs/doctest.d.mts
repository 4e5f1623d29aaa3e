// Types of doctest.mjs (plain JavaScript so that every Node line runs it).
export interface DocBlock {
  file: string;
  line: number;
  lang: string;
  code: string;
  after: boolean;
  continues: boolean;
  skip: string | undefined;
}
export interface DocProgram {
  id: string;
  file: string;
  line: number;
  ts: boolean;
  cjs: boolean;
  code: string;
  dir: string;
  skip: string | undefined;
}
export interface DocFailure {
  id: string;
  where: string;
  stage: 'typecheck' | 'run';
  output: string;
}
export interface DocRun {
  programs: DocProgram[];
  ran: string[];
  skipped: { id: string; where: string; reason: string }[];
  typechecked: string[];
  failures: DocFailure[];
  thirdParty: string[];
}
export const REPO: string;
export const STRICT_OPTIONS: Record<string, unknown>;
export function docFiles(repo?: string): string[];
export function extractBlocks(file: string, text: string): DocBlock[];
export function programsOf(blocks: DocBlock[]): DocProgram[];
export function collectPrograms(repo?: string, filters?: string[]): DocProgram[];
export function userProject(repo?: string, prefix?: string, deps?: string[]): string;
export function tsc(root: string, node?: string, repo?: string): Promise<{ status: number | null; output: string }>;
export function runDocs(options: {
  repo?: string;
  node?: string;
  typecheck?: boolean;
  filters?: string[];
  log?: (line: string) => void;
}): Promise<DocRun>;
