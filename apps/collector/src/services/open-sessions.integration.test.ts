// Simultaneous use through the open-session index, on a real PostgreSQL: the real session
// store reports its commits to the index, and the auth service's pool counts the
// simultaneous-use queries, so "no database round trip" is observed, not assumed.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEV_SECRETS_KEY } from "@isp/db/secrets";
import { seed } from "@isp/db/seed";
import { createTestDatabase, type TestDatabase } from "@isp/db/testing";
import { silentLogger } from "../log";
import { createAuthLogWriter } from "./auth-log-writer";
import { createAuthService, type AuthService } from "./auth-service";
import { createRouterCache, createSubscriberCache, createUsageCache } from "./caches";
import { createOpenSessionIndex, type OpenSessionIndex } from "./open-sessions";
import { createSessionStore, type AcctInput, type SessionStore } from "./session-store";

let db: TestDatabase;
let pool: pg.Pool;
let authPool: pg.Pool;
let store: SessionStore;
let index: OpenSessionIndex;
let auth: AuthService;
let sessionQueries = 0;
let skewMs = 0;
const routerIds: number[] = [];
const subscriberIds: Record<string, number> = {};
const simul = { fromIndex: 0, fromDatabase: 0 };
const authLog = { push: () => undefined, flush: async () => undefined, start: () => undefined, stop: async () => undefined, counters: { queued: 0, written: 0, droppedQueueFull: 0, droppedWriteFailed: 0 } };

const rec = (over: Partial<AcctInput>): AcctInput => ({
  status: "start",
  acctSessionId: "S",
  username: "",
  sessionTimeS: 0,
  inputOctets: 0n,
  outputOctets: 0n,
  framedIp: null,
  callingStationId: null,
  nasPortId: null,
  terminateCause: null,
  delayTimeS: 0,
  ...over,
});

beforeAll(async () => {
  db = await createTestDatabase();
  await seed(db.prisma, { subscribers: 2 });
  pool = new pg.Pool({ connectionString: db.url, max: 3 });
  for (const ip of ["127.0.0.21", "127.0.0.22"]) {
    const r = await pool.query<{ id: number }>("INSERT INTO routers (name, ip_address, radius_secret) VALUES ($1, $2::inet, 's') RETURNING id", [ip, ip]);
    routerIds.push(r.rows[0]!.id);
  }
  for (const u of ["os_one", "os_ext", "os_pre"]) {
    const r = await pool.query<{ id: number }>(
      `INSERT INTO subscribers (account_no, name, phone, cnic, address, city, plan_id, pppoe_username, pppoe_password)
       VALUES ($1, $1, '0300', '1', 'x', 'Karachi', (SELECT id FROM plans ORDER BY id LIMIT 1), $1, 'pw') RETURNING id`,
      [u],
    );
    subscriberIds[u] = r.rows[0]!.id;
  }
  // Open before the index loads: the snapshot must carry it.
  await pool.query(
    `INSERT INTO radius_sessions (router_id, acct_session_id, subscriber_id, username, calling_station_id, started_at, last_update_at)
     VALUES ($1, 'PRE-1', $2, 'os_pre', 'aa:00:00:00:00:01', now(), now())`,
    [routerIds[0], subscriberIds.os_pre],
  );

  authPool = new pg.Pool({ connectionString: db.url, max: 2 });
  const query = authPool.query.bind(authPool) as (...args: unknown[]) => unknown;
  authPool.query = ((...args: unknown[]) => {
    if (typeof args[0] === "string" && args[0].includes("FROM radius_sessions")) sessionQueries++;
    return query(...args);
  }) as typeof authPool.query;

  index = createOpenSessionIndex();
  store = createSessionStore(pool, { writer: { flushIntervalMs: 5 }, onActive: (a) => index.opened(a), onEnded: (e) => index.closed(e) });
  const routers = createRouterCache(pool);
  await routers.load();
  const subscribers = createSubscriberCache(pool, silentLogger);
  await subscribers.load();
  auth = createAuthService({
    pool: authPool,
    routers,
    subscribers,
    usage: createUsageCache(pool),
    authLog: authLog as unknown as ReturnType<typeof createAuthLogWriter>,
    secretsKey: DEV_SECRETS_KEY,
    counters: { authAccepts: 0, authRejects: 0, rejectsByReason: {} },
    markSeen: () => undefined,
    policy: { acctInterimIntervalS: 60, sessionTimeoutS: null, suspendedPolicyDefault: "reject", walledGarden: { addressList: "wg", downloadKbps: 1, uploadKbps: 1 } },
    log: silentLogger,
    now: () => new Date(Date.now() + skewMs),
    openSessions: index,
    simultaneousUseCounters: simul,
  });
  await index.load(pool);
});

afterAll(async () => {
  await store?.stop();
  await authPool?.end();
  await pool?.end();
  await db?.drop();
});

const dial = async (nas: string, username: string, mac: string) =>
  (await auth.handle({ sourceIp: nas, userName: username, method: "pap", credentialMatches: (clear) => clear === "pw", callingStationId: mac })).code;

describe("simultaneous use through the open-session index", () => {
  it("a session open before the load counts; the same device re-dialling still replaces it", async () => {
    expect(index.of(subscriberIds.os_pre!)).toHaveLength(1);
    expect(await dial("127.0.0.22", "os_pre", "aa:00:00:00:00:02")).toBe("reject");
    expect(await dial("127.0.0.21", "os_pre", "aa:00:00:00:00:01")).toBe("accept");
  });

  it("Start takes the slot, Stop frees it, and the next Accept asks the database nothing", async () => {
    const id = subscriberIds.os_one!;
    const before = sessionQueries;
    expect(await dial("127.0.0.21", "os_one", "bb:00:00:00:00:01")).toBe("accept");
    expect(sessionQueries).toBe(before); // under the limit: the index alone answered

    await store.apply(routerIds[0]!, id, rec({ acctSessionId: "ONE-1", username: "os_one", callingStationId: "bb:00:00:00:00:01" }));
    expect(index.of(id)).toEqual([{ routerId: routerIds[0], callingStationId: "bb:00:00:00:00:01" }]);
    skewMs += 60_000; // past the Accept-to-Start reservation: only the session holds the slot

    // At the limit: the database confirms the refusal.
    expect(await dial("127.0.0.22", "os_one", "bb:00:00:00:00:02")).toBe("reject");
    expect(sessionQueries).toBe(before + 1);

    await store.apply(routerIds[0]!, id, rec({ status: "stop", acctSessionId: "ONE-1", username: "os_one", sessionTimeS: 5, terminateCause: "User-Request" }));
    expect(index.of(id)).toEqual([]);
    const fromIndex = simul.fromIndex;
    expect(await dial("127.0.0.22", "os_one", "bb:00:00:00:00:02")).toBe("accept");
    expect(sessionQueries).toBe(before + 1);
    expect(simul.fromIndex).toBe(fromIndex + 1);
  });

  it("a session closed outside the collector: the index over-counts, the database decides (accept)", async () => {
    const id = subscriberIds.os_ext!;
    await store.apply(routerIds[0]!, id, rec({ acctSessionId: "EXT-1", username: "os_ext", callingStationId: "cc:00:00:00:00:01" }));
    await pool.query("UPDATE radius_sessions SET status = 'stopped', stopped_at = now() WHERE acct_session_id = 'EXT-1'");
    const before = sessionQueries;
    expect(await dial("127.0.0.22", "os_ext", "cc:00:00:00:00:02")).toBe("accept");
    expect(sessionQueries).toBe(before + 1);
  });
});
