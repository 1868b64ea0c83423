// The link checker itself, on small trees written for each case: what it must catch, where it says
// the link is, and what it must leave alone (code, external links).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkMarkdownLinks, formatBrokenLink, readPage } from './markdown-links.js';

const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

/** Writes `files` (path -> text) into a fresh folder and checks the Markdown among them. */
function check(files: Record<string, string>): string[] {
  const root = mkdtempSync(join(tmpdir(), 'autoheal-links-'));
  roots.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  const markdown = Object.keys(files).filter((path) => path.endsWith('.md'));
  return checkMarkdownLinks(root, markdown).map(formatBrokenLink);
}

describe('checkMarkdownLinks', () => {
  it('passes links to files, folders and headings that exist', () => {
    expect(
      check({
        'README.md': [
          '# autoheal',
          '',
          'See [deploy](docs/deploy.md), [its IAM](docs/deploy.md#what-it-grants), [the rails](#safety-rails),',
          '[the code](src/index.ts#L3), [the folder](src/) and [from the root](/docs/deploy.md).',
          '',
          '## Safety rails',
        ].join('\n'),
        'docs/deploy.md': '# Deploy\n\n[Back](../README.md#autoheal)\n\n## What it grants\n',
        'src/index.ts': 'export {};\n',
      }),
    ).toEqual([]);
  });

  it('names file, line and link of a missing file and of a missing heading', () => {
    expect(
      check({
        'README.md': '# autoheal\n\nFine: [here](#autoheal).\n\nGone: [old](docs/old.md)\n\n- a list\n- with [a typo](#autohael)\n',
        'docs/a.md': '# A\n\n| page | for |\n|---|---|\n| [readme](../README.md#safety) | rails |\n',
      }),
    ).toEqual([
      'README.md:5: docs/old.md: no such file: docs/old.md',
      'README.md:8: #autohael: no heading #autohael in README.md',
      'docs/a.md:5: ../README.md#safety: no heading #safety in README.md',
    ]);
  });

  it('ignores links in code blocks and code spans, and external links', () => {
    expect(
      check({
        'README.md': [
          '# autoheal',
          '',
          '```md',
          '[not a link](nowhere.md)',
          '```',
          '',
          '    [indented code](nowhere.md)',
          '',
          'Inline `[code](nowhere.md)`, [the web](https://example.com/x.md#y), [mail](mailto:ops@example.com).',
        ].join('\n'),
      }),
    ).toEqual([]);
  });

  it('computes anchors as GitHub does: code, punctuation, case, repeated headings', () => {
    const { anchors } = readPage(
      [
        '# `autoheal alarms sync`',
        '## Reliability: every timeout and bound',
        '## Observers, quorum, self-check, heartbeats',
        '## Examples',
        '## Examples',
        'Setext heading\n---',
        '## [Linked](x.md) *heading*',
        '<a id="custom-anchor"></a>',
      ].join('\n\n'),
    );
    expect([...anchors]).toEqual([
      'autoheal-alarms-sync',
      'reliability-every-timeout-and-bound',
      'observers-quorum-self-check-heartbeats',
      'examples',
      'examples-1',
      'setext-heading',
      'linked-heading',
      'custom-anchor',
    ]);
  });

  it('checks reference links, images and HTML links', () => {
    expect(
      check({
        'README.md': [
          '# autoheal',
          '',
          'A [reference][ref] and ![a picture](pic.png).',
          '',
          '<a href="docs/missing.md">raw HTML</a>',
          '',
          '[ref]: docs/ref.md#nope',
        ].join('\n'),
        'docs/ref.md': '# Ref\n',
      }),
    ).toEqual([
      'README.md:3: docs/ref.md#nope: no heading #nope in docs/ref.md',
      'README.md:3: pic.png: no such file: pic.png',
      'README.md:5: docs/missing.md: no such file: docs/missing.md',
    ]);
  });

  it('refuses links that leave the repository, and empty ones', () => {
    expect(check({ 'docs/a.md': '# A\n\n[up](../../etc/passwd) and [nothing]()\n' })).toEqual([
      'docs/a.md:3: ../../etc/passwd: points outside the repository',
      'docs/a.md:3: : empty link',
    ]);
  });

  it('finds the right line of the same link written twice', () => {
    expect(check({ 'README.md': '# A\n\n[x](#b)\n\ntext\n\n[x](#b)\n' })).toEqual([
      'README.md:3: #b: no heading #b in README.md',
      'README.md:7: #b: no heading #b in README.md',
    ]);
  });
});
