/**
 * Is anything left? Process checks for tests that kill things. A process killed after its parent
 * died may stay a zombie for a while (PID 1 of a container does not always reap), and `kill -0`
 * succeeds on a zombie: these read /proc instead, where a zombie is state Z.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createConnection } from 'node:net';

/** State and process group of a pid, from /proc/PID/stat; undefined when there is no such process. */
function stat(pid: number | string): { state: string; pgrp: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: the fields after it start after the last ')'.
    const [state, , pgrp] = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: state ?? '', pgrp: Number(pgrp) };
  } catch {
    return undefined;
  }
}

/** The process exists and is not a zombie. */
export function running(pid: number): boolean {
  const s = stat(pid);
  return s !== undefined && s.state !== 'Z';
}

/** Pids of the processes of process group `pgid` that run (zombies excluded). */
export function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const s = stat(entry);
    if (s && s.pgrp === pgid && s.state !== 'Z') out.push(Number(entry));
  }
  return out;
}

/** Whether a TCP connection to 127.0.0.1:port is refused (nothing listens there). */
export function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}
