// Inputs of the compliance lookups, shared by the page (early, friendly errors), the tRPC
// procedures and the export route handlers (the authoritative check). Pure.
import { z } from "zod";
import { parseIpv6Target } from "./ipv6";

/** Widest window one lookup may cover; a legal request names a moment, not a year. */
export const lookupSpanMaxDays = 31;
/** Session searches cover a subscriber's history: the 12 months we retain, and a little slack. */
export const sessionSpanMaxDays = 400;
export const lookupLimitMax = 5000;
export const sessionLimitMax = 1000;
export const referenceMaxChars = 120;

const dayMs = 86_400_000;

const ipSchema = z
  .string()
  .trim()
  .pipe(z.union([z.ipv4(), z.ipv6()], { error: "Enter a valid IPv4 or IPv6 address" }));

const instant = z.iso.datetime({ offset: true, error: "Enter a date and time" });

function rangeChecks(maxDays: number) {
  return (q: { from: string; to: string }, ctx: z.RefinementCtx) => {
    const from = Date.parse(q.from);
    const to = Date.parse(q.to);
    if (to < from) ctx.addIssue({ code: "custom", path: ["to"], message: "The range ends before it starts" });
    else if (to - from > maxDays * dayMs) ctx.addIssue({ code: "custom", path: ["to"], message: `The range may span at most ${maxDays} days` });
  };
}

export const lookupQuerySchema = z
  .object({
    publicIp: ipSchema,
    publicPort: z.number().int().min(0).max(65535).nullable().default(null),
    from: instant,
    to: instant,
  })
  .superRefine(rangeChecks(lookupSpanMaxDays));
export type LookupQuery = z.output<typeof lookupQuerySchema>;

/**
 * An IPv6 lookup: one address or a prefix (any spelling, canonicalised) and a window. No
 * port: with IPv6 there is no NAT, the address belongs to whoever held the covering
 * delegated prefix (docs/compliance.md "IPv6").
 */
export const ipv6LookupQuerySchema = z
  .object({
    address: z
      .string()
      .max(64, "Enter a valid IPv6 address or prefix")
      .transform((text, ctx) => {
        const t = parseIpv6Target(text);
        if (t.ok) return t.text;
        ctx.addIssue({ code: "custom", message: t.reason });
        return z.NEVER;
      }),
    from: instant,
    to: instant,
  })
  .superRefine(rangeChecks(lookupSpanMaxDays));
export type Ipv6LookupQuery = z.output<typeof ipv6LookupQuerySchema>;

const macPattern = /^[0-9a-f]{2}([:-]?)[0-9a-f]{2}(?:\1[0-9a-f]{2}){4}$/i;

/** "AA-BB-CC-DD-EE-FF", "aabb.ccdd.eeff" or "aabbccddeeff" -> "aa:bb:cc:dd:ee:ff"; null if not a MAC. */
export function normalizeMac(text: string): string | null {
  const t = text.trim();
  const cisco = /^([0-9a-f]{4})\.([0-9a-f]{4})\.([0-9a-f]{4})$/i.exec(t);
  const hex = cisco ? cisco.slice(1).join("") : macPattern.test(t) ? t.replace(/[:-]/g, "") : null;
  return hex ? hex.toLowerCase().match(/.{2}/g)!.join(":") : null;
}

export const sessionSearchKinds = ["account", "ip", "mac"] as const;
export type SessionSearchKind = (typeof sessionSearchKinds)[number];

export const sessionQuerySchema = z
  .object({
    by: z.enum(sessionSearchKinds),
    value: z.string().trim().min(1, "Enter what to search for").max(64),
    from: instant,
    to: instant,
  })
  .superRefine((q, ctx) => {
    if (q.by === "ip" && !z.union([z.ipv4(), z.ipv6()]).safeParse(q.value).success) {
      ctx.addIssue({ code: "custom", path: ["value"], message: "Enter a valid IPv4 or IPv6 address" });
    }
    if (q.by === "mac" && !normalizeMac(q.value)) {
      ctx.addIssue({ code: "custom", path: ["value"], message: "Enter a MAC address like aa:bb:cc:dd:ee:ff" });
    }
  })
  .superRefine(rangeChecks(sessionSpanMaxDays));
export type SessionQuery = z.output<typeof sessionQuerySchema>;

export const reportReferenceSchema = z
  .string()
  .trim()
  .min(1, "Enter the request reference (letter or case number)")
  .max(referenceMaxChars);

/** The first message of a failed parse, for forms and route handlers. */
export function firstIssue(error: z.ZodError): string {
  return error.issues[0]?.message ?? "Invalid input";
}

/** Query string of the export links <-> lookup query (port empty when none). */
export function lookupSearchParams(q: LookupQuery, reference?: string): URLSearchParams {
  const p = new URLSearchParams({ ip: q.publicIp, from: q.from, to: q.to });
  if (q.publicPort !== null) p.set("port", String(q.publicPort));
  if (reference !== undefined) p.set("ref", reference);
  return p;
}

/** Export links of an IPv6 lookup: the same `ip`, `from`, `to` (and `ref`), never a port. */
export function ipv6LookupSearchParams(q: Ipv6LookupQuery, reference?: string): URLSearchParams {
  const p = new URLSearchParams({ ip: q.address, from: q.from, to: q.to });
  if (reference !== undefined) p.set("ref", reference);
  return p;
}

/** An export link's `ip` with a colon is an IPv6 question (answered from the prefix holders); a port is ignored. */
export function ipv6LookupQueryFromSearchParams(p: URLSearchParams): z.ZodSafeParseResult<Ipv6LookupQuery> {
  return ipv6LookupQuerySchema.safeParse({ address: p.get("ip") ?? "", from: p.get("from") ?? "", to: p.get("to") ?? "" });
}

export function lookupQueryFromSearchParams(p: URLSearchParams): z.ZodSafeParseResult<LookupQuery> {
  const port = p.get("port");
  return lookupQuerySchema.safeParse({
    publicIp: p.get("ip") ?? "",
    publicPort: port === null || port === "" ? null : /^\d{1,5}$/.test(port) ? Number(port) : -1,
    from: p.get("from") ?? "",
    to: p.get("to") ?? "",
  });
}
