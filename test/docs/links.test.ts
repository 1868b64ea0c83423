// Every relative link and anchor of the repository's Markdown resolves: the README and docs/ point
// into each other, and a moved heading must not leave a reader at a dead link.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkMarkdownLinks, formatBrokenLink } from './markdown-links.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** The repository's Markdown: tracked files and new ones not ignored (so not node_modules). */
function markdownFiles(): string[] {
  const listed = execFileSync(
    'git',
    ['ls-files', '-z', '--cached', '--others', '--exclude-standard', '--', '*.md', '*.markdown'],
    { cwd: root, encoding: 'utf8' },
  );
  // --cached still lists a tracked file deleted in the working tree.
  return [...new Set(listed.split('\0').filter((path) => path !== '' && existsSync(join(root, path))))].sort();
}

describe('Markdown links', () => {
  it('every relative link and #anchor resolves', () => {
    const files = markdownFiles();
    expect(files).toContain('README.md');
    expect(checkMarkdownLinks(root, files).map(formatBrokenLink)).toEqual([]);
  });
});
