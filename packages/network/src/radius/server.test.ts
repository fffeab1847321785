import { afterEach, describe, expect, it } from "vitest";
import { encodeRequest, verifyMessageAuthenticator, verifyResponseAuthenticator } from "./auth";
import { RadiusClient } from "./client";
import { decodePacket, getString, PacketCode } from "./codec";
import { createRadiusServer, type RadiusServer, type RadiusServerLogEvent, type RadiusServerOptions } from "./server";
import { rawSocket, waitFor } from "../testing/udp";

const SECRET = "testing123";
const users = new Map([["alice", "wonderland"]]);
const servers: RadiusServer[] = [];
const clients: RadiusClient[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()));
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

async function startServer(overrides: Partial<RadiusServerOptions> = {}) {
  const logs: RadiusServerLogEvent[] = [];
  const server = createRadiusServer({
    kind: "auth",
    host: "127.0.0.1",
    port: 0,
    secretFor: (ip) => (ip === "127.0.0.1" ? SECRET : undefined),
    handler: (req) => {
      const user = req.getString("User-Name") ?? "";
      const ok = users.get(user) === (req.authMethod === "pap" ? req.papPassword() : undefined);
      return ok
        ? { code: PacketCode.AccessAccept, attributes: [["Mikrotik-Rate-Limit", "2M/10M"]] }
        : { code: PacketCode.AccessReject, attributes: [["Reply-Message", "bad password"]] };
    },
    log: (e) => logs.push(e),
    ...overrides,
  });
  const port = await server.start();
  servers.push(server);
  return { server, port, logs };
}

function client(): RadiusClient {
  const c = new RadiusClient({ localAddress: "127.0.0.1" });
  clients.push(c);
  return c;
}

const accessRequest = (port: number, password: string, extra: Array<[string, string]> = []) =>
  client().request({
    host: "127.0.0.1",
    port,
    secret: SECRET,
    code: PacketCode.AccessRequest,
    attributes: [["User-Name", "alice"], ["User-Password", password], ...extra],
    timeoutMs: 300,
    retries: 0,
  });

describe("radius server (auth)", () => {
  it("answers a good request with Message-Authenticator first and a valid Response Authenticator", async () => {
    const { port, server } = await startServer();
    const sock = await rawSocket();
    const { raw, authenticator } = encodeRequest({ code: 1, identifier: 42, secret: SECRET, attributes: [["User-Name", "alice"], ["User-Password", "wonderland"]] });
    sock.send(raw, port);
    await waitFor(() => sock.received.length === 1);
    const reply = sock.received[0]!;
    const p = decodePacket(reply);
    expect(p.code).toBe(PacketCode.AccessAccept);
    expect(p.identifier).toBe(42);
    expect(p.attributes[0]!.type).toBe(80);
    expect(verifyResponseAuthenticator(reply, authenticator, SECRET)).toBe(true);
    expect(verifyMessageAuthenticator(p, SECRET, authenticator)).toBe(true);
    expect(getString(p, "Mikrotik-Rate-Limit")).toBe("2M/10M");
    expect(server.counters).toMatchObject({ received: 1, replied: 1 });
    await sock.close();
  });

  it("drops and counts malformed, unknown NAS and bad Message-Authenticator, and still answers a good packet", async () => {
    const { port, server, logs } = await startServer();
    const sock = await rawSocket();
    sock.send(Buffer.from("not radius"), port);
    sock.send(Buffer.concat([Buffer.from([1, 1, 0, 30]), Buffer.alloc(16)]), port); // length beyond datagram
    sock.send(encodeRequest({ code: 1, identifier: 1, secret: "wrong", attributes: [["User-Name", "alice"], ["User-Password", "wonderland"]] }).raw, port);
    sock.send(encodeRequest({ code: 4, identifier: 2, secret: SECRET, attributes: [["Acct-Status-Type", "Start"]] }).raw, port); // accounting on the auth port
    const unknown = await rawSocket("127.0.0.3");
    unknown.send(encodeRequest({ code: 1, identifier: 3, secret: SECRET, attributes: [["User-Name", "alice"], ["User-Password", "wonderland"]] }).raw, port);

    const good = await accessRequest(port, "wonderland");
    expect(good.response?.code).toBe(PacketCode.AccessAccept);
    const bad = await accessRequest(port, "nope");
    expect(bad.response?.code).toBe(PacketCode.AccessReject);

    await waitFor(() => server.counters.received === 7);
    expect(server.counters).toMatchObject({
      received: 7,
      replied: 2,
      dropMalformed: 2,
      dropBadAuthenticator: 1,
      dropUnknownNas: 1,
      dropUnexpectedCode: 1,
    });
    expect(sock.received).toHaveLength(0);
    expect(unknown.received).toHaveLength(0);
    expect(logs.map((l) => l.reason).sort()).toEqual(["bad-authenticator", "malformed", "malformed", "unexpected-code", "unknown-nas"]);
    await sock.close();
    await unknown.close();
  });

  it("drops EAP without Message-Authenticator, and any request without it when required", async () => {
    const { port, server } = await startServer({ requireMessageAuthenticator: true });
    const sock = await rawSocket();
    sock.send(encodeRequest({ code: 1, identifier: 1, secret: SECRET, messageAuthenticator: false, attributes: [["User-Name", "alice"], ["User-Password", "wonderland"]] }).raw, port);
    await waitFor(() => server.counters.dropMissingMessageAuthenticator === 1);
    expect((await accessRequest(port, "wonderland")).response?.code).toBe(PacketCode.AccessAccept);
    await sock.close();
  });

  it("counts handler errors without crashing and keeps serving", async () => {
    let calls = 0;
    const { port, server, logs } = await startServer({
      handler: () => {
        calls++;
        if (calls === 1) throw new Error("boom");
        if (calls === 2) return Promise.reject(new Error("async boom"));
        return { code: PacketCode.AccessAccept };
      },
    });
    expect((await accessRequest(port, "x")).response).toBeNull();
    expect((await accessRequest(port, "x")).response).toBeNull();
    expect((await accessRequest(port, "x")).response?.code).toBe(PacketCode.AccessAccept);
    expect(server.counters.handlerErrors).toBe(2);
    expect(logs.filter((l) => l.reason === "handler-error")).toHaveLength(2);
  });

  it("bounds in-flight async handlers and drops beyond inFlightMax", async () => {
    const releases: Array<() => void> = [];
    const { port, server } = await startServer({
      inFlightMax: 2,
      handler: () => new Promise((resolve) => releases.push(() => resolve({ code: PacketCode.AccessAccept }))),
    });
    const sock = await rawSocket();
    for (let id = 0; id < 3; id++) {
      sock.send(encodeRequest({ code: 1, identifier: id, secret: SECRET, attributes: [["User-Name", "alice"]] }).raw, port);
    }
    await waitFor(() => server.counters.received === 3);
    expect(server.inFlight()).toBe(2);
    expect(server.counters.dropOverload).toBe(1);
    releases.forEach((r) => r());
    await waitFor(() => sock.received.length === 2);
    expect(server.inFlight()).toBe(0);
    await sock.close();
  });

  it("answers a retransmission from the reply cache without calling the handler twice", async () => {
    let calls = 0;
    const { port, server } = await startServer({
      handler: () => {
        calls++;
        return { code: PacketCode.AccessAccept };
      },
    });
    const sock = await rawSocket();
    const { raw } = encodeRequest({ code: 1, identifier: 9, secret: SECRET, attributes: [["User-Name", "alice"]] });
    sock.send(raw, port);
    await waitFor(() => sock.received.length === 1);
    sock.send(raw, port);
    await waitFor(() => sock.received.length === 2);
    expect(calls).toBe(1);
    expect(server.counters.duplicatesResent).toBe(1);
    expect(sock.received[0]!.equals(sock.received[1]!)).toBe(true);
    await sock.close();
  });

  it("duplicate cache: long replies, in-flight duplicates, identifier reuse, eviction of the oldest when full", async () => {
    let calls = 0;
    const pending: Array<() => void> = [];
    const { port, server } = await startServer({
      duplicateCacheEntriesMax: 3,
      handler: (req) => {
        calls++;
        const user = req.getString("User-Name") ?? "";
        // A reply longer than the cache's 256-byte slot is kept as its own buffer.
        const reply = { code: PacketCode.AccessAccept, attributes: user === "long" ? ([["Reply-Message", "x".repeat(250)], ["Class", Buffer.alloc(200, 7)]] as const) : [] };
        if (user === "slow") return new Promise((resolve) => pending.push(() => resolve(reply)));
        return reply;
      },
    });
    const sock = await rawSocket();
    const req = (id: number, user: string) => encodeRequest({ code: 1, identifier: id, secret: SECRET, attributes: [["User-Name", user]] }).raw;

    const long = req(1, "long");
    sock.send(long, port);
    await waitFor(() => sock.received.length === 1);
    expect(sock.received[0]!.length).toBeGreaterThan(256);
    sock.send(long, port);
    await waitFor(() => sock.received.length === 2);
    expect(sock.received[1]!.equals(sock.received[0]!)).toBe(true);
    expect(calls).toBe(1);

    // A retransmission while the handler runs is dropped, then the answer comes once.
    const slow = req(2, "slow");
    sock.send(slow, port);
    await waitFor(() => pending.length === 1);
    sock.send(slow, port);
    await waitFor(() => server.counters.dropDuplicateInFlight === 1);
    pending.shift()!();
    await waitFor(() => sock.received.length === 3);

    // Same identifier, new authenticator: a new request, the handler runs again.
    sock.send(req(2, "short"), port);
    await waitFor(() => sock.received.length === 4);
    expect(calls).toBe(3);

    // Three entries max: two more requests evict id 1 (the oldest); its retransmission is handled anew.
    sock.send(req(3, "a"), port);
    sock.send(req(4, "b"), port);
    await waitFor(() => sock.received.length === 6);
    const before = calls;
    sock.send(long, port);
    await waitFor(() => sock.received.length === 7);
    expect(calls).toBe(before + 1);
    // Every answer verifies (the cached ones were not overwritten by later encodes).
    for (const r of sock.received) expect(decodePacket(r).code).toBe(PacketCode.AccessAccept);
    expect(server.counters.duplicatesResent).toBe(1);
    await sock.close();
  });

  it("throttles drop logs per reason", async () => {
    const { port, server, logs } = await startServer({ logEventsPerWindowMax: 2 });
    const sock = await rawSocket();
    for (let i = 0; i < 6; i++) sock.send(Buffer.alloc(5), port);
    await waitFor(() => server.counters.dropMalformed === 6);
    expect(logs).toHaveLength(2);
    await sock.close();
  });
});

describe("radius server (acct)", () => {
  it("verifies the Accounting-Request authenticator", async () => {
    const received: string[] = [];
    const { port, server } = await startServer({
      kind: "acct",
      handler: (req) => {
        received.push(req.getString("Acct-Session-Id") ?? "");
        return { code: PacketCode.AccountingResponse };
      },
    });
    const sock = await rawSocket();
    // Wrong secret without Message-Authenticator: only the Request Authenticator can catch it.
    sock.send(encodeRequest({ code: 4, identifier: 1, secret: "wrong", messageAuthenticator: false, attributes: [["Acct-Status-Type", "Start"], ["Acct-Session-Id", "bad"]] }).raw, port);
    const r = await client().request({
      host: "127.0.0.1",
      port,
      secret: SECRET,
      code: PacketCode.AccountingRequest,
      attributes: [["Acct-Status-Type", "Start"], ["Acct-Session-Id", "good"]],
      timeoutMs: 500,
      retries: 0,
    });
    expect(r.response?.code).toBe(PacketCode.AccountingResponse);
    await waitFor(() => server.counters.received === 2);
    expect(server.counters.dropBadAuthenticator).toBe(1);
    expect(received).toEqual(["good"]);
    await sock.close();
  });
});
