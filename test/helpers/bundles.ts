/**
 * A stand-in for `dist/`: a folder holding every bundle the construct may check for (the healer,
 * the alarm sync, the observers, the evidence function, the group settings function, the app-check
 * reader), each a handler that does nothing. For synth tests, which read the files' presence, never
 * their code.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const bundleFiles = ['lambda.mjs', 'alarm-sync.mjs', 'observer.mjs', 'evidence.mjs', 'group-settings.mjs', 'app-check.mjs'] as const;

/** Makes the folder under `parent` (default: the system's temporary folder) and returns its path. */
export function stubBundleDir(parent: string = tmpdir()): string {
  const dir = mkdtempSync(join(parent, 'autoheal-bundle-'));
  for (const file of bundleFiles) writeFileSync(join(dir, file), 'export const handler = async () => ({});\n');
  return dir;
}
