/**
 * Reading settings from environment variables, one way everywhere (the Lambda's config, the alarm
 * manager's): values are trimmed, an empty variable counts as unset, and a value that does not
 * parse is recorded in `problems` naming the variable, so the caller can report them all at once.
 */
export function envReader(env: NodeJS.ProcessEnv, problems: string[]) {
  const read = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };
  const bool = (name: string, fallback: boolean): boolean => {
    const value = read(name);
    if (value === undefined) return fallback;
    if (value === 'true' || value === 'false') return value === 'true';
    problems.push(`${name}: expected "true" or "false", got "${value}"`);
    return fallback;
  };
  const number = (name: string): number | undefined => {
    const value = read(name);
    if (value === undefined) return undefined;
    const n = Number(value);
    if (Number.isNaN(n)) problems.push(`${name}: expected a number, got "${value}"`);
    return Number.isNaN(n) ? undefined : n;
  };
  return { read, bool, number };
}
