// The live hub over a real Socket.IO connection on an ephemeral port, with an in-memory
// state source: token checks, role/dealer scoping, push-on-change.
import { SignJWT } from "jose";
import { io as connect, type Socket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../log";
import { createLiveHub, type LiveHub, type LiveStateSource, type NocState } from "./live-hub";

const secret = "test-secret-0123456789abcdef";
let hub: LiveHub;
let online = 1;
const source: LiveStateSource = {
  async nocState(): Promise<NocState> {
    return { at: new Date().toISOString(), online, routers: [], newest: [], counters: { authAccepts: 0, authRejects: 0, dropped: 0 } };
  },
  async subscriberSessions(ids) {
    return ids.map((subscriberId) => ({ subscriberId, session: null }));
  },
  async subscriberDealer(id) {
    return id === 1 ? 10 : id === 2 ? 20 : undefined;
  },
};

async function token(claims: Record<string, unknown>, key = secret, expSeconds = 300): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "HS256" })
    .setExpirationTime(Math.floor(Date.now() / 1000) + expSeconds)
    .sign(new TextEncoder().encode(key));
}

const sockets: Socket[] = [];
function client(tok: string | undefined): Socket {
  const s = connect(`http://127.0.0.1:${hub.port}`, { auth: tok ? { token: tok } : {}, transports: ["websocket"], reconnection: false });
  sockets.push(s);
  return s;
}
const connected = (s: Socket) =>
  new Promise<"ok" | string>((resolve) => {
    s.once("connect", () => resolve("ok"));
    s.once("connect_error", (e) => resolve(e.message));
  });
const emitAck = (s: Socket, ev: string, body?: unknown) =>
  new Promise<{ ok: boolean; error?: string }>((resolve) => (body === undefined ? s.emit(ev, resolve) : s.emit(ev, body, resolve)));

beforeAll(async () => {
  hub = createLiveHub({ host: "127.0.0.1", port: 0, corsOrigin: "http://localhost:3000", authSecret: secret, tickMs: 100 }, source, silentLogger);
  await hub.start();
});
afterAll(async () => {
  for (const s of sockets) s.close();
  await hub.stop();
});

describe("live hub", () => {
  it("refuses connections without a valid HS256 token", async () => {
    expect(await connected(client(undefined))).toBe("unauthorized");
    expect(await connected(client(await token({ sub: "1", role: "noc" }, "another-secret-0123456789")))).toBe("unauthorized");
    expect(await connected(client(await token({ sub: "1", role: "noc" }, secret, -10))))
      .toBe("unauthorized"); // expired
    expect(await connected(client(await token({ sub: "1", role: "wizard" })))).toBe("unauthorized");
    expect(hub.counters.authFailures).toBeGreaterThanOrEqual(4);
  });

  it("noc: state once at subscribe, then only when it changed", async () => {
    const s = client(await token({ sub: "1", role: "noc" }));
    expect(await connected(s)).toBe("ok");
    const states: NocState[] = [];
    s.on("noc:state", (st: NocState) => states.push(st));
    expect(await emitAck(s, "subscribe:noc")).toEqual({ ok: true });
    await new Promise((r) => setTimeout(r, 450));
    // Subscribe push + at most one tick push of the same state (first fingerprint), no more.
    expect(states.length).toBeGreaterThanOrEqual(1);
    expect(states.length).toBeLessThanOrEqual(2);
    const before = states.length;
    online = 42;
    for (let waited = 0; states.length === before && waited < 3000; waited += 25) await new Promise((r) => setTimeout(r, 25));
    await new Promise((r) => setTimeout(r, 250)); // and nothing more while it stays the same
    expect(states.length).toBe(before + 1);
    expect(states.at(-1)!.online).toBe(42);
  });

  it("dealer: own subscribers only, no noc room; enforcement results reach the subscriber room", async () => {
    const s = client(await token({ sub: "5", role: "dealer", dealerId: 10 }));
    expect(await connected(s)).toBe("ok");
    expect(await emitAck(s, "subscribe:noc")).toEqual({ ok: false, error: "forbidden" });
    expect(await emitAck(s, "subscribe:subscriber", { subscriberId: 2 })).toEqual({ ok: false, error: "forbidden" });
    expect(await emitAck(s, "subscribe:subscriber", { subscriberId: 3 })).toEqual({ ok: false, error: "forbidden" });
    const got = new Promise<unknown>((resolve) => s.once("enforcement:result", resolve));
    const session = new Promise<unknown>((resolve) => s.once("subscriber:session", resolve));
    expect(await emitAck(s, "subscribe:subscriber", { subscriberId: 1 })).toEqual({ ok: true });
    expect(await session).toEqual({ subscriberId: 1, session: null });
    hub.emitEnforcementResult({ actionId: "9", subscriberId: 1, kind: "disconnect", status: "acked", routerLatencyMs: 3, totalLatencyMs: 20, errorCause: null, message: "ok" });
    expect(await got).toMatchObject({ actionId: "9", status: "acked" });
  });
});
