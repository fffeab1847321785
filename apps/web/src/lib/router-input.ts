// The router (NAS) form's rules: one zod schema for the tRPC procedures and the page, so
// the browser shows the same message the server would. Pure; docs/radius-auth.md,
// "Adding a router (NAS)".
import { z } from "zod";

export const routerVendors = ["mikrotik", "cisco", "juniper", "other"] as const;
export const routerAuthModes = ["radius", "local"] as const;
export const routerApiKinds = ["none", "api", "rest"] as const;
export type RouterVendor = (typeof routerVendors)[number];

/** RFC 2865 asks for at least 16 octets; BlastRADIUS made short secrets a real risk. */
export const RADIUS_SECRET_MIN = 16;
export const RADIUS_SECRET_MAX = 128;
export const secretTooShortMessage = `The RADIUS shared secret must be at least ${RADIUS_SECRET_MIN} characters (use Generate)`;

/** Characters of a generated secret: letters and digits only, so it survives any NAS config syntax. */
const secretAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
export const GENERATED_SECRET_LENGTH = 32;

/** A strong shared secret (about 180 bits), from crypto.getRandomValues (browser and Node). */
export function generateRadiusSecret(length = GENERATED_SECRET_LENGTH): string {
  const out: string[] = [];
  // Rejection sampling: no modulo bias.
  const limit = 256 - (256 % secretAlphabet.length);
  while (out.length < length) {
    const bytes = new Uint8Array(length * 2);
    crypto.getRandomValues(bytes);
    for (const b of bytes) if (b < limit && out.length < length) out.push(secretAlphabet[b % secretAlphabet.length]!);
  }
  return out.join("");
}

/** "AB:CD:…" or "abcd…" (64 hex digits, colons/spaces allowed) -> 64 lowercase hex, else null. */
export function normalizeFingerprint(text: string): string | null {
  const hex = text.replace(/[\s:]/g, "").toLowerCase();
  return /^[0-9a-f]{64}$/.test(hex) ? hex : null;
}

export function isIpAddress(text: string): boolean {
  return z.ipv4().safeParse(text).success || z.ipv6().safeParse(text).success;
}

const port = (what: string) =>
  z
    .number({ error: `${what} must be a number` })
    .int(`${what} must be a whole number`)
    .min(1, `${what} must be 1–65535`)
    .max(65535, `${what} must be 1–65535`);

/** Printable ASCII without spaces: what every BNG's config accepts for a shared secret. */
const radiusSecret = z
  .string()
  .min(RADIUS_SECRET_MIN, secretTooShortMessage)
  .max(RADIUS_SECRET_MAX, `The RADIUS shared secret may be at most ${RADIUS_SECRET_MAX} characters`)
  .regex(/^[\x21-\x7e]+$/, "The RADIUS shared secret may contain only printable ASCII characters, no spaces");

const routerFields = {
  name: z
    .string()
    .trim()
    .min(1, "Enter the router's name")
    .max(64, "The name may be at most 64 characters")
    .regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]*$/, "The name may contain letters, digits, spaces, dots, dashes and underscores"),
  ipAddress: z
    .string()
    .trim()
    .refine(isIpAddress, "Enter the NAS's IPv4 or IPv6 address (the source address of its RADIUS packets), without a prefix length"),
  vendor: z.enum(routerVendors),
  location: z.string().trim().max(100, "The location may be at most 100 characters").default(""),
  coaPort: port("CoA port").default(3799),
  requireMessageAuthenticator: z.boolean().default(true),
  authMode: z.enum(routerAuthModes).default("radius"),
  apiKind: z.enum(routerApiKinds).default("none"),
  apiPort: port("API port").nullable().default(null),
  apiUsername: z.string().trim().max(64, "The API username may be at most 64 characters").default(""),
  restUrl: z.string().trim().max(200, "The REST URL may be at most 200 characters").default(""),
  apiTls: z.boolean().default(false),
  /** Empty: no pin. Colons and upper case accepted; stored as 64 lowercase hex. */
  tlsFingerprint: z.string().trim().max(200).default(""),
  tlsInsecure: z.boolean().default(false),
};

/** Cross-field rules shared by create and update; `apiPasswordStored`: the row already has one. */
function checkApi(
  v: { apiKind: string; apiUsername: string; restUrl: string; apiTls: boolean; tlsFingerprint: string; apiPassword?: string | undefined },
  ctx: z.RefinementCtx,
  apiPasswordStored: boolean,
) {
  if (v.tlsFingerprint !== "" && normalizeFingerprint(v.tlsFingerprint) === null) {
    ctx.addIssue({ code: "custom", path: ["tlsFingerprint"], message: "The TLS fingerprint must be the certificate's SHA-256: 64 hex digits (colons allowed)" });
  }
  if (v.apiKind === "none") return;
  if (v.apiUsername === "") ctx.addIssue({ code: "custom", path: ["apiUsername"], message: "Enter the RouterOS API username" });
  if (!apiPasswordStored && !v.apiPassword) ctx.addIssue({ code: "custom", path: ["apiPassword"], message: "Enter the RouterOS API password" });
  if (v.apiKind === "rest") {
    const url = URL.canParse(v.restUrl) ? new URL(v.restUrl) : null;
    if (!url || (url.protocol !== "https:" && url.protocol !== "http:")) {
      ctx.addIssue({ code: "custom", path: ["restUrl"], message: "Enter the REST base URL, e.g. https://10.0.0.1" });
    } else if (v.apiTls && url.protocol !== "https:") {
      ctx.addIssue({ code: "custom", path: ["restUrl"], message: "With TLS on, the REST URL must start with https://" });
    }
  }
}

const apiPassword = z.string().min(1).max(128, "The API password may be at most 128 characters");

export const routerCreateInput = z
  .object({ ...routerFields, radiusSecret, apiPassword: apiPassword.optional() })
  .superRefine((v, ctx) => checkApi(v, ctx, false));
export type RouterCreateInput = z.input<typeof routerCreateInput>;

/**
 * Every field as on create; the two secrets are write-only: absent = unchanged.
 * `apiPasswordStored` is only a hint for the form; the server checks the row.
 */
export const routerUpdateInput = z
  .object({
    id: z.number().int().positive(),
    ...routerFields,
    radiusSecret: radiusSecret.optional(),
    apiPassword: apiPassword.optional(),
  })
  .superRefine((v, ctx) => checkApi(v, ctx, true));
export type RouterUpdateInput = z.input<typeof routerUpdateInput>;

/** tRPC input errors arrive as a JSON list of issues; the first one's message. */
export function firstIssueMessage(message: string): string {
  try {
    const issues = JSON.parse(message) as unknown;
    if (Array.isArray(issues) && typeof issues[0]?.message === "string") return issues[0].message as string;
  } catch {
    // a plain message
  }
  return message;
}
