/**
 * Where quarantine `retain` counts a group's retained instances in the ledger table (./retention.ts):
 * one item per group. Pure, so the construct and the module name the same items in their IAM
 * (`dynamodb:LeadingKeys`) as the function writes.
 */

/** The partition key of a group's retention slots. */
export const slotKey = (groupName: string): string => `retain#${groupName}`;
/** The slots' partition keys as an IAM pattern. */
export const slotKeys = 'retain#*';
