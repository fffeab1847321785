import "server-only";
import { formatMoney, type CurrencyCode } from "@isp/billing/money";
import type { createPrisma } from "@isp/db/client";
import { formatKbps } from "../../lib/format";
import type { LiveSession } from "../../lib/live-protocol";
import type { EnforcementActionDto, SessionHistory, SubscriberDetail, SubscriberRow } from "../dto";
import { toActionDto } from "./enforcement";

type Prisma = ReturnType<typeof createPrisma>;
type Scope = { dealerId?: number };

export const searchLimitMax = 50;
const historySessionsMax = 10;
const recentActionsMax = 10;

export async function searchSubscribers(prisma: Prisma, scope: Scope, q: string, limit: number): Promise<SubscriberRow[]> {
  const term = q.trim();
  const contains = (field: string) => ({ [field]: { contains: term, mode: "insensitive" as const } });
  const rows = await prisma.subscriber.findMany({
    where: {
      ...scope,
      ...(term
        ? { OR: [contains("accountNo"), contains("name"), contains("phone"), contains("pppoeUsername"), contains("cnic")] }
        : {}),
    },
    orderBy: { accountNo: "asc" },
    take: Math.min(limit, searchLimitMax),
    select: {
      id: true,
      accountNo: true,
      name: true,
      phone: true,
      status: true,
      plan: { select: { name: true } },
      dealer: { select: { name: true } },
      sessions: { where: { status: "active" }, select: { id: true }, take: 1 },
    },
  });
  return rows.map((r) => ({
    id: r.id,
    accountNo: r.accountNo,
    name: r.name,
    phone: r.phone,
    planName: r.plan.name,
    status: r.status,
    dealerName: r.dealer?.name ?? null,
    online: r.sessions.length > 0,
  }));
}

/** RouterOS rate notation: 2048 -> "2M", 1536 -> "1536k" (as @isp/network writes it). */
function routerOsRate(kbps: number): string {
  if (kbps <= 0) return "0";
  return kbps % 1024 === 0 ? `${kbps / 1024}M` : `${kbps}k`;
}

/**
 * The Mikrotik-Rate-Limit the collector sends for this plan: rx/tx from the router's
 * side, so upload first, then download. The web app may not import @isp/network (package
 * graph), so the two-line format is repeated here; the collector's live push is authoritative.
 */
export function rateLimitFor(plan: { uploadKbps: number; downloadKbps: number }): string {
  return `${routerOsRate(plan.uploadKbps)}/${routerOsRate(plan.downloadKbps)}`;
}

export async function getSubscriber(prisma: Prisma, scope: Scope, id: number): Promise<SubscriberDetail | null> {
  const s = await prisma.subscriber.findFirst({
    where: { id, ...scope },
    include: {
      plan: true,
      dealer: { select: { code: true, name: true } },
      sessions: {
        orderBy: { startedAt: "desc" },
        take: historySessionsMax,
        include: { router: { select: { name: true } } },
      },
      actions: {
        orderBy: { requestedAt: "desc" },
        take: recentActionsMax,
        include: { requestedBy: { select: { username: true } } },
      },
    },
  });
  if (!s) return null;
  const rateLimit = rateLimitFor(s.plan);
  const active = s.sessions.find((x) => x.status === "active") ?? null;
  const session: LiveSession | null = active
    ? {
        id: String(active.id),
        routerName: active.router.name,
        acctSessionId: active.acctSessionId,
        framedIp: active.framedIp,
        callingStationId: active.callingStationId,
        startedAt: active.startedAt.toISOString(),
        lastUpdateAt: active.lastUpdateAt.toISOString(),
        inputOctets: String(active.inputOctets),
        outputOctets: String(active.outputOctets),
        inputBps: String(active.inputBps),
        outputBps: String(active.outputBps),
        rateLimit,
      }
    : null;
  const sessions: SessionHistory[] = s.sessions.map((x) => ({
    id: String(x.id),
    routerName: x.router.name,
    framedIp: x.framedIp,
    status: x.status,
    startedAt: x.startedAt.toISOString(),
    stoppedAt: x.stoppedAt?.toISOString() ?? null,
    sessionTimeS: x.sessionTimeS,
    inputOctets: String(x.inputOctets),
    outputOctets: String(x.outputOctets),
    terminateCause: x.terminateCause,
  }));
  const actions: EnforcementActionDto[] = s.actions.map(toActionDto);
  return {
    id: s.id,
    accountNo: s.accountNo,
    name: s.name,
    phone: s.phone,
    cnic: s.cnic,
    address: s.address,
    city: s.city,
    status: s.status,
    pppoeUsername: s.pppoeUsername,
    staticIp: s.staticIp,
    plan: {
      id: s.plan.id,
      name: s.plan.name,
      rate: `${formatKbps(s.plan.downloadKbps)} down / ${formatKbps(s.plan.uploadKbps)} up`,
      price: formatMoney(s.plan.pricePaisa, s.plan.currency.trim() as CurrencyCode),
      billingCycle: s.plan.billingCycle,
    },
    dealer: s.dealer,
    session,
    sessions,
    actions,
  };
}

export async function subscriberVisible(prisma: Prisma, scope: Scope, id: number): Promise<boolean> {
  const n = await prisma.subscriber.count({ where: { id, ...scope } });
  return n > 0;
}
