import "server-only";
// Routers (NAS) administration (docs/radius-auth.md, "Adding a router (NAS)"): list, create,
// update, deactivate, reactivate. Each write is one transaction with its audit row; the
// routers table's statement trigger NOTIFYs router_changed, so the collector serves a new
// or changed NAS (and drops a deactivated one) within a moment, without a restart.
// The RADIUS shared secret and the API password are write-only: never read back, never in
// an audit row (only "changed").
import type { createPrisma } from "@isp/db/client";
import { normalizeFingerprint, routerCreateInput, routerUpdateInput, type RouterVendor } from "../../lib/router-input";
import type { z } from "zod";

type Prisma = ReturnType<typeof createPrisma>;
type Tx = Parameters<Parameters<Prisma["$transaction"]>[0]>[0];

/** More routers than any ISP this serves runs; the list is not paged. */
export const routersListMax = 2000;

/** Serialises router writes, so the name/address checks below are exact. */
const routersLockKey = 0x524f5554; // "ROUT"

export interface RouterDto {
  id: number;
  name: string;
  ipAddress: string;
  vendor: RouterVendor;
  location: string | null;
  active: boolean;
  coaPort: number;
  requireMessageAuthenticator: boolean;
  authMode: "radius" | "local";
  apiKind: "none" | "api" | "rest";
  apiPort: number | null;
  apiUsername: string | null;
  apiPasswordSet: boolean;
  restUrl: string | null;
  apiTls: boolean;
  tlsFingerprint: string | null;
  tlsInsecure: boolean;
  /** Always true (the column is NOT NULL); the value itself never leaves the server. */
  secretSet: boolean;
  /** When the secret was last set through this page (audit log); null for rows made by SQL or the seed. */
  secretChangedAt: string | null;
  openSessions: number;
  /** Newest accounting update of its open sessions (what the NOC wall shows), null without any. */
  lastSeenAt: string | null;
  createdAt: string;
}

export class RouterAdminError extends Error {
  constructor(
    message: string,
    readonly code: "NOT_FOUND" | "CONFLICT" | "PRECONDITION_FAILED",
    readonly openSessions?: number,
  ) {
    super(message);
    this.name = "RouterAdminError";
  }
}

interface Operator {
  id: number;
  username: string;
}

interface RouterRow {
  id: number;
  name: string;
  ip: string;
  vendor: RouterVendor;
  location: string | null;
  active: boolean;
  coa_port: number;
  rma: boolean;
  auth_mode: "radius" | "local";
  api_kind: "none" | "api" | "rest";
  api_port: number | null;
  api_username: string | null;
  api_password_set: boolean;
  rest_url: string | null;
  api_tls: boolean;
  tls_fingerprint: string | null;
  tls_insecure: boolean;
  created_at: Date;
}

// Never selects radius_secret or api_password themselves.
const routerColumns = `id, name, host(ip_address) AS ip, vendor::text AS vendor, location, active, coa_port,
  require_message_authenticator AS rma, auth_mode::text AS auth_mode, api_kind::text AS api_kind, api_port, api_username,
  (api_password IS NOT NULL AND api_password <> '') AS api_password_set, rest_url, api_tls, tls_fingerprint, tls_insecure, created_at`;

/** What an audit row may say about a router: every column but the two secrets. */
function auditView(r: RouterRow) {
  return {
    name: r.name,
    ipAddress: r.ip,
    vendor: r.vendor,
    location: r.location,
    active: r.active,
    coaPort: r.coa_port,
    requireMessageAuthenticator: r.rma,
    authMode: r.auth_mode,
    apiKind: r.api_kind,
    apiPort: r.api_port,
    apiUsername: r.api_username,
    apiPasswordSet: r.api_password_set,
    restUrl: r.rest_url,
    apiTls: r.api_tls,
    tlsFingerprint: r.tls_fingerprint,
    tlsInsecure: r.tls_insecure,
  };
}
type AuditView = ReturnType<typeof auditView>;

function diff(before: AuditView, after: AuditView): { before: Partial<AuditView>; after: Partial<AuditView> } {
  const b: Record<string, unknown> = {};
  const a: Record<string, unknown> = {};
  for (const k of Object.keys(after) as (keyof AuditView)[]) {
    if (before[k] !== after[k]) {
      b[k] = before[k];
      a[k] = after[k];
    }
  }
  return { before: b as Partial<AuditView>, after: a as Partial<AuditView> };
}

async function audit(tx: Tx, operator: Operator, action: string, routerId: number, details: Record<string, unknown>): Promise<void> {
  await tx.$executeRaw`
    INSERT INTO audit_log (operator_id, actor, action, entity_type, entity_id, details)
    VALUES (${operator.id}, ${operator.username}, ${action}, 'router', ${String(routerId)}, ${JSON.stringify(details)}::jsonb)`;
}

async function readRow(tx: Tx | Prisma, id: number, lock: boolean): Promise<RouterRow | null> {
  const rows = await tx.$queryRawUnsafe<RouterRow[]>(`SELECT ${routerColumns} FROM routers WHERE id = $1${lock ? " FOR UPDATE" : ""}`, id);
  return rows[0] ?? null;
}

async function openSessionsOf(tx: Tx, routerId: number): Promise<number> {
  const r = await tx.$queryRaw<{ n: number }[]>`SELECT count(*)::int AS n FROM radius_sessions WHERE router_id = ${routerId} AND status = 'active'`;
  return r[0]?.n ?? 0;
}

/** Name and address are unique; a clear message instead of a constraint name. */
async function checkUnique(tx: Tx, name: string, ip: string, exceptId: number | null): Promise<void> {
  const clash = await tx.$queryRaw<{ id: number; name: string; ip: string; by_ip: boolean }[]>`
    SELECT id, name, host(ip_address) AS ip, ip_address = ${ip}::inet AS by_ip FROM routers
     WHERE (ip_address = ${ip}::inet OR lower(name) = lower(${name})) AND id IS DISTINCT FROM ${exceptId}::int
     ORDER BY by_ip DESC LIMIT 1`;
  const c = clash[0];
  if (!c) return;
  if (c.by_ip) throw new RouterAdminError(`The address ${c.ip} is already used by router ${c.name}`, "CONFLICT");
  throw new RouterAdminError(`A router named ${c.name} already exists`, "CONFLICT");
}

/** A unique violation that slipped past the checks (a write by SQL meanwhile) is still a clear conflict. */
function asConflict(err: unknown): never {
  const code = (err as { code?: unknown }).code;
  if (code === "P2002") throw new RouterAdminError("A router with this name or address already exists", "CONFLICT");
  throw err;
}

export async function listRouters(prisma: Prisma): Promise<RouterDto[]> {
  const [rows, sessions, secretChanges] = await Promise.all([
    prisma.$queryRawUnsafe<RouterRow[]>(`SELECT ${routerColumns} FROM routers ORDER BY active DESC, name LIMIT ${routersListMax}`),
    // The NOC wall's aggregate (services/noc.ts): served by radius_sessions(status, started_at).
    prisma.radiusSession.groupBy({ by: ["routerId"], where: { status: "active" }, _count: { _all: true }, _max: { lastUpdateAt: true } }),
    prisma.$queryRaw<{ id: string; at: Date }[]>`
      SELECT entity_id AS id, max(at) AS at FROM audit_log
       WHERE entity_type = 'router' AND details ? 'secretChanged' GROUP BY entity_id`,
  ]);
  const byRouter = new Map(sessions.map((s) => [s.routerId, s]));
  const changed = new Map(secretChanges.map((s) => [Number(s.id), s.at]));
  return rows.map((r) => {
    const s = byRouter.get(r.id);
    return {
      id: r.id,
      // The same fields an audit row may hold: never the secrets themselves.
      ...auditView(r),
      secretSet: true,
      secretChangedAt: changed.get(r.id)?.toISOString() ?? null,
      openSessions: s?._count._all ?? 0,
      lastSeenAt: s?._max.lastUpdateAt?.toISOString() ?? null,
      createdAt: r.created_at.toISOString(),
    };
  });
}

type CreateInput = z.output<typeof routerCreateInput>;
type UpdateInput = z.output<typeof routerUpdateInput>;

/** The columns a validated form sets (the secrets separately). API fields are cleared with api_kind none. */
function columnsOf(v: CreateInput | UpdateInput) {
  const api = v.apiKind !== "none";
  return {
    name: v.name,
    vendor: v.vendor,
    location: v.location === "" ? null : v.location,
    coaPort: v.coaPort,
    requireMessageAuthenticator: v.requireMessageAuthenticator,
    authMode: v.authMode,
    apiKind: v.apiKind,
    // The port is the API's (8728/8729); REST takes its port from the URL.
    apiPort: v.apiKind === "api" ? v.apiPort : null,
    apiUsername: api ? v.apiUsername : null,
    restUrl: v.apiKind === "rest" ? v.restUrl : null,
    apiTls: v.apiTls,
    tlsFingerprint: v.tlsFingerprint === "" ? null : normalizeFingerprint(v.tlsFingerprint),
    tlsInsecure: v.tlsInsecure,
  };
}

export async function createRouter(prisma: Prisma, operator: Operator, v: CreateInput): Promise<{ id: number }> {
  return prisma
    .$transaction(async (tx) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(${routersLockKey})`;
      const ip = (await tx.$queryRaw<{ ip: string }[]>`SELECT host(${v.ipAddress}::inet) AS ip`)[0]!.ip;
      await checkUnique(tx, v.name, ip, null);
      const created = await tx.router.create({
        data: {
          ...columnsOf(v),
          ipAddress: ip,
          radiusSecret: v.radiusSecret,
          apiPassword: v.apiKind !== "none" ? (v.apiPassword ?? null) : null,
          active: true,
        },
        select: { id: true },
      });
      const row = (await readRow(tx, created.id, false))!;
      await audit(tx, operator, "router.created", row.id, { after: auditView(row), secretChanged: true, ...(row.api_password_set ? { apiPasswordChanged: true } : {}) });
      return { id: row.id };
    })
    .catch(asConflict);
}

export async function updateRouter(prisma: Prisma, operator: Operator, v: UpdateInput): Promise<{ id: number; changed: boolean }> {
  return prisma
    .$transaction(async (tx) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(${routersLockKey})`;
      const before = await readRow(tx, v.id, true);
      if (!before) throw new RouterAdminError("Router not found", "NOT_FOUND");
      const ip = (await tx.$queryRaw<{ ip: string }[]>`SELECT host(${v.ipAddress}::inet) AS ip`)[0]!.ip;
      await checkUnique(tx, v.name, ip, v.id);
      const api = v.apiKind !== "none";
      if (api && !before.api_password_set && !v.apiPassword) throw new RouterAdminError("Enter the RouterOS API password", "PRECONDITION_FAILED");
      const secretChanged = v.radiusSecret !== undefined;
      const apiPasswordChanged = api ? v.apiPassword !== undefined : before.api_password_set;
      await tx.router.update({
        where: { id: v.id },
        data: {
          ...columnsOf(v),
          ipAddress: ip,
          ...(secretChanged ? { radiusSecret: v.radiusSecret } : {}),
          ...(!api ? { apiPassword: null } : v.apiPassword !== undefined ? { apiPassword: v.apiPassword } : {}),
        },
      });
      const after = (await readRow(tx, v.id, false))!;
      const d = diff(auditView(before), auditView(after));
      const changed = Object.keys(d.after).length > 0 || secretChanged || apiPasswordChanged;
      if (changed) {
        await audit(tx, operator, "router.updated", v.id, {
          name: after.name,
          ...d,
          ...(secretChanged ? { secretChanged: true } : {}),
          ...(apiPasswordChanged ? { apiPasswordChanged: true } : {}),
        });
      }
      return { id: v.id, changed };
    })
    .catch(asConflict);
}

/**
 * Inactive: the collector drops the NAS's RADIUS packets like an unknown NAS's (auth and
 * accounting). With open sessions the caller must confirm (`confirmOpenSessions` = the
 * count it showed the operator, at least the current one); otherwise PRECONDITION_FAILED
 * carries the current count.
 */
export async function setRouterActive(
  prisma: Prisma,
  operator: Operator,
  input: { id: number; active: boolean; confirmOpenSessions?: number | undefined },
): Promise<{ id: number; active: boolean; openSessions: number }> {
  return prisma.$transaction(async (tx) => {
    const before = await readRow(tx, input.id, true);
    if (!before) throw new RouterAdminError("Router not found", "NOT_FOUND");
    if (before.active === input.active) throw new RouterAdminError(`Router ${before.name} is already ${input.active ? "active" : "inactive"}`, "CONFLICT");
    const open = await openSessionsOf(tx, input.id);
    // Confirmed for fewer sessions than there are now: ask again with the new count.
    if (!input.active && open > 0 && (input.confirmOpenSessions === undefined || open > input.confirmOpenSessions)) {
      throw new RouterAdminError(`Router ${before.name} has ${open} open session${open === 1 ? "" : "s"}; confirm to deactivate it`, "PRECONDITION_FAILED", open);
    }
    await tx.$executeRaw`UPDATE routers SET active = ${input.active} WHERE id = ${input.id}`;
    await audit(tx, operator, input.active ? "router.reactivated" : "router.deactivated", input.id, {
      name: before.name,
      ipAddress: before.ip,
      before: { active: before.active },
      after: { active: input.active },
      openSessions: open,
    });
    return { id: input.id, active: input.active, openSessions: open };
  });
}
