// The binary COPY path of insertAccountingRecords / insertUsageDeltas (a pg connection)
// stores exactly what the multi-row INSERT path (any other Queryable) stores.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BinaryCopyWriter } from "./pg-copy";
import { createTestDatabase, type TestDatabase } from "./testing";
import { insertAccountingRecords, insertUsageDeltas, type AccountingRecordRow, type Queryable } from "./timeseries";

let db: TestDatabase;
let client: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase({ flavour: "plain" });
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
});

afterAll(async () => {
  await client?.end();
  await db?.drop();
});

/** The same connection seen as a plain Queryable: takes the INSERT path. */
const viaInsert = (): Queryable => ({ query: async <R>(text: string, params?: unknown[]) => ({ rows: (await client.query(text, params)).rows as R[] }) });

const rows = (sessionPrefix: string): AccountingRecordRow[] => {
  const base = { time: new Date("2026-03-02T10:11:12.345Z"), routerId: 1, subscriberId: 7, username: "ahmed.khan", statusType: 3, sessionTimeS: 300, delayTimeS: 0 };
  return [
    { ...base, acctSessionId: `${sessionPrefix}-1`, inputOctets: 0n, outputOctets: 2n ** 62n + 5n, framedIp: "100.64.0.10", terminateCause: null },
    { ...base, acctSessionId: `${sessionPrefix}-2`, inputOctets: 5_000_000_000n, outputOctets: 1n, framedIp: "2001:db8::1", terminateCause: "User-Request", statusType: 2 },
    { ...base, acctSessionId: `${sessionPrefix}-3`, inputOctets: 1n, outputOctets: 1n, framedIp: null, terminateCause: null, subscriberId: null, statusType: 1, delayTimeS: 30 },
    { ...base, acctSessionId: `${sessionPrefix}-4`, inputOctets: 1n, outputOctets: 1n, framedIp: "255.255.255.255", terminateCause: null, username: "ünï\u0000code", time: new Date("1999-12-31T23:59:59.999Z") },
    { ...base, acctSessionId: `${sessionPrefix}-5`, inputOctets: 1n, outputOctets: 1n, framedIp: "::ffff:10.0.0.1", terminateCause: null },
  ];
};

const stored = async (prefix: string) =>
  (
    await client.query<Record<string, string | null>>(
      `SELECT substr(acct_session_id, length($1) + 1) AS k, time::text, router_id::text, subscriber_id::text, username, status_type::text, session_time_s::text,
              input_octets::text, output_octets::text, host(framed_ip) AS framed_ip, terminate_cause, delay_time_s::text
         FROM accounting_records WHERE acct_session_id LIKE $1 || '-%' ORDER BY acct_session_id`,
      [prefix],
    )
  ).rows;

describe("accounting rows by binary COPY", () => {
  it("stores the same values as the INSERT path (64-bit octets, IPv4/IPv6/null addresses, NULLs, times to the millisecond)", async () => {
    const withNul = rows("C");
    expect(await insertAccountingRecords(client, withNul)).toBe(5);
    // The INSERT path cannot carry NUL at all; COPY stores it as U+FFFD.
    const clean = rows("I").map((r) => ({ ...r, username: r.username.replace("\u0000", "\uFFFD") }));
    expect(await insertAccountingRecords(viaInsert(), clean)).toBe(5);
    const c = await stored("C");
    expect(c).toHaveLength(5);
    expect(c).toEqual(await stored("I"));
    expect(c[0]!.output_octets).toBe((2n ** 62n + 5n).toString());
    expect(c[1]!.framed_ip).toBe("2001:db8::1");
    expect(c[3]!.username).toBe("ünï\uFFFDcode");
  });

  it("usage deltas: negative rows are dropped and counted, the rest stored in one COPY", async () => {
    const t = new Date("2026-03-02T00:00:00Z");
    const r = await insertUsageDeltas(client, [
      { time: t, subscriberId: 901, routerId: 1, inputOctets: 10n, outputOctets: 20n },
      { time: t, subscriberId: 901, routerId: 1, inputOctets: -1n, outputOctets: 20n },
      { time: t, subscriberId: 901, routerId: 2, inputOctets: 0n, outputOctets: 2n ** 40n },
    ]);
    expect(r).toEqual({ inserted: 2, dropped: 1 });
    const s = await client.query<{ i: string; o: string }>("SELECT sum(input_octets)::text AS i, sum(output_octets)::text AS o FROM subscriber_usage WHERE subscriber_id = 901");
    expect(s.rows[0]).toEqual({ i: "10", o: (2n ** 40n + 20n).toString() });
  });

  it("a bad address fails the whole COPY before anything is sent, inside the caller's transaction", async () => {
    const bad = { ...rows("B")[0]!, framedIp: "300.1.1.1" };
    await expect(insertAccountingRecords(client, [rows("B")[1]!, bad])).rejects.toThrow(/not an IP address/);
    expect(await stored("B")).toEqual([]);
  });

  it("the writer refuses what the text input would refuse", () => {
    const w = new BinaryCopyWriter();
    for (const ip of ["1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.256", "a.b.c.d", "", "10.0.0.1/24"]) expect(() => w.inet(ip)).toThrow(RangeError);
    expect(() => w.time(new Date(Number.NaN))).toThrow(RangeError);
  });
});
