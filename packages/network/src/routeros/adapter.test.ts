// Both adapters against the simulator's servers over real sockets on loopback: the same
// idempotency contract, and the failure cases the node-routeros wrapper exists for.
import { connect, createServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { NodeRouterOsAdapter, normalizeFingerprint, RestRouterOsAdapter, RouterOsError, type RouterOsAdapter } from "./adapter";
import { createRouterOsApiServer, type RouterOsApiServer } from "./api-server";
import { createRouterOsRestServer } from "./rest-server";
import { RouterState } from "./state";
import { makeTestCertificate } from "./test-cert";

const USERS = { admin: "pw" };

/** A RouterState whose /ppp/active holds two fixed sessions; remove() really removes. */
function stateWithSessions(): RouterState {
  const state = new RouterState({ users: USERS });
  const sessions = new Map([
    ["*80000001", { ".id": "*80000001", name: "alice", address: "100.64.0.2", service: "pppoe", "session-id": "0x81A00001" }],
    ["*80000002", { ".id": "*80000002", name: "bob", address: "100.64.0.3", service: "pppoe", "session-id": "0x81A00002" }],
  ]);
  state.ppp = { list: () => [...sessions.values()], remove: (id) => sessions.delete(id) };
  return state;
}

/** The contract both adapters meet, run against each. */
function contract(name: string, make: () => Promise<{ adapter: RouterOsAdapter; state: RouterState; stop(): Promise<void> }>): void {
  describe(`${name}: idempotent operations`, () => {
    let adapter: RouterOsAdapter;
    let state: RouterState;
    let stop: () => Promise<void>;
    beforeAll(async () => {
      ({ adapter, state, stop } = await make());
      await adapter.connect();
    });
    afterAll(async () => {
      await adapter.close();
      await stop();
    });

    it("adds an address-list entry once, however often it is replayed", async () => {
      expect(await adapter.addToAddressList("suspended", "100.64.0.3/32", "sub 42")).toEqual({ added: true });
      expect(await adapter.addToAddressList("suspended", "100.64.0.3", "sub 42")).toEqual({ added: false });
      expect(await adapter.addToAddressList("suspended", "100.64.0.3/32")).toEqual({ added: false });
      expect(state.print("/ip/firewall/address-list").filter((r) => r.list === "suspended")).toHaveLength(1);
      const entries = await adapter.listAddressList("suspended");
      expect(entries).toEqual([expect.objectContaining({ list: "suspended", address: "100.64.0.3", comment: "sub 42", dynamic: false })]);
      expect(await adapter.removeFromAddressList("suspended", "100.64.0.3/32")).toEqual({ removed: 1 });
      expect(await adapter.removeFromAddressList("suspended", "100.64.0.3/32")).toEqual({ removed: 0 });
      expect(state.print("/ip/firewall/address-list")).toHaveLength(0);
    });

    it("creates a queue targeting the session, then only changes its rate", async () => {
      expect(await adapter.setQueueRate("alice", { uploadKbps: 2000, downloadKbps: 10000 })).toEqual({ created: true, changed: true });
      expect(await adapter.setQueueRate("alice", { uploadKbps: 2000, downloadKbps: 10000 })).toEqual({ created: false, changed: false });
      expect(await adapter.setQueueRate("alice", { uploadKbps: 4000, downloadKbps: 20000 })).toEqual({ created: false, changed: true });
      const queues = state.print("/queue/simple").filter((q) => q.name === "alice");
      expect(queues).toEqual([expect.objectContaining({ target: "100.64.0.2/32", "max-limit": "4000000/20000000" })]);
      expect((await adapter.listQueues()).find((q) => q.name === "alice")?.rate).toEqual({ uploadKbps: 4000, downloadKbps: 20000 });
      await expect(adapter.setQueueRate("nobody", { uploadKbps: 1, downloadKbps: 1 })).rejects.toMatchObject({ code: "not-found" });
    });

    it("syncs a secret: create, no-op, change", async () => {
      const spec = { password: "p1", profile: "10M", disabled: false };
      expect(await adapter.syncSecret("carol", spec)).toEqual({ created: true, changed: true, fields: [] });
      expect(await adapter.syncSecret("carol", spec)).toEqual({ created: false, changed: false, fields: [] });
      expect(await adapter.syncSecret("carol", { ...spec, disabled: true, profile: "suspended" })).toEqual({ created: false, changed: true, fields: ["profile", "disabled"] });
      expect(state.print("/ppp/secret")).toEqual([expect.objectContaining({ name: "carol", password: "p1", profile: "suspended", disabled: "true", service: "pppoe" })]);
      expect(await adapter.removeSecret("carol")).toEqual({ removed: 1 });
    });

    it("secrets: a static address is set and later unset, comments mark ours, list and remove are idempotent", async () => {
      const spec = { password: "s3cr=t!", profile: "plan-20m", disabled: false, remoteAddress: "100.64.9.9/32", comment: "isp sub 7" };
      expect(await adapter.syncSecret("dan", spec)).toEqual({ created: true, changed: true, fields: [] });
      expect(state.print("/ppp/secret").find((r) => r.name === "dan")).toMatchObject({ "remote-address": "100.64.9.9", password: "s3cr=t!", comment: "isp sub 7" });
      expect(await adapter.syncSecret("dan", spec)).toMatchObject({ changed: false });
      // A secret someone edited on the router: the password is put back.
      state.set("/ppp/secret", "dan", { password: "changed-by-hand" });
      expect(await adapter.syncSecret("dan", spec)).toEqual({ created: false, changed: true, fields: ["password"] });
      // No static address any more: unset, not set to "".
      expect(await adapter.syncSecret("dan", { ...spec, remoteAddress: null })).toEqual({ created: false, changed: true, fields: ["remote-address"] });
      expect(state.print("/ppp/secret").find((r) => r.name === "dan")).not.toHaveProperty("remote-address");
      expect(await adapter.syncSecret("dan", { ...spec, remoteAddress: null })).toMatchObject({ changed: false });
      state.add("/ppp/secret", { name: "staff-laptop", password: "x", comment: "" });
      const listed = await adapter.listSecrets();
      expect(listed.map((s) => s.name).sort()).toEqual(["dan", "staff-laptop"]);
      expect(listed.find((s) => s.name === "dan")).toMatchObject({ password: "s3cr=t!", profile: "plan-20m", disabled: false, service: "pppoe", remoteAddress: undefined, comment: "isp sub 7" });
      expect(await adapter.removeSecret("dan")).toEqual({ removed: 1 });
      expect(await adapter.removeSecret("dan")).toEqual({ removed: 0 });
      expect(await adapter.removeSecret("staff-laptop")).toEqual({ removed: 1 });
      expect(await adapter.listSecrets()).toEqual([]);
    });

    it("lists and removes active sessions by name or id; removing a gone one is not an error", async () => {
      const sessions = await adapter.listActiveSessions();
      expect(sessions.map((s) => s.name).sort()).toEqual(["alice", "bob"]);
      expect(sessions.find((s) => s.name === "bob")).toMatchObject({ id: "*80000002", address: "100.64.0.3", sessionId: "0x81A00002" });
      expect(await adapter.removeActiveSession({ name: "bob" })).toEqual({ removed: 1 });
      expect(await adapter.removeActiveSession({ name: "bob" })).toEqual({ removed: 0 });
      expect(await adapter.removeActiveSession({ id: "*80000001" })).toEqual({ removed: 1 });
      expect(await adapter.listActiveSessions()).toEqual([]);
    });
  });
}

contract("NodeRouterOsAdapter", async () => {
  const state = stateWithSessions();
  const server = createRouterOsApiServer({ state, port: 0 });
  const port = await server.start();
  return { adapter: new NodeRouterOsAdapter({ host: "127.0.0.1", port, user: "admin", password: "pw" }), state, stop: () => server.stop() };
});

contract("RestRouterOsAdapter", async () => {
  const state = stateWithSessions();
  const server = createRouterOsRestServer({ state, port: 0 });
  const port = await server.start();
  return { adapter: new RestRouterOsAdapter({ baseUrl: `http://127.0.0.1:${port}`, user: "admin", password: "pw" }), state, stop: () => server.stop() };
});

// ---------------------------------------------------------------- TLS (api-ssl, https)

// Generated by openssl at load time (test-only; never committed).
const routerCert = makeTestCertificate({ commonName: "sim-router", ips: ["127.0.0.1"] });
const otherCert = makeTestCertificate({ commonName: "impostor", ips: ["127.0.0.1"] });

contract("NodeRouterOsAdapter over api-ssl (pinned)", async () => {
  const state = stateWithSessions();
  const server = createRouterOsApiServer({ state, port: 0, tls: routerCert });
  const port = await server.start();
  const adapter = new NodeRouterOsAdapter({ host: "127.0.0.1", port, user: "admin", password: "pw", tls: { fingerprintSha256: routerCert.fingerprint } });
  return { adapter, state, stop: () => server.stop() };
});

contract("RestRouterOsAdapter over https (pinned)", async () => {
  const state = stateWithSessions();
  const server = createRouterOsRestServer({ state, port: 0, tls: routerCert });
  const port = await server.start();
  // Colons and upper case, as openssl prints it: normalised.
  const pin = routerCert.fingerprint.toUpperCase().replace(/(..)(?!$)/g, "$1:");
  const adapter = new RestRouterOsAdapter({ baseUrl: `https://127.0.0.1:${port}`, user: "admin", password: "pw", tls: { fingerprintSha256: pin } });
  return { adapter, state, stop: () => server.stop() };
});

/**
 * A TLS server with `cert` that counts the application bytes it receives (a login would be
 * some). TLS 1.2, so its handshake is complete before the client sees the certificate
 * checked: whatever the client wrote after that would arrive and be counted.
 */
async function countingTlsServer(cert: { key: string; cert: string }): Promise<{ port: number; bytes: () => number; handshakes: () => number; close(): Promise<void> }> {
  let bytes = 0;
  let handshakes = 0;
  const sockets = new Set<Socket>();
  const server = createTlsServer({ key: cert.key, cert: cert.cert, maxVersion: "TLSv1.2" }, (s) => {
    handshakes++;
    sockets.add(s);
    s.on("error", () => undefined);
    s.on("data", (d: Buffer) => (bytes += d.length));
  });
  server.on("tlsClientError", () => undefined);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    bytes: () => bytes,
    handshakes: () => handshakes,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

describe("TLS certificate checks", () => {
  it("normalises fingerprints", () => {
    expect(normalizeFingerprint(routerCert.fingerprint.toUpperCase().replace(/(..)(?!$)/g, "$1:"))).toBe(routerCert.fingerprint);
    expect(normalizeFingerprint("abc")).toBeNull();
    expect(normalizeFingerprint("g".repeat(64))).toBeNull();
  });

  it("API: a wrong pin is a non-retryable tls error and the login is never sent", async () => {
    const server = await countingTlsServer(otherCert);
    try {
      const adapter = new NodeRouterOsAdapter({ host: "127.0.0.1", port: server.port, user: "admin", password: "pw", tls: { fingerprintSha256: routerCert.fingerprint }, retryDelayMs: 10 });
      const err = await adapter.listActiveSessions().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RouterOsError);
      expect(err).toMatchObject({ code: "tls", retryable: false });
      expect((err as Error).message).toContain(`certificate fingerprint ${otherCert.fingerprint} does not match the pinned ${routerCert.fingerprint}`);
      await new Promise((r) => setTimeout(r, 50));
      // The handshake completed (so the pin was really compared), and not one byte followed it.
      expect(server.handshakes()).toBe(1);
      expect(server.bytes()).toBe(0);
      expect(adapter.stats.connects).toBe(0);
      await adapter.close();
      // Control: with the pin of the certificate it does present, the login goes out.
      const control = new NodeRouterOsAdapter({ host: "127.0.0.1", port: server.port, user: "admin", password: "pw", tls: { fingerprintSha256: otherCert.fingerprint }, connectTimeoutMs: 300, attemptsMax: 1 });
      await expect(control.connect()).rejects.toMatchObject({ code: "connect" }); // this server never answers the login
      expect(server.handshakes()).toBe(2);
      expect(server.bytes()).toBeGreaterThan(0);
      await control.close();
    } finally {
      await server.close();
    }
  });

  it("API: the same on the simulator's api-ssl server: no login recorded", async () => {
    const server = createRouterOsApiServer({ state: stateWithSessions(), port: 0, tls: otherCert });
    const port = await server.start();
    try {
      const adapter = new NodeRouterOsAdapter({ host: "127.0.0.1", port, user: "admin", password: "pw", tls: { fingerprintSha256: routerCert.fingerprint } });
      await expect(adapter.connect()).rejects.toMatchObject({ code: "tls" });
      expect(server.stats).toMatchObject({ logins: 0, loginFailures: 0, commands: 0 });
      await adapter.close();
    } finally {
      await server.stop();
    }
  });

  it("API: without a pin or CA a self-signed certificate is refused, naming its fingerprint; a CA file or the insecure flag let it through", async () => {
    const state = stateWithSessions();
    const server = createRouterOsApiServer({ state, port: 0, tls: routerCert });
    const port = await server.start();
    try {
      const bare = new NodeRouterOsAdapter({ host: "127.0.0.1", port, user: "admin", password: "pw", tls: {} });
      const err = await bare.connect().catch((e: unknown) => e);
      expect(err).toMatchObject({ code: "tls" });
      expect((err as Error).message).toMatch(/not trusted by the public CAs \(.*SELF_SIGNED|self.signed/i);
      expect((err as Error).message).toContain(routerCert.fingerprint);
      expect(server.stats.logins).toBe(0);
      await bare.close();
      // The certificate itself as the CA file (chain and IP SAN 127.0.0.1 checked).
      const withCa = new NodeRouterOsAdapter({ host: "127.0.0.1", port, user: "admin", password: "pw", tls: { ca: routerCert.cert } });
      expect(await withCa.addToAddressList("suspended", "100.64.0.9")).toEqual({ added: true });
      await withCa.close();
      // A CA file that did not sign it: refused.
      const wrongCa = new NodeRouterOsAdapter({ host: "127.0.0.1", port, user: "admin", password: "pw", tls: { ca: otherCert.cert } });
      await expect(wrongCa.connect()).rejects.toMatchObject({ code: "tls" });
      await wrongCa.close();
      const insecure = new NodeRouterOsAdapter({ host: "127.0.0.1", port, user: "admin", password: "pw", tls: { insecure: true } });
      expect(await insecure.addToAddressList("suspended", "100.64.0.9")).toEqual({ added: false });
      await insecure.close();
      expect(server.stats.logins).toBe(2);
    } finally {
      await server.stop();
    }
  });

  it("API: TLS to a clear-text API port is a tls handshake error, not retried", async () => {
    // A plain-text API port that, like RouterOS, answers bytes it cannot parse with !fatal and closes.
    let connections = 0;
    const plain = createServer((s) => {
      connections++;
      s.on("error", () => undefined);
      s.once("data", () => s.end(Buffer.from([6, ...Buffer.from("!fatal"), 0])));
    });
    await new Promise<void>((r) => plain.listen(0, "127.0.0.1", r));
    try {
      const port = (plain.address() as { port: number }).port;
      const adapter = new NodeRouterOsAdapter({ host: "127.0.0.1", port, user: "admin", password: "pw", tls: { fingerprintSha256: routerCert.fingerprint }, connectTimeoutMs: 2000 });
      const err = await adapter.listQueues().catch((e: unknown) => e);
      expect(err).toMatchObject({ code: "tls", retryable: false });
      expect((err as Error).message).toMatch(/handshake failed/);
      expect(connections).toBe(1);
      await adapter.close();
    } finally {
      await new Promise<void>((r) => plain.close(() => r()));
    }
  });

  it("REST: a wrong pin is a tls error and no request (no Authorization header) reaches the router", async () => {
    const server = createRouterOsRestServer({ state: stateWithSessions(), port: 0, tls: otherCert });
    const port = await server.start();
    try {
      const adapter = new RestRouterOsAdapter({ baseUrl: `https://127.0.0.1:${port}`, user: "admin", password: "pw", tls: { fingerprintSha256: routerCert.fingerprint }, retryDelayMs: 10 });
      const err = await adapter.listActiveSessions().catch((e: unknown) => e);
      expect(err).toMatchObject({ code: "tls", retryable: false });
      expect((err as Error).message).toContain("does not match the pinned");
      expect(server.stats.requests).toBe(0);
      // No pin, no CA: the self-signed certificate is refused too.
      const bare = new RestRouterOsAdapter({ baseUrl: `https://127.0.0.1:${port}`, user: "admin", password: "pw" });
      await expect(bare.connect()).rejects.toMatchObject({ code: "tls" });
      expect(server.stats.requests).toBe(0);
      // The right CA: accepted.
      const withCa = new RestRouterOsAdapter({ baseUrl: `https://127.0.0.1:${port}`, user: "admin", password: "pw", tls: { ca: otherCert.cert } });
      expect(await withCa.listActiveSessions()).toHaveLength(2);
      await Promise.all([adapter.close(), bare.close(), withCa.close()]);
    } finally {
      await server.stop();
    }
  });

  it("REST: TLS required but an http:// URL is refused before connecting; https to a plain port is a handshake error", async () => {
    const server = createRouterOsRestServer({ state: stateWithSessions(), port: 0 });
    const port = await server.start();
    try {
      const plain = new RestRouterOsAdapter({ baseUrl: `http://127.0.0.1:${port}`, user: "admin", password: "pw", tls: { fingerprintSha256: routerCert.fingerprint } });
      await expect(plain.connect()).rejects.toMatchObject({ code: "tls" });
      await expect(plain.listQueues()).rejects.toMatchObject({ code: "tls" });
      const mismatched = new RestRouterOsAdapter({ baseUrl: `https://127.0.0.1:${port}`, user: "admin", password: "pw", tls: { fingerprintSha256: routerCert.fingerprint } });
      const err = await mismatched.listQueues().catch((e: unknown) => e);
      expect(err).toMatchObject({ code: "tls" });
      expect((err as Error).message).toMatch(/handshake failed/);
      expect(server.stats.requests).toBe(0);
      await Promise.all([plain.close(), mismatched.close()]);
    } finally {
      await server.stop();
    }
  });
});

/**
 * A TCP proxy that, on its first connection, cuts the router's reply containing `marker`
 * in the middle (forwarding half the chunk) and drops both sides, like a flaky link.
 */
async function cuttingProxy(targetPort: number, marker: string): Promise<{ port: number; cuts: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const state = { port: 0, cuts: 0, close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }) };
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, "127.0.0.1");
    sockets.add(client).add(upstream);
    client.on("error", () => undefined);
    upstream.on("error", () => undefined);
    client.on("data", (d: Buffer) => upstream.write(d));
    upstream.on("data", (d: Buffer) => {
      const at = d.indexOf(marker);
      if (at >= 0 && state.cuts === 0) {
        state.cuts++;
        client.write(d.subarray(0, at + Math.floor(marker.length / 2)));
        client.destroy();
        upstream.destroy();
        return;
      }
      client.write(d);
    });
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const addr = server.address();
  state.port = typeof addr === "object" && addr ? addr.port : 0;
  return state;
}

describe("NodeRouterOsAdapter at volume", () => {
  it("concurrent replays of 100 entries leave exactly 100, and a 3000-row print crosses TCP chunks intact", async () => {
    const state = new RouterState({ users: USERS });
    const server = createRouterOsApiServer({ state, port: 0 });
    const port = await server.start();
    const adapter = new NodeRouterOsAdapter({ host: "127.0.0.1", port, user: "admin", password: "pw" });
    try {
      const addrs = Array.from({ length: 100 }, (_, i) => `10.1.${i >> 8}.${i & 255}`);
      const results = await Promise.all([...addrs, ...addrs].map((a) => adapter.addToAddressList("suspended", a, `replay ${a}`)));
      expect(results.filter((r) => r.added)).toHaveLength(100);
      expect(state.print("/ip/firewall/address-list")).toHaveLength(100);
      for (let i = 0; i < 3000; i++) state.add("/ip/firewall/address-list", { list: "bulk", address: `10.2.${i >> 8}.${i & 255}`, comment: "x".repeat(i % 300) });
      const bulk = await adapter.listAddressList("bulk");
      expect(bulk).toHaveLength(3000);
      expect(bulk.every((e, i) => e.address === `10.2.${i >> 8}.${i & 255}` && e.comment.length === i % 300)).toBe(true);
    } finally {
      await adapter.close();
      await server.stop();
    }
  });
});

describe("NodeRouterOsAdapter under failure", () => {
  let server: RouterOsApiServer | undefined;
  let adapter: NodeRouterOsAdapter | undefined;
  afterEach(async () => {
    await adapter?.close();
    await server?.stop();
  });

  it("reconnects after the connection is cut mid-sentence, and the retried write does not duplicate", async () => {
    const state = stateWithSessions();
    let cuts = 0;
    server = createRouterOsApiServer({
      state,
      port: 0,
      // The add runs on the router, but its reply is cut in half and the socket closed.
      faults: { cutReplyMidSentence: (cmd) => cmd === "/ip/firewall/address-list/add" && cuts++ === 0 },
    });
    const port = await server.start();
    adapter = new NodeRouterOsAdapter({ host: "127.0.0.1", port, user: "admin", password: "pw", retryDelayMs: 20 });
    await adapter.connect();
    expect(await adapter.addToAddressList("suspended", "100.64.0.2")).toEqual({ added: false });
    expect(server.stats.faultsInjected).toBe(1);
    expect(adapter.stats.connects).toBe(2);
    expect(state.print("/ip/firewall/address-list")).toHaveLength(1);
    // The same for a queue: created by the cut attempt, found by the retry.
    let queueCuts = 0;
    const s2 = createRouterOsApiServer({ state, port: 0, faults: { cutReplyMidSentence: (cmd) => cmd === "/queue/simple/add" && queueCuts++ === 0 } });
    const port2 = await s2.start();
    const a2 = new NodeRouterOsAdapter({ host: "127.0.0.1", port: port2, user: "admin", password: "pw", retryDelayMs: 20 });
    try {
      expect(await a2.setQueueRate("bob", { uploadKbps: 1000, downloadKbps: 5000 })).toEqual({ created: false, changed: false });
      expect(state.print("/queue/simple").filter((q) => q.name === "bob")).toHaveLength(1);
    } finally {
      await a2.close();
      await s2.stop();
    }
  });

  it("recovers from a link that cuts the router's reply mid-sentence (a proxy, not the router, fails)", async () => {
    const state = stateWithSessions();
    server = createRouterOsApiServer({ state, port: 0 });
    const proxy = await cuttingProxy(await server.start(), "=ret=");
    try {
      adapter = new NodeRouterOsAdapter({ host: "127.0.0.1", port: proxy.port, user: "admin", password: "pw", retryDelayMs: 20 });
      expect(await adapter.syncSecret("erin", { password: "x", profile: "default", disabled: false })).toEqual({ created: false, changed: false, fields: [] });
      expect(proxy.cuts).toBe(1);
      expect(adapter.stats.connects).toBe(2);
      expect(state.print("/ppp/secret").filter((r) => r.name === "erin")).toHaveLength(1);
    } finally {
      await adapter?.close();
      await proxy.close();
    }
  });

  it("times out a reply that never comes, reconnects, and does not repeat the write", async () => {
    const state = stateWithSessions();
    let swallowed = 0;
    server = createRouterOsApiServer({ state, port: 0, faults: { swallowReply: (cmd) => cmd === "/ppp/secret/add" && swallowed++ === 0 } });
    const port = await server.start();
    adapter = new NodeRouterOsAdapter({ host: "127.0.0.1", port, user: "admin", password: "pw", commandTimeoutMs: 300, retryDelayMs: 20 });
    expect(await adapter.syncSecret("dave", { password: "x", profile: "default", disabled: false })).toEqual({ created: false, changed: false, fields: [] });
    expect(adapter.stats.timeouts).toBe(1);
    expect(adapter.stats.connects).toBe(2);
    expect(state.print("/ppp/secret")).toHaveLength(1);
  });

  it("gives up after attemptsMax when the router stays unreachable, with a retryable error", async () => {
    const s = createRouterOsApiServer({ state: new RouterState(), port: 0 });
    const port = await s.start();
    await s.stop(); // a port nobody listens on
    adapter = new NodeRouterOsAdapter({ host: "127.0.0.1", port, user: "admin", password: "pw", attemptsMax: 2, retryDelayMs: 10 });
    const err = await adapter.listActiveSessions().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RouterOsError);
    expect(err).toMatchObject({ code: "connect", retryable: true });
  });

  it("reconnects on demand after node-routeros drops an idle connection", async () => {
    const state = stateWithSessions();
    server = createRouterOsApiServer({ state, port: 0 });
    const port = await server.start();
    adapter = new NodeRouterOsAdapter({ host: "127.0.0.1", port, user: "admin", password: "pw", idleTimeoutS: 1 });
    expect(await adapter.listActiveSessions()).toHaveLength(2);
    await new Promise((r) => setTimeout(r, 1300)); // the library's socket timeout fires and it destroys the socket
    expect(adapter.stats.disconnects).toBe(1);
    expect(await adapter.listActiveSessions()).toHaveLength(2);
    expect(adapter.stats.connects).toBe(2);
  });

  it("reports wrong credentials as a login error without retrying", async () => {
    server = createRouterOsApiServer({ state: new RouterState({ users: USERS }), port: 0 });
    const port = await server.start();
    adapter = new NodeRouterOsAdapter({ host: "127.0.0.1", port, user: "admin", password: "wrong", retryDelayMs: 10 });
    await expect(adapter.listActiveSessions()).rejects.toMatchObject({ code: "login", retryable: false });
    expect(server.stats.loginFailures).toBe(1);
  });

  it("survives RouterOS 7.18's !empty reply (which makes bare node-routeros throw)", async () => {
    const state = new RouterState({ users: USERS });
    server = createRouterOsApiServer({ state, port: 0, emptyReplies: true });
    const port = await server.start();
    adapter = new NodeRouterOsAdapter({ host: "127.0.0.1", port, user: "admin", password: "pw" });
    expect(await adapter.listAddressList("suspended")).toEqual([]);
    expect(await adapter.addToAddressList("suspended", "10.0.0.1")).toEqual({ added: true });
    expect(await adapter.listAddressList("suspended")).toHaveLength(1);
  });
});

describe("RestRouterOsAdapter under failure", () => {
  it("a refused connection is a retryable connect error; a router that never answers is a timeout", async () => {
    const s = createRouterOsRestServer({ state: new RouterState(), port: 0 });
    const deadPort = await s.start();
    await s.stop();
    const dead = new RestRouterOsAdapter({ baseUrl: `http://127.0.0.1:${deadPort}`, user: "admin", password: "", attemptsMax: 2, retryDelayMs: 10 });
    await expect(dead.listActiveSessions()).rejects.toMatchObject({ code: "connect", retryable: true });

    const sockets = new Set<Socket>();
    const silent = createServer((sock) => sockets.add(sock)); // accepts, reads nothing, answers nothing
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", () => r()));
    const addr = silent.address();
    const mute = new RestRouterOsAdapter({ baseUrl: `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}`, user: "admin", password: "", requestTimeoutMs: 200, attemptsMax: 1 });
    try {
      await expect(mute.addToAddressList("x", "10.0.0.1")).rejects.toMatchObject({ code: "timeout", retryable: true });
    } finally {
      for (const sock of sockets) sock.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });

  it("wrong credentials are a login error", async () => {
    const s = createRouterOsRestServer({ state: new RouterState({ users: USERS }), port: 0 });
    const port = await s.start();
    try {
      const a = new RestRouterOsAdapter({ baseUrl: `http://127.0.0.1:${port}`, user: "admin", password: "nope" });
      await expect(a.connect()).rejects.toMatchObject({ code: "login", retryable: false });
    } finally {
      await s.stop();
    }
  });
});

describe("RouterOS REST server semantics", () => {
  const state = stateWithSessions();
  const server = createRouterOsRestServer({ state, port: 0 });
  let base: string;
  const auth = { authorization: "Basic " + Buffer.from("admin:pw").toString("base64") };
  const json = { ...auth, "content-type": "application/json" };
  beforeAll(async () => {
    base = `http://127.0.0.1:${await server.start()}/rest`;
  });
  afterAll(() => server.stop());

  it("PUT creates, PATCH updates, DELETE removes, errors carry error/message/detail", async () => {
    const created = await fetch(`${base}/queue/simple`, { method: "PUT", headers: json, body: JSON.stringify({ name: "q1", target: "10.0.0.1/32", "max-limit": "1M/2M" }) });
    expect(created.status).toBe(201);
    const rec = (await created.json()) as Record<string, string>;
    expect(rec[".id"]).toMatch(/^\*[0-9A-F]+$/);
    const id = encodeURIComponent(rec[".id"]!);
    const patched = await fetch(`${base}/queue/simple/${id}`, { method: "PATCH", headers: json, body: JSON.stringify({ "max-limit": "2M/4M" }) });
    expect(((await patched.json()) as Record<string, string>)["max-limit"]).toBe("2M/4M");
    expect(((await (await fetch(`${base}/queue/simple/${id}`, { headers: auth })).json()) as Record<string, string>).name).toBe("q1");
    const dup = await fetch(`${base}/queue/simple`, { method: "PUT", headers: json, body: JSON.stringify({ name: "q1", target: "10.0.0.2/32" }) });
    expect(dup.status).toBe(400);
    expect(await dup.json()).toEqual({ error: 400, message: "Bad Request", detail: "failure: already have such name" });
    expect((await fetch(`${base}/queue/simple/${id}`, { method: "DELETE", headers: auth })).status).toBe(204);
    const gone = await fetch(`${base}/queue/simple/${id}`, { method: "DELETE", headers: auth });
    expect(gone.status).toBe(404);
    expect(await gone.json()).toMatchObject({ error: 404, message: "Not Found" });
  });

  it("filters GET by query string and POST print by .query, and removes a PPP session", async () => {
    const active = (await (await fetch(`${base}/ppp/active?name=alice`, { headers: auth })).json()) as Array<Record<string, string>>;
    expect(active.map((r) => r.name)).toEqual(["alice"]);
    const printed = await fetch(`${base}/ppp/active/print`, { method: "POST", headers: json, body: JSON.stringify({ ".query": ["name=bob"], ".proplist": ["address"] }) });
    expect(await printed.json()).toEqual([{ address: "100.64.0.3" }]);
    expect((await fetch(`${base}/ppp/active/${encodeURIComponent("*80000001")}`, { method: "DELETE", headers: auth })).status).toBe(204);
    expect(state.ppp.list().map((r) => r.name)).toEqual(["bob"]);
  });

  it("refuses bad credentials, unknown paths and malformed bodies", async () => {
    expect((await fetch(`${base}/ppp/active`, { headers: { authorization: "Basic " + Buffer.from("admin:x").toString("base64") } })).status).toBe(401);
    expect((await fetch(`${base}/ppp/active`)).status).toBe(401);
    expect((await fetch(`${base}/interface/bogus`, { headers: auth })).status).toBe(400);
    const bad = await fetch(`${base}/ppp/secret`, { method: "PUT", headers: json, body: "{nope" });
    expect(bad.status).toBe(400);
    const big = await fetch(`${base}/ppp/secret`, { method: "PUT", headers: json, body: JSON.stringify({ name: "x".repeat(70_000) }) });
    expect(big.status).toBe(413);
  });
});
