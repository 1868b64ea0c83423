/**
 * `autoheal explain [FILE|-]`: what autoheal reads in one event, without calling AWS.
 * Prints `{"signals":[…],"rejected":[…]}` (and `lifecycle` when there is any) on stdout.
 */
import type { Command } from 'commander';
import { capList, maxItemsPerEvent } from '../../log.js';
import { parseEvent } from '../../signals/index.js';
import { ExitCode } from '../exit-codes.js';
import { maxInputBytes, readEventText } from '../input.js';

/**
 * Parses one event's text and renders the report explain prints, with its exit code. At most
 * {@link maxItemsPerEvent} rejections are listed; `rejectedOmitted` counts the rest.
 */
export function explainText(text: string): { output: string; exitCode: number } {
  const { signals, lifecycle, rejected: all } = parseEvent(text);
  const { items: rejected, omitted } = capList(all);
  const report = {
    signals,
    ...(lifecycle.length > 0 ? { lifecycle } : {}),
    rejected,
    ...(omitted > 0 ? { rejectedOmitted: omitted } : {}),
  };
  return { output: `${JSON.stringify(report, null, 2)}\n`, exitCode: signals.length > 0 ? ExitCode.ok : ExitCode.noResult };
}

export function register(program: Command): void {
  program
    .command('explain')
    .argument('[file]', 'the event: a JSON file, or - (the default) for stdin', '-')
    .summary('show the signals autoheal reads in one event, without calling AWS')
    .description(
      'Reads one event (a CloudWatch alarm message, an SNS envelope, a Lambda SNS or SQS event, an ' +
        'EventBridge event, an alarm Lambda-action payload, an SQS message body or the 2014 !! form) ' +
        'and prints, without calling AWS, the JSON {"signals":[...],"rejected":[...]}; "lifecycle" ' +
        'is added when the event reports instances launched or terminated. At most ' +
        `${maxItemsPerEvent} rejections are listed; "rejectedOmitted" counts the others.\n\n` +
        `Input: at most ${maxInputBytes} bytes.\n` +
        `Exit codes: ${ExitCode.ok} at least one signal, ${ExitCode.noResult} no signal, ${ExitCode.usage} the input cannot be read.`,
    )
    .action(async (file: string) => {
      // An unreadable input throws ConfigError; main.ts prints it and exits with ExitCode.usage.
      const text = await readEventText(file);
      const { output, exitCode } = explainText(text);
      process.stdout.write(output);
      process.exitCode = exitCode;
    });
}
