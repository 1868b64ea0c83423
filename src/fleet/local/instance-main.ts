/**
 * The entry point the local group spawns for its built-in instances: the same server as
 * `autoheal instance`, configured from the environment (PORT, AUTOHEAL_INSTANCE_ID,
 * AUTOHEAL_HEALTH_PATH, AUTOHEAL_AVAILABILITY_ZONE) and tied to its parent through stdin. Kept apart from the CLI so that
 * an instance starts without loading every command.
 */
import { runInstanceServer } from './instance-server.js';

await runInstanceServer({
  port: Number(process.env.PORT ?? 0),
  instanceId: process.env.AUTOHEAL_INSTANCE_ID ?? 'i-10ca1000000000000',
  healthPath: process.env.AUTOHEAL_HEALTH_PATH ?? '/health',
  exitWithParent: true,
  ...(process.env.AUTOHEAL_AVAILABILITY_ZONE ? { availabilityZone: process.env.AUTOHEAL_AVAILABILITY_ZONE } : {}),
});
