// Output shapes of the compliance procedures (STYLE.md 10): times are ISO strings (UTC),
// ids of bigint columns decimal strings.
import { z } from "zod";

export const complianceSubscriberSchema = z.object({
  id: z.number().int(),
  accountNo: z.string(),
  name: z.string(),
  cnic: z.string(),
  phone: z.string(),
  address: z.string(),
  city: z.string(),
});
export type ComplianceSubscriber = z.infer<typeof complianceSubscriberSchema>;

export const complianceSessionSchema = z.object({
  id: z.string(),
  subscriberId: z.number().int().nullable(),
  username: z.string(),
  routerName: z.string(),
  framedIp: z.string().nullable(),
  /** Calling-Station-Id: the subscriber's MAC on PPPoE. */
  mac: z.string().nullable(),
  loginAt: z.string(),
  logoffAt: z.string().nullable(),
  terminateCause: z.string().nullable(),
  acctSessionId: z.string(),
});
export type ComplianceSession = z.infer<typeof complianceSessionSchema>;

export const natRecordSchema = z.object({
  time: z.string(),
  event: z.enum(["open", "close", "packet"]),
  routerName: z.string().nullable(),
  protocol: z.string(),
  privateIp: z.string(),
  privatePort: z.number().int().nullable(),
  publicIp: z.string(),
  publicPort: z.number().int().nullable(),
  destIp: z.string(),
  destPort: z.number().int().nullable(),
  pppoeUser: z.string().nullable(),
  srcMac: z.string().nullable(),
  acctSessionId: z.string().nullable(),
  /** ingest: the collector named the subscriber; session: found now from the RADIUS session that held the private IP; null: unknown. */
  resolvedBy: z.enum(["ingest", "session"]).nullable(),
  subscriber: complianceSubscriberSchema.nullable(),
  session: complianceSessionSchema.nullable(),
});
export type NatRecord = z.infer<typeof natRecordSchema>;

export const lookupQueryDtoSchema = z.object({
  publicIp: z.string(),
  publicPort: z.number().int().nullable(),
  from: z.string(),
  to: z.string(),
});

export const lookupResultSchema = z.object({
  query: lookupQueryDtoSchema,
  rows: z.array(natRecordSchema),
  truncated: z.boolean(),
  /** Some sessions were not looked up (too many distinct subscribers in one answer). */
  sessionsIncomplete: z.boolean(),
  auditId: z.string(),
});
export type LookupResult = z.infer<typeof lookupResultSchema>;

export const sessionRecordSchema = complianceSessionSchema.extend({
  subscriber: complianceSubscriberSchema.nullable(),
});
export type SessionRecord = z.infer<typeof sessionRecordSchema>;

export const sessionResultSchema = z.object({
  rows: z.array(sessionRecordSchema),
  truncated: z.boolean(),
  /** For an account search that matched no subscriber. */
  unknownAccount: z.boolean(),
  auditId: z.string(),
});
export type SessionResult = z.infer<typeof sessionResultSchema>;

export const verifyResultSchema = z.object({
  ok: z.boolean(),
  reason: z.string().nullable(),
  fingerprint: z.string(),
  sha256: z.string().nullable(),
  reference: z.string().nullable(),
  generatedAt: z.string().nullable(),
  operator: z.string().nullable(),
  query: lookupQueryDtoSchema.nullable(),
  resultCount: z.number().int().nullable(),
});
export type VerifyResult = z.infer<typeof verifyResultSchema>;
