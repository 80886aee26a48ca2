export interface ReadmeFailure {
  /** The README, relative to the repository root. */
  readme: string;
  /** 1-based line in the README. */
  line: number;
  message: string;
}
export interface ReadmeBlock {
  readme: string;
  line: number;
  lang: 'ts' | 'tsx';
  code: string;
  uses: string[];
  skip: boolean;
  /** The app files it is (`<!-- file: PATH app: … -->`); `apps: null` for every app. */
  files: Array<{ path: string; apps: string[] | null }>;
}
export const STUBS: Record<string, string>;
export const MODULE_STUBS: string;
export const FILE_STUBS: Record<string, string>;
export function findReadmes(root?: string): string[];
export function extractBlocks(readme: string): { blocks: ReadmeBlock[]; problems: ReadmeFailure[] };
export function checkReadmeCode(options?: {
  repoRoot?: string;
  readmes?: string[];
}): Promise<{ checked: number; skipped: number; failures: ReadmeFailure[] }>;
export function formatFailures(failures: ReadmeFailure[]): string;
