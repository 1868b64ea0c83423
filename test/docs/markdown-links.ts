/**
 * Relative links and anchors of Markdown files, checked the way GitHub renders them. Markdown is read
 * with marked's lexer, so a link inside a code block or code span is text, not a link; anchors are
 * GitHub's heading ids, computed by github-slugger (its lower-casing, its punctuation rules, `-1` for a
 * repeated heading). External links (a scheme such as https: or mailto:) are not followed: no network.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, isAbsolute, join, relative, resolve } from 'node:path';
import GithubSlugger from 'github-slugger';
import { Lexer, walkTokens, type Token } from 'marked';

/** One link that does not resolve: where it is and why. */
export interface BrokenLink {
  /** The Markdown file, relative to the root. */
  file: string;
  /** 1-based line of the link in that file. */
  line: number;
  link: string;
  problem: string;
}

/** `README.md:12: docs/x.md#y: no heading #y in docs/x.md` */
export function formatBrokenLink(broken: BrokenLink): string {
  return `${broken.file}:${broken.line}: ${broken.link}: ${broken.problem}`;
}

interface Found {
  link: string;
  line: number;
}

interface Page {
  links: Found[];
  anchors: Set<string>;
}

const markdownExtensions = new Set(['.md', '.markdown']);
// A scheme (https:, mailto:) or a protocol-relative URL: not a file of the repository.
const external = /^(?:[a-z][a-z0-9+.-]*:|\/\/)/i;
// href, src (links) and id, name (anchors) attributes of raw HTML tags in the Markdown.
const htmlAttribute = /\s(href|src|id|name)\s*=\s*(?:"([^"]*)"|'([^']*)')/gi;

const isMarkdown = (path: string): boolean => markdownExtensions.has(extname(path).toLowerCase());

/** The text a heading renders to, which GitHub slugs: code spans count, markup and raw HTML do not. */
function plainText(tokens: Token[]): string {
  return tokens
    .map((token) => {
      if (token.type === 'html' || token.type === 'image' || token.type === 'br') return '';
      if ('tokens' in token && Array.isArray(token.tokens)) return plainText(token.tokens);
      return 'text' in token && typeof token.text === 'string' ? token.text : '';
    })
    .join('');
}

function htmlAttributes(html: string): { name: string; value: string }[] {
  return [...html.matchAll(htmlAttribute)].map((m) => ({ name: (m[1] ?? '').toLowerCase(), value: m[2] ?? m[3] ?? '' }));
}

/** Every link of a Markdown text with its line, and the anchors the text defines. */
export function readPage(markdown: string): Page {
  const source = markdown.replace(/\r\n?/g, '\n');
  const tokens = new Lexer({ gfm: true }).lex(source);
  const slugger = new GithubSlugger();
  const page: Page = { links: [], anchors: new Set() };
  const lineAt = (offset: number): number => source.slice(0, offset).split('\n').length;

  // The top-level tokens' raw texts follow each other through the source, so each starts where the
  // last ended; a link is found in its own block, after the previous link of that block.
  let blockStart = 0;
  for (const block of tokens) {
    let cursor = blockStart;
    const blockEnd = blockStart + block.raw.length;
    const locate = (raw: string, link: string): number => {
      for (const needle of [raw, `(${link}`, link]) {
        const at = source.indexOf(needle, cursor);
        if (at >= 0 && at < blockEnd) {
          cursor = at + 1;
          return lineAt(at);
        }
      }
      return lineAt(blockStart);
    };
    walkTokens([block], (token) => {
      if (token.type === 'heading') page.anchors.add(slugger.slug(plainText(token.tokens ?? [])));
      if (token.type === 'link' || token.type === 'image') {
        page.links.push({ link: token.href, line: locate(token.raw, token.href) });
      }
      if (token.type === 'html') {
        for (const { name, value } of htmlAttributes(token.text)) {
          if (name === 'id' || name === 'name') page.anchors.add(value);
          else page.links.push({ link: value, line: locate(token.raw, value) });
        }
      }
    });
    blockStart = blockEnd;
  }
  return page;
}

function decode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

/**
 * Checks every relative link and anchor of `files` (paths relative to `root`): the target file or
 * folder exists inside `root`, and an anchor names a heading (or an HTML id) of its Markdown target.
 */
export function checkMarkdownLinks(root: string, files: readonly string[]): BrokenLink[] {
  const pages = new Map<string, Page>();
  const pageOf = (path: string): Page => {
    let page = pages.get(path);
    if (!page) {
      page = readPage(readFileSync(join(root, path), 'utf8'));
      pages.set(path, page);
    }
    return page;
  };

  const broken: BrokenLink[] = [];
  for (const file of files) {
    for (const { link, line } of pageOf(file).links) {
      const problem = problemOf(root, file, link, pageOf);
      if (problem) broken.push({ file, line, link, problem });
    }
  }
  return broken;
}

function problemOf(root: string, file: string, link: string, pageOf: (path: string) => Page): string | undefined {
  if (link.trim() === '') return 'empty link';
  if (external.test(link)) return undefined;
  const hash = link.indexOf('#');
  const pathPart = (hash >= 0 ? link.slice(0, hash) : link).replace(/\?.*$/, '');
  const fragment = hash >= 0 ? link.slice(hash + 1) : undefined;

  let target = file;
  if (pathPart !== '') {
    const decoded = decode(pathPart);
    if (decoded === undefined) return 'not a valid URL path';
    const absolute = decoded.startsWith('/') ? join(root, decoded) : resolve(root, dirname(file), decoded);
    target = relative(root, absolute);
    if (target.startsWith('..') || isAbsolute(target)) return 'points outside the repository';
    if (!existsSync(absolute)) return `no such file: ${target}`;
    if (target === '') target = '.';
  }

  if (fragment === undefined || fragment === '') return undefined;
  // Anchors are checked in Markdown only: a source file's #L12 is GitHub's line view, not a heading.
  if (!isMarkdown(target) || statSync(join(root, target)).isDirectory()) return undefined;
  const anchor = decode(fragment);
  if (anchor === undefined || !pageOf(target).anchors.has(anchor)) return `no heading #${fragment} in ${target}`;
  return undefined;
}
