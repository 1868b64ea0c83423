/**
 * The entry point of a local group's reaper process (see reaper.ts): kept apart from the CLI so
 * that it starts without loading every command.
 */
import { runReaper } from './reaper.js';

runReaper();
