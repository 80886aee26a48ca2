/**
 * Extracts the code blocks a Markdown file marks as app files, so the packed-package test writes
 * the README's own code into the throwaway apps and the README cannot drift from what is tested.
 *
 * The marker is an HTML comment (invisible on GitHub and npm) on the line right before a fence:
 *
 *     <!-- file: app/api/sync/[...path]/route.ts -->            every app gets this file
 *     <!-- file: server.ts app: express -->                      only the listed app(s)
 *     <!-- file: lib/syncEngine.ts app: next, express -->
 *
 * Other one-line HTML comments may share the run of lines before the fence (the README checker's
 * `<!-- fragment: uses … -->`, a second file marker), in any order, with blank lines between them;
 * anything else between a marker and its fence is an error, as are a marker without a fence, an
 * unclosed fence, and two blocks for the same file of the same app. Fenced blocks are skipped
 * whole, so a marker shown inside a code block is not one.
 */

export interface MarkedFile {
  /** Path inside the app, `/`-separated, relative (no `..`). */
  path: string;
  /** The apps that get the file, `null` for every app. */
  apps: string[] | null;
  /** The fence's info string's first word (`ts`, `tsx`, …), `''` when none. */
  lang: string;
  /** The block's text, ending with a newline. */
  code: string;
  /** Where it came from, for messages: `README.md:42`. */
  origin: string;
}

const MARKER = /^\s*<!--\s*file:\s*(\S+)(?:\s+app:\s*([\w-]+(?:\s*,\s*[\w-]+)*))?\s*-->\s*$/;
const ANY_MARKER = /^\s*<!--\s*file:/;
const COMMENT = /^\s*<!--.*-->\s*$/;
const FENCE_OPEN = /^(\s*)(`{3,}|~{3,})\s*([\w+-]*)/;

interface PendingMarker {
  path: string;
  apps: string[] | null;
  origin: string;
}

/** Every marked block of one Markdown text, in order. `name` labels the origins. */
export function extractMarkedFiles(markdown: string, name = 'markdown'): MarkedFile[] {
  const lines = markdown.split(/\r?\n/);
  const files: MarkedFile[] = [];
  let pending: PendingMarker[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const open = FENCE_OPEN.exec(line);
    if (open) {
      const [, indent = '', fence = '', lang = ''] = open;
      const closes = (text: string) =>
        text.trim().startsWith(fence[0]!.repeat(fence.length)) && text.trim().replace(/[`~]/g, '') === '';
      const body: string[] = [];
      let k = i + 1;
      while (k < lines.length && !closes(lines[k] ?? '')) {
        const text = lines[k] ?? '';
        body.push(text.startsWith(indent) ? text.slice(indent.length) : text.trimStart());
        k++;
      }
      if (k >= lines.length && pending.length) {
        throw new Error(`${pending[0]!.origin}: the code block for ${pending[0]!.path} is never closed`);
      }
      for (const { path, apps, origin } of pending) {
        files.push({ path, apps, lang, code: `${body.join('\n')}\n`, origin });
      }
      pending = [];
      i = k;
      continue;
    }
    if (ANY_MARKER.test(line)) {
      pending.push(parseMarker(line, `${name}:${i + 1}`));
      continue;
    }
    if (line.trim() === '' || COMMENT.test(line)) continue;
    if (pending.length) {
      throw new Error(
        `${pending[0]!.origin}: the marker for ${pending[0]!.path} is not followed by a code fence`,
      );
    }
  }
  if (pending.length) {
    throw new Error(
      `${pending[0]!.origin}: the marker for ${pending[0]!.path} is not followed by a code fence`,
    );
  }
  return files;
}

function parseMarker(line: string, origin: string): PendingMarker {
  const marker = MARKER.exec(line);
  if (!marker) throw new Error(`${origin}: malformed file marker: ${line.trim()}`);
  const path = marker[1] ?? '';
  if (path.startsWith('/') || path.split('/').includes('..')) {
    throw new Error(`${origin}: the file path must be relative, inside the app: ${path}`);
  }
  const apps = marker[2] ? marker[2].split(',').map((app) => app.trim()) : null;
  return { path, apps, origin };
}

/** The files of one app (blocks for every app plus its own), refusing two blocks for one path. */
export function filesForApp(files: MarkedFile[], app: string): Map<string, MarkedFile> {
  const chosen = new Map<string, MarkedFile>();
  for (const file of files) {
    if (file.apps && !file.apps.includes(app)) continue;
    const previous = chosen.get(file.path);
    if (previous) {
      throw new Error(`${file.origin}: ${file.path} (app ${app}) is already defined at ${previous.origin}`);
    }
    chosen.set(file.path, file);
  }
  return chosen;
}
