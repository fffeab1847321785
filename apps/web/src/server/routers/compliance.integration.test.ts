// The compliance procedures against a real, migrated and seeded PostgreSQL (TEST_DATABASE_URL):
// NAT records stored with @isp/db/nat-log, sessions in radius_sessions, audit rows read back.
import { insertNatLog, type NatLogRow } from "@isp/db/nat-log";
import { seed } from "@isp/db/seed";
import { createTestDatabase, type TestDatabase } from "@isp/db/testing";
import { TRPCError } from "@trpc/server";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { OperatorRole } from "../../lib/roles";
import { createCaller } from "./_app";

// A fixed key from the environment, so the test never writes the development key file.
vi.hoisted(() => {
  process.env.COMPLIANCE_SIGNING_KEY = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
});

const { signingKey } = await import("../compliance/signing-key");
const { renderReportPdf } = await import("../compliance/pdf");
const { findNatRecords, lookupCsv, reportData } = await import("../services/compliance");
const { signReport } = await import("../../lib/report-signature");

let tdb: TestDatabase;
let pool: pg.Pool;
let officerId: number;
let subscriber: { id: number; accountNo: string; cnic: string; name: string };
let other: { id: number; accountNo: string };
let routerId: number;

const publicIp = "203.0.113.10";
const t0 = new Date("2026-11-24T10:00:00.000Z");
const at = (s: number) => new Date(t0.getTime() + s * 1000);

function callerAs(role: OperatorRole | null, id = 1) {
  const operator = role ? { id, username: role, name: role, role, dealerId: null } : null;
  return createCaller({ operator, db: () => tdb.prisma, pg: () => pool });
}

async function expectCode(p: Promise<unknown>, code: TRPCError["code"]) {
  await expect(p).rejects.toSatisfy((e: unknown) => e instanceof TRPCError && e.code === code);
}

function nat(over: Partial<NatLogRow>): NatLogRow {
  return {
    time: t0,
    routerId,
    sourceIp: "127.0.0.1",
    event: "open",
    protocol: "tcp",
    privateIp: "10.0.10.76",
    privatePort: 61127,
    publicIp,
    publicPort: 61127,
    destIp: "40.127.110.237",
    destPort: 443,
    subscriberId: null,
    acctSessionId: null,
    pppoeUser: null,
    srcMac: null,
    ...over,
  };
}

const lookupAt = (publicPort: number | null, fromS = -300, toS = 300) => ({ publicIp, publicPort, from: at(fromS).toISOString(), to: at(toS).toISOString() });

beforeAll(async () => {
  tdb = await createTestDatabase();
  await seed(tdb.prisma, { subscribers: 20 });
  pool = new pg.Pool({ connectionString: tdb.url, max: 2 });
  officerId = (await tdb.prisma.operator.findUniqueOrThrow({ where: { username: "compliance" } })).id;
  const subs = await tdb.prisma.subscriber.findMany({ orderBy: { id: "asc" }, take: 2 });
  subscriber = subs[0]!;
  other = subs[1]!;
  routerId = (await tdb.prisma.router.findFirstOrThrow({ where: { name: "KHI-BNG-01" } })).id;
  // The subscriber's session held 10.0.10.76 from an hour before t0 to an hour after; the
  // other subscriber got the same private IP afterwards.
  await tdb.prisma.radiusSession.createMany({
    data: [
      {
        routerId,
        acctSessionId: "81a00001",
        subscriberId: subscriber.id,
        username: "sub-one",
        status: "stopped",
        framedIp: "10.0.10.76",
        callingStationId: "4C:5E:0C:12:34:56",
        startedAt: at(-3600),
        lastUpdateAt: at(3600),
        stoppedAt: at(3600),
        terminateCause: "User-Request",
      },
      {
        routerId,
        acctSessionId: "81a00002",
        subscriberId: other.id,
        username: "sub-two",
        status: "active",
        framedIp: "10.0.10.76",
        callingStationId: "AA:BB:CC:00:11:22",
        startedAt: at(3700),
        lastUpdateAt: at(3700),
      },
    ],
  });
  await insertNatLog(pool, [
    // Attributed at ingest.
    nat({ time: at(0), subscriberId: subscriber.id, acctSessionId: "81a00001", pppoeUser: "sub-one", srcMac: "4c:5e:0c:12:34:56" }),
    nat({ time: at(30), event: "close", subscriberId: subscriber.id, acctSessionId: "81a00001" }),
    // Not attributed at ingest: the lookup finds the session that held the private IP.
    nat({ time: at(60), privatePort: 50000, publicPort: 50000, protocol: "udp", destIp: "8.8.8.8", destPort: 53 }),
    // Same public IP and port, later: the other subscriber's session.
    nat({ time: at(4000), privatePort: 61127, publicPort: 61127, subscriberId: other.id, acctSessionId: "81a00002" }),
  ]);
}, 120_000);

afterAll(async () => {
  await pool?.end();
  await tdb?.drop();
});

describe("compliance role", () => {
  it("refuses everyone but compliance officers, and audits nothing for them", async () => {
    const before = await tdb.prisma.auditLog.count();
    await expectCode(callerAs(null).compliance.lookup(lookupAt(61127)), "UNAUTHORIZED");
    for (const role of ["admin", "noc", "support", "manager", "dealer"] as const) {
      await expectCode(callerAs(role).compliance.lookup(lookupAt(61127)), "FORBIDDEN");
      await expectCode(callerAs(role).compliance.sessions({ by: "account", value: subscriber.accountNo, from: at(-10).toISOString(), to: at(10).toISOString() }), "FORBIDDEN");
      await expectCode(callerAs(role).compliance.verify({ pdfBase64: "JVBERi0=" }), "FORBIDDEN");
    }
    expect(await tdb.prisma.auditLog.count()).toBe(before);
  });
});

describe("compliance.lookup", () => {
  it("names the subscriber and the RADIUS session for an IP, port and moment, and audits it", async () => {
    const res = await callerAs("compliance", officerId).compliance.lookup(lookupAt(61127));
    expect(res.rows.map((r) => r.event)).toEqual(["open", "close"]);
    const r = res.rows[0]!;
    expect(r).toMatchObject({
      routerName: "KHI-BNG-01",
      privateIp: "10.0.10.76",
      privatePort: 61127,
      publicPort: 61127,
      destIp: "40.127.110.237",
      resolvedBy: "ingest",
      subscriber: { id: subscriber.id, accountNo: subscriber.accountNo, cnic: subscriber.cnic, name: subscriber.name },
      session: { acctSessionId: "81a00001", mac: "4C:5E:0C:12:34:56", framedIp: "10.0.10.76", loginAt: at(-3600).toISOString(), logoffAt: at(3600).toISOString() },
    });
    const audit = await tdb.prisma.auditLog.findUniqueOrThrow({ where: { id: BigInt(res.auditId) } });
    expect(audit).toMatchObject({ operatorId: officerId, actor: "compliance", action: "compliance.lookup", entityType: "public_ip", entityId: publicIp });
    expect(audit.details).toMatchObject({ query: lookupAt(61127), resultCount: 2, truncated: false, subscriberIds: [subscriber.id] });
  });

  it("resolves an unattributed record from the session that held the private IP at that time", async () => {
    const res = await callerAs("compliance", officerId).compliance.lookup(lookupAt(50000));
    expect(res.rows).toHaveLength(1);
    expect(res.rows[0]).toMatchObject({ protocol: "udp", resolvedBy: "session", subscriber: { id: subscriber.id }, session: { acctSessionId: "81a00001" } });
  });

  it("without a port, returns every port of the address in the window, each with its own subscriber", async () => {
    const res = await callerAs("compliance", officerId).compliance.lookup(lookupAt(null, -60, 4100));
    expect(res.rows).toHaveLength(4);
    expect(res.rows.map((r) => r.subscriber?.id)).toEqual([subscriber.id, subscriber.id, subscriber.id, other.id]);
    expect(res.rows[3]!.session).toMatchObject({ acctSessionId: "81a00002", logoffAt: null });
  });

  it("answers an empty window with no rows (still audited) and refuses bad input", async () => {
    const api = callerAs("compliance", officerId);
    const empty = await api.compliance.lookup(lookupAt(61127, 10_000, 10_600));
    expect(empty.rows).toEqual([]);
    const audit = await tdb.prisma.auditLog.findUniqueOrThrow({ where: { id: BigInt(empty.auditId) } });
    expect(audit.details).toMatchObject({ resultCount: 0 });
    await expectCode(api.compliance.lookup({ ...lookupAt(61127), publicIp: "203.0.113.300" }), "BAD_REQUEST");
    await expectCode(api.compliance.lookup(lookupAt(61127, 300, -300)), "BAD_REQUEST");
    await expectCode(api.compliance.lookup({ ...lookupAt(61127), publicPort: 65536 }), "BAD_REQUEST");
  });

  it("exports the same answer as CSV with PKT and UTC columns", async () => {
    const result = await findNatRecords({ prisma: tdb.prisma, pg: pool }, lookupAt(61127));
    const csv = lookupCsv(result);
    expect(csv.charCodeAt(0)).toBe(0xfeff);
    const lines = csv.slice(1).split("\r\n");
    expect(lines[0]).toMatch(/^time_pkt,time_utc,event,router,/);
    expect(lines[1]).toContain("2026-11-24 15:00:00 PKT,2026-11-24 10:00:00 UTC,open,KHI-BNG-01,tcp,10.0.10.76,61127");
    expect(lines[1]).toContain(`${subscriber.accountNo},`);
    expect(lines[1]).toContain(subscriber.cnic);
    expect(lines).toHaveLength(4); // header, two records, and the empty string after the last CRLF
  });
});

describe("compliance.sessions", () => {
  const range = { from: at(-7200).toISOString(), to: at(7200).toISOString() };

  it("finds login/logoff history by account, IP and MAC, and audits each search", async () => {
    const api = callerAs("compliance", officerId);
    const byAccount = await api.compliance.sessions({ by: "account", value: subscriber.accountNo.toLowerCase(), ...range });
    expect(byAccount.rows.map((s) => s.acctSessionId)).toEqual(["81a00001"]);
    expect(byAccount.rows[0]).toMatchObject({ subscriber: { accountNo: subscriber.accountNo }, mac: "4C:5E:0C:12:34:56", terminateCause: "User-Request" });

    const byIp = await api.compliance.sessions({ by: "ip", value: "10.0.10.76", ...range });
    expect(byIp.rows.map((s) => s.acctSessionId)).toEqual(["81a00002", "81a00001"]);

    const byMac = await api.compliance.sessions({ by: "mac", value: "4c5e.0c12.3456", ...range });
    expect(byMac.rows.map((s) => s.acctSessionId)).toEqual(["81a00001"]);

    const unknown = await api.compliance.sessions({ by: "account", value: "ACC-NOPE", ...range });
    expect(unknown).toMatchObject({ rows: [], unknownAccount: true });

    const audits = await tdb.prisma.auditLog.findMany({ where: { action: "compliance.sessions" }, orderBy: { id: "asc" } });
    expect(audits.map((a) => a.entityType)).toEqual(["account", "ip", "mac", "account"]);
    expect(audits[2]!.details).toMatchObject({ query: { value: "4c:5e:0c:12:34:56" }, resultCount: 1 });
  });
});

describe("compliance.verify", () => {
  it("accepts our signed report and rejects an altered one", async () => {
    const api = callerAs("compliance", officerId);
    const result = await findNatRecords({ prisma: tdb.prisma, pg: pool }, lookupAt(61127));
    const data = reportData(result, { isp: "Test ISP", reference: "FIA/2026/42", generatedAt: t0, operator: { id: officerId, username: "compliance", name: "Ayesha Rauf" } });
    const signed = signReport(data, signingKey().privateKey);
    const pdf = await renderReportPdf(data, signed);
    const ok = await api.compliance.verify({ pdfBase64: pdf.toString("base64") });
    expect(ok).toMatchObject({ ok: true, reason: null, sha256: signed.sha256, reference: "FIA/2026/42", resultCount: 2, fingerprint: signingKey().fingerprint });

    const altered = Buffer.from(pdf.toString("latin1").replace(signed.signature, signed.signature.replace(/^./, (c) => (c === "A" ? "B" : "A"))), "latin1");
    const bad = await api.compliance.verify({ pdfBase64: altered.toString("base64") });
    expect(bad).toMatchObject({ ok: false, reason: expect.stringMatching(/signature does not match/), reference: "FIA/2026/42" });
    const notPdf = await api.compliance.verify({ pdfBase64: Buffer.from("hello").toString("base64") });
    expect(notPdf).toMatchObject({ ok: false, reason: "not a PDF file" });
    expect(await tdb.prisma.auditLog.count({ where: { action: "compliance.verify" } })).toBe(3);
  });
});
