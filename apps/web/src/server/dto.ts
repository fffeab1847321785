// Output shapes of the tRPC procedures: the only data React ever sees (STYLE.md 10).
// Ids of bigint columns and every byte/bps counter are decimal strings; times are ISO strings.
import { z } from "zod";
import { enforcementStatuses, liveSessionSchema, nocStateSchema } from "../lib/live-protocol";

export const subscriberStatusSchema = z.enum(["pending", "active", "suspended", "terminated"]);

export const subscriberRowSchema = z.object({
  id: z.number().int(),
  accountNo: z.string(),
  name: z.string(),
  phone: z.string(),
  planName: z.string(),
  status: subscriberStatusSchema,
  dealerName: z.string().nullable(),
  online: z.boolean(),
});
export type SubscriberRow = z.infer<typeof subscriberRowSchema>;

export const sessionHistorySchema = z.object({
  id: z.string(),
  routerName: z.string(),
  framedIp: z.string().nullable(),
  status: z.enum(["active", "stopped", "stale"]),
  startedAt: z.string(),
  stoppedAt: z.string().nullable(),
  sessionTimeS: z.number().int(),
  inputOctets: z.string(),
  outputOctets: z.string(),
  terminateCause: z.string().nullable(),
});
export type SessionHistory = z.infer<typeof sessionHistorySchema>;

export const enforcementActionSchema = z.object({
  id: z.string(),
  kind: z.string(),
  status: z.enum(enforcementStatuses),
  reason: z.string().nullable(),
  requestedBy: z.string().nullable(),
  requestedAt: z.string(),
  completedAt: z.string().nullable(),
  attempts: z.number().int(),
  routerLatencyMs: z.number().int().nullable(),
  totalLatencyMs: z.number().int().nullable(),
  errorCause: z.number().int().nullable(),
  lastError: z.string().nullable(),
  /** Which path answered: coa, disconnect, api or rest (null until done, or when nothing was sent). */
  path: z.string().nullable(),
  escalated: z.boolean(),
});
export type EnforcementActionDto = z.infer<typeof enforcementActionSchema>;

export const subscriberDetailSchema = z.object({
  id: z.number().int(),
  accountNo: z.string(),
  name: z.string(),
  phone: z.string(),
  cnic: z.string(),
  address: z.string(),
  city: z.string(),
  status: subscriberStatusSchema,
  pppoeUsername: z.string(),
  staticIp: z.string().nullable(),
  plan: z.object({
    id: z.number().int(),
    name: z.string(),
    rate: z.string(),
    price: z.string(),
    billingCycle: z.string(),
  }),
  dealer: z.object({ code: z.string(), name: z.string() }).nullable(),
  session: liveSessionSchema.nullable(),
  sessions: z.array(sessionHistorySchema),
  actions: z.array(enforcementActionSchema),
});
export type SubscriberDetail = z.output<typeof subscriberDetailSchema>;

export const nocSnapshotSchema = nocStateSchema;
