/**
 * Region names as CloudWatch writes them in the `Region` field of an alarm message
 * (`EU (London)`), by region code. Codes not listed are written as the code itself.
 */
export const regionNames: Readonly<Record<string, string>> = {
  'us-east-1': 'US East (N. Virginia)',
  'us-east-2': 'US East (Ohio)',
  'us-west-1': 'US West (N. California)',
  'us-west-2': 'US West (Oregon)',
  'ca-central-1': 'Canada (Central)',
  'eu-west-1': 'EU (Ireland)',
  'eu-west-2': 'EU (London)',
  'eu-west-3': 'EU (Paris)',
  'eu-central-1': 'EU (Frankfurt)',
  'eu-north-1': 'EU (Stockholm)',
  'eu-south-1': 'EU (Milan)',
  'ap-northeast-1': 'Asia Pacific (Tokyo)',
  'ap-northeast-2': 'Asia Pacific (Seoul)',
  'ap-southeast-1': 'Asia Pacific (Singapore)',
  'ap-southeast-2': 'Asia Pacific (Sydney)',
  'ap-south-1': 'Asia Pacific (Mumbai)',
  'sa-east-1': 'South America (Sao Paulo)',
};

const regionCodes = new Map(Object.entries(regionNames).map(([code, name]) => [name, code]));

const regionCode = /^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$/;

/** Whether `text` has the shape of a region code (`eu-west-2`, `us-gov-west-1`). */
export function isRegionCode(text: string): boolean {
  return text.length <= 32 && regionCode.test(text);
}

/** The region code for a name CloudWatch writes (`EU (London)` → `eu-west-2`), or for a code itself. */
export function regionFromName(name: string): string | undefined {
  return isRegionCode(name) ? name : regionCodes.get(name);
}
