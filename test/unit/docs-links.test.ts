// The project explains itself: every relative link in its documentation leads somewhere, the
// README stays one page, and no tracked file sends a newcomer to a file outside the repository.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '..', '..');
const README_MAX_BYTES = 16_000;

/** Tracked files, as git sees them (untracked local folders such as .tools/ are not ours). */
function trackedFiles(): string[] {
  return execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' })
    .split('\0')
    .filter((f) => f !== '' && fs.existsSync(path.join(root, f)));
}

const docFiles = (): string[] =>
  trackedFiles().filter(
    (f) =>
      f === 'README.md' || f === 'CONTRIBUTING.md' || f === 'bench/README.md' || /^docs\/.+\.md$/.test(f),
  );

/** Markdown without fenced code blocks, where `#` starts a comment, not a heading. */
function withoutFences(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
}

/** ... and without inline code, where link syntax is only text. */
function prose(markdown: string): string {
  return withoutFences(markdown).replace(/`[^`\n]*`/g, '');
}

/** Link targets of inline links `[text](target)` and images. */
export function linkTargets(markdown: string): string[] {
  return [...prose(markdown).matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]!);
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const match of withoutFences(markdown).matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = match[1]!
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/** The problems with one file's relative links: a missing file, or a missing heading. */
export function brokenLinks(file: string, markdown: string): string[] {
  const problems: string[] = [];
  for (const target of linkTargets(markdown)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:, …
    const [filePart, anchor] = target.split('#', 2) as [string, string | undefined];
    const resolved =
      filePart === '' ? path.join(root, file) : path.resolve(root, path.dirname(file), filePart);
    if (!resolved.startsWith(root + path.sep)) {
      problems.push(`${file}: ${target} leaves the repository`);
      continue;
    }
    if (!fs.existsSync(resolved)) {
      problems.push(`${file}: ${target} does not exist`);
      continue;
    }
    if (anchor && resolved.endsWith('.md')) {
      const anchors = headingAnchors(fs.readFileSync(resolved, 'utf8'));
      if (!anchors.has(anchor)) problems.push(`${file}: ${target} names no heading there`);
    }
  }
  return problems;
}

// Built from parts, so this file does not match itself.
const OUTSIDE_CITATION = new RegExp(
  [
    ['DESIGN', 'md'].join('\\.'),
    ['TOOLCHAIN', 'md'].join('\\.'),
    '\\.\\./shared',
    ['origin', 'issue'].join('-'),
  ].join('|'),
);

function citesOutside(file: string): boolean {
  const buffer = fs.readFileSync(path.join(root, file));
  if (buffer.includes(0)) return false; // binary (recorded histories, images)
  return OUTSIDE_CITATION.test(buffer.toString('utf8'));
}

describe('documentation', () => {
  it('README.md is one page (at most 16,000 bytes)', () => {
    expect(fs.statSync(path.join(root, 'README.md')).size).toBeLessThanOrEqual(README_MAX_BYTES);
  });

  it('checks the documents it should', () => {
    expect(docFiles()).toEqual(
      expect.arrayContaining(['README.md', 'CONTRIBUTING.md', 'docs/design.md', 'docs/configuration.md']),
    );
  });

  it('every relative link in README.md, CONTRIBUTING.md, bench/README.md and docs/ resolves', () => {
    const problems = docFiles().flatMap((f) => brokenLinks(f, fs.readFileSync(path.join(root, f), 'utf8')));
    expect(problems).toEqual([]);
  });

  it('finds a broken link, a missing heading and a link out of the repository', () => {
    expect(
      brokenLinks(
        'docs/x.md',
        '[a](design.md) [b](nope.md) [c](design.md#gates) [d](design.md#nope) [e](../../etc) ' +
          '[f](../CONTRIBUTING.md#what-npm-run-dev-gives-you)',
      ),
    ).toEqual([
      'docs/x.md: nope.md does not exist',
      'docs/x.md: design.md#nope names no heading there',
      'docs/x.md: ../../etc leaves the repository',
    ]);
    expect(brokenLinks('docs/x.md', '`[a](nope.md)` [b](https://example.com/nope)')).toEqual([]);
  });

  it('no tracked file cites a document outside the repository', () => {
    const citing = trackedFiles().filter((f) => citesOutside(f));
    expect(citing).toEqual([]);
  });
});
