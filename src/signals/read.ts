import { isRegionCode } from './regions.js';

/**
 * Small, total readers over untrusted JSON: none of them throws, whatever the input,
 * and none copies more than it returns.
 */

/** A plain JSON object (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `obj[key]` when it is a non-empty string. Own properties only, so inherited names never match. */
export function str(obj: Record<string, unknown>, key: string): string | undefined {
  if (!Object.hasOwn(obj, key)) return undefined;
  const value = obj[key];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/** `obj[key]` when it is an object. */
export function rec(obj: Record<string, unknown>, key: string): Record<string, unknown> | undefined {
  if (!Object.hasOwn(obj, key)) return undefined;
  const value = obj[key];
  return isRecord(value) ? value : undefined;
}

/** `obj[key]` when it is an array. */
export function arr(obj: Record<string, unknown>, key: string): unknown[] | undefined {
  if (!Object.hasOwn(obj, key)) return undefined;
  const value = obj[key];
  return Array.isArray(value) ? value : undefined;
}

/** Whether `obj` has its own property `key`, whatever its value. */
export function has(obj: Record<string, unknown>, key: string): boolean {
  return Object.hasOwn(obj, key);
}

const isoStart = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;
const compactOffset = /[+-]\d{4}$/;

/**
 * A timestamp as ISO 8601 in UTC (`…Z`), or undefined when it is not one. CloudWatch writes
 * `2021-12-06T14:25:39.681+0000`; the `+0000` form is not ISO 8601, so the colon is put back.
 */
export function isoTime(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > 40 || !isoStart.test(value)) return undefined;
  const text = compactOffset.test(value) ? `${value.slice(0, -2)}:${value.slice(-2)}` : value;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : undefined;
}

/** The longest reason kept in a signal; AWS state reasons run to 1023 characters. */
export const maxReasonChars = 1024;

/** A reason trimmed of whitespace and cut to {@link maxReasonChars}. */
export function shortReason(text: string): string {
  const trimmed = text.length > maxReasonChars * 2 ? text.slice(0, maxReasonChars * 2).trim() : text.trim();
  return trimmed.length > maxReasonChars ? `${trimmed.slice(0, maxReasonChars - 1)}…` : trimmed;
}

// Real ids have 8 or 17 hex digits; the range also admits hand-made names such as `i-0abc12345`.
const instanceIdBody = 'i-[0-9a-f]{8,17}';
const instanceIdShape = new RegExp(`^${instanceIdBody}$`);
const instanceIdInText = new RegExp(`\\b${instanceIdBody}\\b`);

/** Whether `id` has the shape of an EC2 instance id (`i-` and 8 to 17 hex digits). */
export function isEc2InstanceId(id: string): boolean {
  return id.length <= 19 && instanceIdShape.test(id);
}

/** The first EC2 instance id standing as a word in `text` ("Terminating EC2 instance: i-0abc…"), if any. */
export function findEc2InstanceId(text: string): string | undefined {
  return instanceIdInText.exec(text)?.[0];
}

/** The rejection text for an id that is not EC2-shaped: the id quoted (short), and what was expected. */
export function notAnInstanceId(id: string): string {
  return `${quote(id, 30)} is not an EC2 instance id (i- and 8 or 17 hex digits)`;
}

/**
 * The instance id an alarm name ends with (`StatusCheckFailed-Alarm-for-i-0abc12345`),
 * when it is preceded by a separator or is the whole name.
 */
export function instanceIdFromName(name: string): string | undefined {
  const at = name.lastIndexOf('i-');
  if (at < 0) return undefined;
  const id = name.slice(at);
  if (!isEc2InstanceId(id)) return undefined;
  if (at > 0 && /[0-9A-Za-z]/.test(name.charAt(at - 1))) return undefined;
  return id;
}

/** The region field of an ARN (`arn:aws:cloudwatch:eu-west-2:…`). */
export function regionFromArn(arn: string | undefined): string | undefined {
  if (arn === undefined || arn.length > 2048 || !arn.startsWith('arn:')) return undefined;
  const parts = arn.split(':', 4);
  const region = parts[3];
  return region !== undefined && isRegionCode(region) ? region : undefined;
}

/** A value's kind for messages: `string`, `number`, `array`, `null`, `object`. */
export function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** A short, printable quote of an untrusted string. */
export function quote(text: string, maxChars = 60): string {
  return JSON.stringify(text.length > maxChars ? `${text.slice(0, maxChars)}…` : text);
}
