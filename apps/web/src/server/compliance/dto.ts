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

/** The query of an IPv6 lookup, shaped like the NAT one (so the audit log and the report verifier read both), port always null. */
export const ipv6QueryDtoSchema = z.object({
  family: z.literal("ipv6"),
  /** Canonical address ("2400:abcd:12:3401::10") or prefix ("2400:abcd:12:3400::/56"). */
  publicIp: z.string(),
  publicPort: z.null(),
  from: z.string(),
  to: z.string(),
});

/** One holder of the queried IPv6 address or prefix: a lease (the database granted it) or a session (the NAS reported it). */
export const prefixHolderRecordSchema = z.object({
  source: z.enum(["lease", "session"]),
  /** The delegated prefix as granted or reported. */
  prefix: z.string(),
  from: z.string(),
  /** null: still held. */
  until: z.string().nullable(),
  routerName: z.string().nullable(),
  /** PPPoE user name (the session's, or the subscriber's for a lease). */
  username: z.string().nullable(),
  acctSessionId: z.string().nullable(),
  /** Session rows: Calling-Station-Id and the session's IPv4 address. */
  mac: z.string().nullable(),
  framedIp: z.string().nullable(),
  subscriber: complianceSubscriberSchema.nullable(),
});
export type PrefixHolderRecord = z.infer<typeof prefixHolderRecordSchema>;

export const ipv6LookupResultSchema = z.object({
  query: ipv6QueryDtoSchema,
  rows: z.array(prefixHolderRecordSchema),
  truncated: z.boolean(),
  auditId: z.string(),
});
export type Ipv6LookupResult = z.infer<typeof ipv6LookupResultSchema>;
