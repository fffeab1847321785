import "server-only";
import type { createPrisma } from "@isp/db/client";
import { whoHadPrefixBetween } from "@isp/db/ipv6-pools";
import { lookupNat, searchSessions, type NatLookupRow, type SessionHistoryRow } from "@isp/db/nat-log";
import type { Queryable } from "@isp/db/timeseries";
import { toCsv } from "../../lib/csv";
import { lookupLimitMax, normalizeMac, sessionLimitMax, type Ipv6LookupQuery, type LookupQuery, type SessionQuery } from "../../lib/compliance-query";
import { formatPkt, formatUtc } from "../../lib/pkt";
import { ipv6ReportFormat, reportFormat } from "../../lib/report-signature";
import type {
  ComplianceSession,
  ComplianceSubscriber,
  Ipv6LookupResult,
  LookupResult,
  NatRecord,
  PrefixHolderRecord,
  SessionRecord,
  SessionResult,
} from "../compliance/dto";

type Prisma = ReturnType<typeof createPrisma>;

export interface ComplianceActor {
  id: number;
  username: string;
  name: string;
}

export interface ComplianceDeps {
  prisma: Prisma;
  pg: Queryable;
  operator: ComplianceActor;
}

/** Distinct subscribers (or unattributed private IPs) whose sessions one answer looks up. */
export const sessionLookupsMax = 100;
/** Subscriber ids named in one audit row; the count is always complete. */
const auditSubscribersMax = 100;

export type LookupAuditAction = "compliance.lookup" | "compliance.export.csv" | "compliance.export.pdf";

const subscriberSelect = { id: true, accountNo: true, name: true, cnic: true, phone: true, address: true, city: true } as const;

async function subscribersById(prisma: Prisma, ids: Iterable<number>): Promise<Map<number, ComplianceSubscriber>> {
  const list = [...new Set(ids)];
  if (list.length === 0) return new Map();
  const rows = await prisma.subscriber.findMany({ where: { id: { in: list } }, select: subscriberSelect });
  return new Map(rows.map((s) => [s.id, s]));
}

function toSession(s: SessionHistoryRow): ComplianceSession {
  return {
    id: s.id,
    subscriberId: s.subscriberId,
    username: s.username,
    routerName: s.routerName,
    framedIp: s.framedIp,
    mac: s.callingStationId,
    loginAt: s.startedAt.toISOString(),
    logoffAt: s.stoppedAt?.toISOString() ?? null,
    terminateCause: s.terminateCause,
    acctSessionId: s.acctSessionId,
  };
}

/**
 * The session around a NAT record: the one the collector named at ingest, else the one open
 * at that moment, the record's own router first (two routers may hand out the same private
 * range), then the latest started.
 */
export function sessionHolding(
  candidates: readonly SessionHistoryRow[],
  r: Pick<NatLookupRow, "time" | "acctSessionId" | "subscriberId" | "routerName">,
): SessionHistoryRow | null {
  if (r.acctSessionId) {
    const named = candidates.find((s) => s.acctSessionId === r.acctSessionId && (r.subscriberId === null || s.subscriberId === r.subscriberId));
    if (named) return named;
  }
  const t = r.time.getTime();
  let best: SessionHistoryRow | null = null;
  const rank = (s: SessionHistoryRow) => (r.routerName !== null && s.routerName === r.routerName ? 1 : 0);
  for (const s of candidates) {
    if (s.startedAt.getTime() > t) continue;
    if (s.stoppedAt && s.stoppedAt.getTime() < t) continue;
    if (!best || rank(s) > rank(best) || (rank(s) === rank(best) && s.startedAt > best.startedAt)) best = s;
  }
  return best;
}

async function audit(
  prisma: Prisma,
  operator: ComplianceActor,
  action: string,
  entityType: string,
  entityId: string,
  details: Record<string, unknown>,
): Promise<string> {
  const row = await prisma.auditLog.create({
    data: { operatorId: operator.id, actor: operator.username, action, entityType, entityId, details: details as object },
    select: { id: true },
  });
  return String(row.id);
}

/**
 * Who had `publicIp`(:`publicPort`) between `from` and `to`: the NAT records with the
 * subscriber and the RADIUS session around each. Not audited: callers go through
 * `lookupNatRecords` or write the audit row themselves before anything leaves.
 */
export async function findNatRecords(deps: Omit<ComplianceDeps, "operator">, query: LookupQuery): Promise<NatLookup> {
  const from = new Date(query.from);
  const to = new Date(query.to);
  const found = await lookupNat(deps.pg, { publicIp: query.publicIp, publicPort: query.publicPort, from, to, limit: lookupLimitMax });

  // One session search per subscriber (or per private IP the collector could not attribute),
  // over the span of the answer, instead of one per record.
  const times = found.rows.map((r) => r.time.getTime());
  const spanFrom = new Date(Math.min(...times));
  const spanTo = new Date(Math.max(...times));
  const bySubscriber = new Map<number, SessionHistoryRow[]>();
  const byIp = new Map<string, SessionHistoryRow[]>();
  let sessionsIncomplete = false;
  let lookups = 0;
  for (const r of found.rows) {
    const key = r.subscriberId ?? r.privateIp;
    const cache: Map<number | string, SessionHistoryRow[]> = r.subscriberId !== null ? bySubscriber : byIp;
    if (cache.has(key)) continue;
    if (lookups >= sessionLookupsMax) {
      sessionsIncomplete = true;
      continue;
    }
    lookups += 1;
    const res = await searchSessions(deps.pg, {
      ...(r.subscriberId !== null ? { subscriberId: r.subscriberId } : { ip: r.privateIp }),
      from: spanFrom,
      to: spanTo,
      limit: sessionLimitMax,
    });
    cache.set(key, res.rows);
  }

  const matched = found.rows.map((r): { row: NatLookupRow; session: SessionHistoryRow | null } => {
    const candidates = r.subscriberId !== null ? bySubscriber.get(r.subscriberId) : byIp.get(r.privateIp);
    return { row: r, session: candidates ? sessionHolding(candidates, r) : null };
  });
  const subscriberIds = new Set<number>();
  for (const { row, session } of matched) {
    const id = row.subscriberId ?? session?.subscriberId ?? null;
    if (id !== null) subscriberIds.add(id);
  }
  const subscribers = await subscribersById(deps.prisma, subscriberIds);

  const rows: NatRecord[] = matched.map(({ row, session }) => {
    const subscriberId = row.subscriberId ?? session?.subscriberId ?? null;
    return {
      time: row.time.toISOString(),
      event: row.event,
      routerName: row.routerName,
      protocol: row.protocol,
      privateIp: row.privateIp,
      privatePort: row.privatePort,
      publicIp: row.publicIp,
      publicPort: row.publicPort,
      destIp: row.destIp,
      destPort: row.destPort,
      pppoeUser: row.pppoeUser,
      srcMac: row.srcMac,
      acctSessionId: row.acctSessionId ?? session?.acctSessionId ?? null,
      resolvedBy: row.subscriberId !== null ? "ingest" : subscriberId !== null ? "session" : null,
      subscriber: subscriberId !== null ? (subscribers.get(subscriberId) ?? null) : null,
      session: session ? toSession(session) : null,
    };
  });
  const dto = { publicIp: query.publicIp, publicPort: query.publicPort, from: from.toISOString(), to: to.toISOString() };
  return { query: dto, rows, truncated: found.truncated, sessionsIncomplete };
}

/** The audit row of a lookup or an export (IPv4 NAT or IPv6 holders): who (the operator), when (the row's time), the query, how many results. */
export async function auditLookup(
  deps: Pick<ComplianceDeps, "prisma" | "operator">,
  action: LookupAuditAction,
  result: NatLookup | Ipv6Lookup,
  details: Record<string, unknown> = {},
): Promise<string> {
  const subscriberIds = [...new Set(result.rows.flatMap((r) => (r.subscriber ? [r.subscriber.id] : [])))];
  return audit(deps.prisma, deps.operator, action, "public_ip", result.query.publicIp, {
    query: result.query,
    resultCount: result.rows.length,
    truncated: result.truncated,
    subscriberIds: subscriberIds.slice(0, auditSubscribersMax),
    ...details,
  });
}

/** Lookup plus its audit row, written before the answer leaves: if it cannot be written, nobody sees the answer. */
export async function lookupNatRecords(deps: ComplianceDeps, query: LookupQuery, action: LookupAuditAction = "compliance.lookup"): Promise<LookupResult> {
  const result = await findNatRecords(deps, query);
  const auditId = await auditLookup(deps, action, result);
  return { ...result, auditId };
}

/** Login/logoff history by subscriber account, IP or MAC; audited like a lookup. */
export async function searchSessionHistory(deps: ComplianceDeps, query: SessionQuery): Promise<SessionResult> {
  const from = new Date(query.from);
  const to = new Date(query.to);
  let rows: SessionHistoryRow[] = [];
  let truncated = false;
  let unknownAccount = false;
  let value = query.value;
  if (query.by === "account") {
    const s = await deps.prisma.subscriber.findFirst({
      where: { accountNo: { equals: query.value, mode: "insensitive" } },
      select: { id: true, accountNo: true },
    });
    if (s) {
      value = s.accountNo;
      ({ rows, truncated } = await searchSessions(deps.pg, { subscriberId: s.id, from, to, limit: sessionLimitMax }));
    } else {
      unknownAccount = true;
    }
  } else if (query.by === "ip") {
    ({ rows, truncated } = await searchSessions(deps.pg, { ip: query.value, from, to, limit: sessionLimitMax }));
  } else {
    value = normalizeMac(query.value) ?? query.value;
    ({ rows, truncated } = await searchSessions(deps.pg, { mac: value, from, to, limit: sessionLimitMax }));
  }
  const subscribers = await subscribersById(
    deps.prisma,
    rows.flatMap((r) => (r.subscriberId === null ? [] : [r.subscriberId])),
  );
  const out: SessionRecord[] = rows.map((r) => ({
    ...toSession(r),
    subscriber: r.subscriberId !== null ? (subscribers.get(r.subscriberId) ?? null) : null,
  }));
  const auditId = await audit(deps.prisma, deps.operator, "compliance.sessions", query.by, value, {
    query: { by: query.by, value, from: from.toISOString(), to: to.toISOString() },
    resultCount: out.length,
    truncated,
    subscriberIds: [...subscribers.keys()].slice(0, auditSubscribersMax),
  });
  return { rows: out, truncated, unknownAccount, auditId };
}

/** Records a verification of a report (who checked which report, and the answer). */
export async function auditVerification(
  deps: Pick<ComplianceDeps, "prisma" | "operator">,
  details: { ok: boolean; reason: string | null; sha256: string | null; reference: string | null },
): Promise<void> {
  await audit(deps.prisma, deps.operator, "compliance.verify", "compliance_report", details.sha256 ?? "unknown", details);
}

/** "10.0.0.1:80", "[2001:db8::1]:80", or the bare address when there is no port (ICMP). */
export function hostPort(ip: string, port: number | null): string {
  return port === null ? ip : ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`;
}

export const csvHeader = [
  "time_pkt",
  "time_utc",
  "event",
  "router",
  "protocol",
  "private_ip",
  "private_port",
  "public_ip",
  "public_port",
  "destination_ip",
  "destination_port",
  "account_no",
  "name",
  "cnic",
  "phone",
  "address",
  "city",
  "session_login_pkt",
  "session_login_utc",
  "session_logoff_pkt",
  "session_logoff_utc",
  "mac",
  "framed_ip",
  "pppoe_username",
  "acct_session_id",
  "resolved_by",
] as const;

/** A lookup's answer before (or without) its audit row. */
export type NatLookup = Omit<LookupResult, "auditId">;

export function lookupCsv(result: NatLookup): string {
  const rows = result.rows.map((r) => [
    formatPkt(r.time),
    formatUtc(r.time),
    r.event,
    r.routerName,
    r.protocol,
    r.privateIp,
    r.privatePort,
    r.publicIp,
    r.publicPort,
    r.destIp,
    r.destPort,
    r.subscriber?.accountNo,
    r.subscriber?.name,
    r.subscriber?.cnic,
    r.subscriber?.phone,
    r.subscriber?.address,
    r.subscriber?.city,
    r.session ? formatPkt(r.session.loginAt) : null,
    r.session ? formatUtc(r.session.loginAt) : null,
    r.session?.logoffAt ? formatPkt(r.session.logoffAt) : null,
    r.session?.logoffAt ? formatUtc(r.session.logoffAt) : null,
    r.session?.mac ?? r.srcMac,
    r.session?.framedIp,
    r.session?.username ?? r.pppoeUser,
    r.acctSessionId,
    r.resolvedBy,
  ]);
  return toCsv(csvHeader, rows);
}

/** The signed content of a PDF report: everything the pages print, as data. */
export interface ReportData {
  format: typeof reportFormat;
  isp: string;
  reference: string;
  generatedAt: string;
  operator: { username: string; name: string };
  query: NatLookup["query"];
  resultCount: number;
  truncated: boolean;
  records: NatRecord[];
}

/** What a signed report says besides its records: the same for IPv4 (NAT) and IPv6 (holders). */
export interface ReportMeta {
  isp: string;
  reference: string;
  generatedAt: Date;
  operator: ComplianceActor;
}

/** The envelope in its signed key order; `records` are the result's rows as shown on the page. */
function reportEnvelope<F extends string, Q, R>(format: F, result: { query: Q; rows: R[]; truncated: boolean }, meta: ReportMeta) {
  return {
    format,
    isp: meta.isp,
    reference: meta.reference,
    generatedAt: meta.generatedAt.toISOString(),
    operator: { username: meta.operator.username, name: meta.operator.name },
    query: result.query,
    resultCount: result.rows.length,
    truncated: result.truncated,
    records: result.rows,
  };
}

export function reportData(result: NatLookup, meta: ReportMeta): ReportData {
  return reportEnvelope(reportFormat, result, meta);
}

// ---- IPv6: no NAT. An address belongs to whoever held the covering delegated prefix. ----

/** An IPv6 lookup's answer before (or without) its audit row. */
export type Ipv6Lookup = Omit<Ipv6LookupResult, "auditId">;

/**
 * Who held the IPv6 address (or prefix) at any moment of the window: the lease history and
 * the sessions' recorded prefixes (`whoHadPrefixBetween`), with subscriber and router.
 * Not audited: callers go through `lookupPrefixHolders` or audit before anything leaves.
 */
export async function findPrefixHolders(deps: Omit<ComplianceDeps, "operator">, query: Ipv6LookupQuery): Promise<Ipv6Lookup> {
  const from = new Date(query.from);
  const to = new Date(query.to);
  const found = await whoHadPrefixBetween(deps.pg, query.address, from, to, lookupLimitMax);
  const subscribers = await subscribersById(
    deps.prisma,
    found.rows.flatMap((h) => (h.subscriberId === null ? [] : [h.subscriberId])),
  );
  const routerIds = [...new Set(found.rows.flatMap((h) => (h.routerId === null ? [] : [h.routerId])))];
  const routers = routerIds.length
    ? new Map((await deps.prisma.router.findMany({ where: { id: { in: routerIds } }, select: { id: true, name: true } })).map((r) => [r.id, r.name]))
    : new Map<number, string>();
  const rows: PrefixHolderRecord[] = found.rows.map((h) => ({
    source: h.source,
    prefix: h.prefix,
    from: h.from.toISOString(),
    until: h.until?.toISOString() ?? null,
    routerName: h.routerId !== null ? (routers.get(h.routerId) ?? null) : null,
    username: h.username,
    acctSessionId: h.acctSessionId,
    mac: h.mac,
    framedIp: h.framedIp,
    subscriber: h.subscriberId !== null ? (subscribers.get(h.subscriberId) ?? null) : null,
  }));
  return {
    query: { family: "ipv6", publicIp: query.address, publicPort: null, from: from.toISOString(), to: to.toISOString() },
    rows,
    truncated: found.truncated,
  };
}

/** IPv6 lookup plus its audit row, written before the answer leaves. */
export async function lookupPrefixHolders(deps: ComplianceDeps, query: Ipv6LookupQuery, action: LookupAuditAction = "compliance.lookup"): Promise<Ipv6LookupResult> {
  const result = await findPrefixHolders(deps, query);
  const auditId = await auditLookup(deps, action, result);
  return { ...result, auditId };
}

export const ipv6CsvHeader = [
  "queried",
  "source",
  "delegated_prefix",
  "from_pkt",
  "from_utc",
  "until_pkt",
  "until_utc",
  "router",
  "account_no",
  "name",
  "cnic",
  "phone",
  "address",
  "city",
  "pppoe_username",
  "acct_session_id",
  "mac",
  "framed_ip",
] as const;

export function ipv6LookupCsv(result: Ipv6Lookup): string {
  const rows = result.rows.map((r) => [
    result.query.publicIp,
    r.source,
    r.prefix,
    formatPkt(r.from),
    formatUtc(r.from),
    r.until ? formatPkt(r.until) : "still held",
    r.until ? formatUtc(r.until) : "still held",
    r.routerName,
    r.subscriber?.accountNo,
    r.subscriber?.name,
    r.subscriber?.cnic,
    r.subscriber?.phone,
    r.subscriber?.address,
    r.subscriber?.city,
    r.username,
    r.acctSessionId,
    r.mac,
    r.framedIp,
  ]);
  return toCsv(ipv6CsvHeader, rows);
}

/** The signed content of an IPv6 report: the same envelope as `ReportData`, records are holders. */
export interface Ipv6ReportData {
  format: typeof ipv6ReportFormat;
  isp: string;
  reference: string;
  generatedAt: string;
  operator: { username: string; name: string };
  query: Ipv6Lookup["query"];
  resultCount: number;
  truncated: boolean;
  records: PrefixHolderRecord[];
}

export function ipv6ReportData(result: Ipv6Lookup, meta: ReportMeta): Ipv6ReportData {
  return reportEnvelope(ipv6ReportFormat, result, meta);
}
