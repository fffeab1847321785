// IPv6 compliance lookups against a real, migrated and seeded PostgreSQL (TEST_DATABASE_URL):
// leases in ipv6_leases (as ipv6_allocate writes them), session prefixes in radius_sessions
// (as the collector records Delegated-IPv6-Prefix), answered through the tRPC procedure, the
// CSV generator and the signed PDF, with the audit rows read back.
import { createIpv6Pool } from "@isp/db/ipv6-pools";
import { seed } from "@isp/db/seed";
import { createTestDatabase, type TestDatabase } from "@isp/db/testing";
import { TRPCError } from "@trpc/server";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { OperatorRole } from "../../lib/roles";
import { createCaller } from "./_app";

vi.hoisted(() => {
  process.env.COMPLIANCE_SIGNING_KEY = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
});

const { signingKey } = await import("../compliance/signing-key");
const { renderReportPdf } = await import("../compliance/pdf");
const { findPrefixHolders, ipv6CsvHeader, ipv6LookupCsv, ipv6ReportData } = await import("../services/compliance");
const { signReport, verifyReportPdf } = await import("../../lib/report-signature");

type Sub = { id: number; accountNo: string; cnic: string; name: string; pppoeUsername: string };

let tdb: TestDatabase;
let pool: pg.Pool;
let officerId: number;
let one: Sub;
let two: Sub;
let three: Sub;
let routerId: number;

const prefix = "2400:abcd:12:3400::/56";
const t0 = new Date("2026-11-24T10:00:00.000Z");
const at = (s: number) => new Date(t0.getTime() + s * 1000);
const iso = (s: number) => at(s).toISOString();
const window = (address: string, fromS: number, toS = fromS) => ({ address, from: iso(fromS), to: iso(toS) });

function callerAs(role: OperatorRole | null, id = 1) {
  const operator = role ? { id, username: role, name: role, role, dealerId: null } : null;
  return createCaller({ operator, db: () => tdb.prisma, pg: () => pool });
}

async function expectCode(p: Promise<unknown>, code: TRPCError["code"]) {
  await expect(p).rejects.toSatisfy((e: unknown) => e instanceof TRPCError && e.code === code);
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  await seed(tdb.prisma, { subscribers: 20 });
  pool = new pg.Pool({ connectionString: tdb.url, max: 2 });
  officerId = (await tdb.prisma.operator.findUniqueOrThrow({ where: { username: "compliance" } })).id;
  const select = { id: true, accountNo: true, cnic: true, name: true, pppoeUsername: true } as const;
  [one, two, three] = (await tdb.prisma.subscriber.findMany({ orderBy: { id: "asc" }, take: 3, select })) as [Sub, Sub, Sub];
  routerId = (await tdb.prisma.router.findFirstOrThrow({ where: { name: "KHI-BNG-01" } })).id;
  const v6 = await createIpv6Pool(pool, { name: "KHI-PD", network: "2400:abcd::/40", prefixLength: 56, routerId });
  // The /56 (index 0x1234) held by `one` from an hour before t0 to an hour after, then by
  // `two` (still open): the rows ipv6_allocate and releasePrefixes leave behind.
  await pool.query(
    `INSERT INTO ipv6_leases (pool_id, idx, prefix, kind, subscriber_id, router_id, opened_at, granted_at, closed_at, close_reason)
     VALUES ($1, 4660, $2, 'delegated', $3, $4, $5, $5, $6, 'stop'),
            ($1, 4660, $2, 'delegated', $7, $4, $6, $6, NULL, NULL)`,
    [v6.id, prefix, one.id, routerId, at(-3600), at(3600), two.id],
  );
  // `one`'s PPPoE session that used the prefix, and `three` on a NAS delegating from its own
  // pool: only accounting knows that prefix (no lease).
  await pool.query(
    `INSERT INTO radius_sessions (router_id, acct_session_id, subscriber_id, username, status, framed_ip, calling_station_id, started_at, last_update_at, stopped_at, terminate_cause, delegated_ipv6_prefix)
     VALUES ($1, 'v6-one', $2, $3, 'stopped', '100.64.1.10', '4C:5E:0C:AA:00:01', $4, $5, $5, 'User-Request', $6),
            ($1, 'v6-nas', $7, $8, 'stopped', '100.64.1.11', '4C:5E:0C:AA:00:03', $9, $10, $10, 'Lost-Carrier', '2400:dddd:1::/56')`,
    [routerId, one.id, one.pppoeUsername, at(-3600), at(3600), prefix, three.id, three.pppoeUsername, at(-1800), at(1800)],
  );
}, 120_000);

afterAll(async () => {
  await pool?.end();
  await tdb?.drop();
});

describe("compliance.lookupIpv6", () => {
  it("refuses everyone but compliance officers, and audits nothing for them", async () => {
    const before = await tdb.prisma.auditLog.count();
    await expectCode(callerAs(null).compliance.lookupIpv6(window("2400:abcd:12:3401::10", 0)), "UNAUTHORIZED");
    for (const role of ["admin", "noc", "support", "manager", "dealer"] as const) {
      await expectCode(callerAs(role).compliance.lookupIpv6(window("2400:abcd:12:3401::10", 0)), "FORBIDDEN");
    }
    expect(await tdb.prisma.auditLog.count()).toBe(before);
  });

  it("an address inside the /56 names its holder (lease and session), in any spelling, and is audited", async () => {
    const api = callerAs("compliance", officerId);
    const res = await api.compliance.lookupIpv6(window("[2400:ABCD:0012:3401:0000:0000:0000:0010]", -300, 300));
    expect(res.query).toEqual({ family: "ipv6", publicIp: "2400:abcd:12:3401::10", publicPort: null, from: iso(-300), to: iso(300) });
    expect(res.rows.map((r) => r.source).sort()).toEqual(["lease", "session"]);
    const lease = res.rows.find((r) => r.source === "lease")!;
    expect(lease).toEqual({
      source: "lease",
      prefix,
      from: iso(-3600),
      until: iso(3600),
      routerName: "KHI-BNG-01",
      username: one.pppoeUsername,
      acctSessionId: null,
      mac: null,
      framedIp: null,
      subscriber: expect.objectContaining({ id: one.id, accountNo: one.accountNo, name: one.name, cnic: one.cnic }),
    });
    expect(res.rows.find((r) => r.source === "session")).toMatchObject({
      prefix,
      acctSessionId: "v6-one",
      mac: "4C:5E:0C:AA:00:01",
      framedIp: "100.64.1.10",
      routerName: "KHI-BNG-01",
      subscriber: { id: one.id, cnic: one.cnic },
    });
    const audit = await tdb.prisma.auditLog.findUniqueOrThrow({ where: { id: BigInt(res.auditId) } });
    expect(audit).toMatchObject({ operatorId: officerId, actor: "compliance", action: "compliance.lookup", entityType: "public_ip", entityId: "2400:abcd:12:3401::10" });
    expect(audit.details).toMatchObject({ query: res.query, resultCount: 2, truncated: false, subscriberIds: [one.id] });
  });

  it("an address outside every held prefix: no holder, answered explicitly and audited", async () => {
    const res = await callerAs("compliance", officerId).compliance.lookupIpv6(window("2400:abcd:12:3500::1", -300, 300));
    expect(res.rows).toEqual([]);
    const audit = await tdb.prisma.auditLog.findUniqueOrThrow({ where: { id: BigInt(res.auditId) } });
    expect(audit.details).toMatchObject({ resultCount: 0, query: { publicIp: "2400:abcd:12:3500::1" } });
  });

  it("a prefix query finds the prefixes inside it over a range, newest first; host bits are cleared", async () => {
    const api = callerAs("compliance", officerId);
    const wide = await api.compliance.lookupIpv6(window("2400:abcd:12::/48", -7200, 7200));
    expect(wide.rows.map((r) => [r.source, r.subscriber?.id, r.from])).toEqual([
      ["lease", two.id, iso(3600)],
      ["lease", one.id, iso(-3600)],
      ["session", one.id, iso(-3600)],
    ]);
    expect(wide.rows[0]!.until).toBeNull();
    const exact = await api.compliance.lookupIpv6(window("2400:abcd:12:3401::/56", 4000));
    expect(exact.query.publicIp).toBe(prefix);
    expect(exact.rows.map((r) => r.subscriber?.id)).toEqual([two.id]);
  });

  it("time boundaries: nothing just before the lease opened; at the moment it closed, only the next holder", async () => {
    const api = callerAs("compliance", officerId);
    const before = await api.compliance.lookupIpv6({ address: "2400:abcd:12:3401::10", from: new Date(at(-3600).getTime() - 1).toISOString(), to: new Date(at(-3600).getTime() - 1).toISOString() });
    expect(before.rows).toEqual([]);
    const opened = await api.compliance.lookupIpv6(window("2400:abcd:12:3401::10", -3600));
    expect(opened.rows.map((r) => [r.source, r.subscriber?.id]).sort()).toEqual([
      ["lease", one.id],
      ["session", one.id],
    ]);
    const closed = await api.compliance.lookupIpv6(window("2400:abcd:12:3401::10", 3600));
    expect(closed.rows.map((r) => [r.source, r.subscriber?.id])).toEqual([["lease", two.id]]);
  });

  it("a prefix the NAS delegated itself (recorded on the session, no lease) is found from accounting", async () => {
    const res = await callerAs("compliance", officerId).compliance.lookupIpv6(window("2400:dddd:1:ab::5", 0));
    expect(res.rows).toEqual([
      {
        source: "session",
        prefix: "2400:dddd:1::/56",
        from: iso(-1800),
        until: iso(1800),
        routerName: "KHI-BNG-01",
        username: three.pppoeUsername,
        acctSessionId: "v6-nas",
        mac: "4C:5E:0C:AA:00:03",
        framedIp: "100.64.1.11",
        subscriber: expect.objectContaining({ id: three.id, accountNo: three.accountNo, cnic: three.cnic }),
      },
    ]);
    expect((await callerAs("compliance", officerId).compliance.lookupIpv6(window("2400:dddd:1:ab::5", 1800))).rows).toEqual([]);
  });

  it("refuses bad input as BAD_REQUEST: zone, too short a prefix, not an address, inverted range", async () => {
    const api = callerAs("compliance", officerId);
    const before = await tdb.prisma.auditLog.count();
    await expectCode(api.compliance.lookupIpv6(window("fe80::1%eth0", 0)), "BAD_REQUEST");
    await expectCode(api.compliance.lookupIpv6(window("2400::/8", 0)), "BAD_REQUEST");
    await expectCode(api.compliance.lookupIpv6(window("2400:abcd::12::1", 0)), "BAD_REQUEST");
    await expectCode(api.compliance.lookupIpv6({ address: "2400:abcd:12:3401::10", from: iso(300), to: iso(-300) }), "BAD_REQUEST");
    expect(await tdb.prisma.auditLog.count()).toBe(before);
  });
});

describe("IPv6 exports", () => {
  it("CSV: the holder columns with PKT and UTC times, one line per holder", async () => {
    const result = await findPrefixHolders({ prisma: tdb.prisma, pg: pool }, window("2400:abcd:12:3401::10", -300, 300));
    const csv = ipv6LookupCsv(result);
    expect(csv.charCodeAt(0)).toBe(0xfeff);
    const lines = csv.slice(1).split("\r\n");
    expect(lines[0]).toBe(ipv6CsvHeader.join(","));
    expect(lines[0]).toBe(
      "queried,source,delegated_prefix,from_pkt,from_utc,until_pkt,until_utc,router,account_no,name,cnic,phone,address,city,pppoe_username,acct_session_id,mac,framed_ip",
    );
    expect(lines).toHaveLength(4); // header, two holders, and the empty string after the last CRLF
    const lease = lines.find((l) => l.includes(",lease,"))!;
    expect(lease).toMatch(/^2400:abcd:12:3401::10,lease,2400:abcd:12:3400::\/56,2026-11-24 14:00:00 PKT,2026-11-24 09:00:00 UTC,2026-11-24 16:00:00 PKT,2026-11-24 11:00:00 UTC,KHI-BNG-01,/);
    expect(lease).toContain(`,${one.accountNo},`);
    expect(lease).toContain(one.cnic);
    const session = lines.find((l) => l.includes(",session,"))!;
    expect(session).toMatch(/,v6-one,4C:5E:0C:AA:00:01,100\.64\.1\.10$/);
  });

  it("the signed PDF report of an IPv6 lookup verifies (tRPC verify and the library); an altered one does not", async () => {
    const api = callerAs("compliance", officerId);
    const result = await findPrefixHolders({ prisma: tdb.prisma, pg: pool }, window("2400:abcd:12:3401::10", -300, 300));
    const data = ipv6ReportData(result, { isp: "Test ISP", reference: "FIA/2026/V6", generatedAt: t0, operator: { id: officerId, username: "compliance", name: "Ayesha Rauf" } });
    expect(data.format).toBe("isp-compliance-report-ipv6/1");
    const signed = signReport(data, signingKey().privateKey);
    const pdf = await renderReportPdf(data, signed);
    expect(pdf.subarray(0, 5).toString()).toBe("%PDF-");
    const lib = verifyReportPdf(pdf, signingKey().publicKey);
    expect(lib.ok && lib.data).toMatchObject({ format: "isp-compliance-report-ipv6/1", resultCount: 2, query: { family: "ipv6", publicIp: "2400:abcd:12:3401::10" } });
    const ok = await api.compliance.verify({ pdfBase64: pdf.toString("base64") });
    expect(ok).toMatchObject({
      ok: true,
      sha256: signed.sha256,
      reference: "FIA/2026/V6",
      resultCount: 2,
      query: { publicIp: "2400:abcd:12:3401::10", publicPort: null, from: iso(-300), to: iso(300) },
    });
    const altered = Buffer.from(pdf.toString("latin1").replace(signed.signature, signed.signature.replace(/^./, (c) => (c === "A" ? "B" : "A"))), "latin1");
    expect(await api.compliance.verify({ pdfBase64: altered.toString("base64") })).toMatchObject({ ok: false, reference: "FIA/2026/V6" });

    // An empty answer still makes a (verifiable) report that says "no holder".
    const none = await findPrefixHolders({ prisma: tdb.prisma, pg: pool }, window("2400:abcd:12:3500::1", 0));
    const emptyData = ipv6ReportData(none, { isp: "Test ISP", reference: "FIA/2026/V6-0", generatedAt: t0, operator: { id: officerId, username: "compliance", name: "Ayesha Rauf" } });
    const emptyPdf = await renderReportPdf(emptyData, signReport(emptyData, signingKey().privateKey));
    expect(verifyReportPdf(emptyPdf, signingKey().publicKey)).toMatchObject({ ok: true, data: { resultCount: 0 } });
  });
});
