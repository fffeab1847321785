// The Live protocol of docs/architecture.md (collector -> browser), as zod schemas.
// The wall parses every push: a malformed event is dropped and counted, never rendered.
// Byte and bps values travel as decimal strings (they can exceed 2^53 over a long session);
// numbers are accepted too and normalised to strings.
import { z } from "zod";

const decimal = z.union([z.string().regex(/^\d+$/), z.number().int().nonnegative(), z.bigint()]).transform((v) => String(v));
const isoTime = z.union([z.string(), z.number()]).transform((v) => new Date(v).toISOString());

export const nocRouterSchema = z.object({
  id: z.number().int(),
  name: z.string(),
  online: z.number().int().nonnegative(),
  inputBps: decimal,
  outputBps: decimal,
  lastSeenAt: isoTime.nullable(),
  // Router health from the collector's reconciliation (absent when it is off).
  api: z.enum(["ok", "failed", "none"]).optional(),
  apiError: z.string().nullable().optional(),
  reconciledAt: isoTime.nullable().optional(),
  repairs: z.number().int().nonnegative().optional(),
});

export const nocNewestSchema = z.object({
  sessionId: z.union([z.string(), z.number()]).transform((v) => String(v)),
  subscriberId: z.number().int().nullable(),
  accountNo: z.string().nullable(),
  name: z.string().nullable(),
  username: z.string(),
  routerName: z.string(),
  framedIp: z.string().nullable(),
  startedAt: isoTime,
});

export const nocStateSchema = z.object({
  at: isoTime,
  online: z.number().int().nonnegative(),
  routers: z.array(nocRouterSchema),
  newest: z.array(nocNewestSchema),
  counters: z.object({
    authAccepts: z.number().int().nonnegative(),
    authRejects: z.number().int().nonnegative(),
    dropped: z.number().int().nonnegative(),
  }),
});
export type NocState = z.output<typeof nocStateSchema>;

export const liveSessionSchema = z.object({
  id: z.union([z.string(), z.number()]).transform((v) => String(v)),
  routerName: z.string(),
  acctSessionId: z.string(),
  framedIp: z.string().nullable(),
  callingStationId: z.string().nullable(),
  startedAt: isoTime,
  lastUpdateAt: isoTime,
  inputOctets: decimal,
  outputOctets: decimal,
  inputBps: decimal,
  outputBps: decimal,
  rateLimit: z.string().nullable(),
});
export type LiveSession = z.output<typeof liveSessionSchema>;

export const subscriberSessionSchema = z.object({
  subscriberId: z.number().int(),
  session: liveSessionSchema.nullable(),
});

export const finalEnforcementStatuses = ["acked", "nak", "timeout", "failed"] as const;
export const enforcementStatuses = ["pending", "sending", ...finalEnforcementStatuses] as const;
export type EnforcementStatus = (typeof enforcementStatuses)[number];

export const enforcementResultSchema = z.object({
  actionId: z.union([z.string(), z.number()]).transform((v) => String(v)),
  subscriberId: z.number().int(),
  kind: z.string(),
  status: z.enum(finalEnforcementStatuses),
  routerLatencyMs: z.number().nullable().optional().transform((v) => v ?? null),
  totalLatencyMs: z.number().nullable().optional().transform((v) => v ?? null),
  errorCause: z.number().nullable().optional().transform((v) => v ?? null),
  message: z.string().nullable().optional().transform((v) => v ?? null),
  path: z.enum(["coa", "disconnect", "api", "rest"]).nullable().optional().transform((v) => v ?? null),
  escalated: z.boolean().optional().transform((v) => v ?? false),
});
export type EnforcementResult = z.output<typeof enforcementResultSchema>;

export function isFinalStatus(status: EnforcementStatus): boolean {
  return (finalEnforcementStatuses as readonly string[]).includes(status);
}
