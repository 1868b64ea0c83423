/** Flag names from option keys, so error messages name the flag the user typed. */

/** `--max-unhealthy-share` for the option key `maxUnhealthyShare`. */
export function flagOf(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}
