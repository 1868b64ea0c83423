/**
 * The AWS healer for a command (`heal`, `bridge --local`): its own clients, built with the SDK's
 * standard settings and closed by `close()`. Beside ./aws.ts so the Lambda bundle, which loads
 * CloudWatch only on first use, never imports the CloudWatch client at init.
 */
import { AwsAlarmState } from '../alarms/alarm-state.js';
import { autoScalingClient } from '../aws/autoscaling.js';
import { cloudWatchClient } from '../aws/cloudwatch.js';
import type { Settings } from '../config.js';
import type { Logger } from '../log.js';
import { createAwsHealer } from './aws.js';
import { openLedger } from './ledger.js';

/** The clients a command-line healer uses, built with the SDK's standard settings; `close()` ends them. */
export function openAwsClients(region?: string) {
  const clients = { autoScaling: autoScalingClient({ region }), cloudWatch: cloudWatchClient({ region }) };
  return {
    ...clients,
    close: () => {
      for (const client of Object.values(clients)) client.destroy();
    },
  };
}

/** A healer for a command (`heal`, `bridge --local`): its own clients and ledger (./ledger.ts), closed by `close()`. */
export function openAwsHealer(settings: Settings, options: { region?: string; logger: Logger }) {
  const clients = openAwsClients(options.region);
  const ledger = openLedger(settings, options);
  const { healer, fleet } = createAwsHealer({
    settings,
    autoScaling: clients.autoScaling,
    alarms: new AwsAlarmState(clients.cloudWatch),
    logger: options.logger,
    ledger: ledger.ledger,
  });
  const close = () => {
    clients.close();
    ledger.close();
  };
  return { healer, fleet, clients, ledger: ledger.where, close };
}
