// The simulator's RouterOS API server over real TCP on loopback: `node-routeros` used as
// is (no adapter) to show the library talks to it unchanged, and a raw client for what the
// library does not exercise (several tags in flight, /quit, protocol errors).
import { connect, type Socket } from "node:net";
import { RouterOSAPI } from "node-routeros";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRouterOsApiServer, matchQuery, type RouterOsApiServer } from "./api-server";
import { encodeLength, encodeSentence, SentenceDecoder } from "./protocol";
import { RouterState } from "./state";

const USERS = { admin: "s3cret", ops: "" };

async function rawClient(port: number): Promise<{ socket: Socket; send(words: string[]): void; next(n: number): Promise<string[][]>; closed: Promise<void> }> {
  const socket = connect(port, "127.0.0.1");
  await new Promise<void>((r, j) => socket.once("connect", r).once("error", j));
  const dec = new SentenceDecoder();
  const got: string[][] = [];
  socket.on("data", (c: Buffer) => got.push(...dec.push(c)));
  const closed = new Promise<void>((r) => socket.once("close", () => r()));
  return {
    socket,
    send: (words) => socket.write(encodeSentence(words)),
    async next(n) {
      const deadline = Date.now() + 3000;
      while (got.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      return got.splice(0, n);
    },
    closed,
  };
}

describe("RouterOS API server", () => {
  const state = new RouterState({ users: USERS });
  let server: RouterOsApiServer;
  let legacy: RouterOsApiServer;
  let port: number;

  beforeAll(async () => {
    state.ppp = {
      list: () => [
        { ".id": "*80000001", name: "alice", address: "100.64.0.2", service: "pppoe" },
        { ".id": "*80000002", name: "bob", address: "100.64.0.3", service: "pppoe" },
      ],
      remove: () => false,
    };
    server = createRouterOsApiServer({ state, port: 0 });
    port = await server.start();
    legacy = createRouterOsApiServer({ state, port: 0, legacyLogin: true });
    await legacy.start();
  });
  afterAll(async () => {
    await server.stop();
    await legacy.stop();
  });

  it("node-routeros logs in (6.43+ form) and runs print/add/set/remove", async () => {
    const api = new RouterOSAPI({ host: "127.0.0.1", port, user: "admin", password: "s3cret", timeout: 5 });
    await api.connect();
    try {
      const res = await api.write("/system/resource/print");
      expect(res[0]?.version).toMatch(/^7\./);

      const added = await api.write("/queue/simple/add", ["=name=alice", "=target=100.64.0.2/32", "=max-limit=2000000/10000000"]);
      const id = added[0]?.ret;
      expect(id).toMatch(/^\*[0-9A-F]+$/);
      await api.write("/queue/simple/set", [`=.id=${id}`, "=max-limit=4000000/20000000"]);
      const rows = await api.write("/queue/simple/print", ["?name=alice"]);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ ".id": id, name: "alice", "max-limit": "4000000/20000000", dynamic: "false" });

      await expect(api.write("/queue/simple/add", ["=name=alice", "=target=100.64.0.9/32"])).rejects.toThrow(/already have/);
      await api.write("/queue/simple/remove", [`=.id=${id}`]);
      expect(await api.write("/queue/simple/print", ["?name=alice"])).toEqual([]);
      await expect(api.write("/queue/simple/remove", [`=.id=${id}`])).rejects.toThrow(/no such item/);

      const active = await api.write("/ppp/active/print", ["?name=bob"]);
      expect(active.map((r) => r[".id"])).toEqual(["*80000002"]);
      await expect(api.write("/interface/bogus/print")).rejects.toThrow(/no such command/);
    } finally {
      await api.close();
    }
  });

  it("refuses wrong credentials with a !trap node-routeros understands", async () => {
    const before = server.stats.loginFailures;
    const api = new RouterOSAPI({ host: "127.0.0.1", port, user: "admin", password: "wrong", timeout: 5 });
    await expect(api.connect()).rejects.toMatchObject({ errno: "CANTLOGIN" });
    expect(server.stats.loginFailures).toBe(before + 1);
  });

  it("accepts the pre-6.43 MD5 challenge login and refuses a wrong response", async () => {
    const api = new RouterOSAPI({ host: "127.0.0.1", port: legacy.port, user: "admin", password: "s3cret", timeout: 5 });
    await api.connect();
    expect((await api.write("/system/resource/print"))[0]?.["cpu-count"]).toBe("4");
    await api.close();
    const bad = new RouterOSAPI({ host: "127.0.0.1", port: legacy.port, user: "admin", password: "nope", timeout: 5 });
    await expect(bad.connect()).rejects.toMatchObject({ errno: "CANTLOGIN" });
  });

  it("answers tagged commands by tag, refuses commands before login, and ends on /quit", async () => {
    const c = await rawClient(port);
    c.send(["/queue/simple/print", ".tag=early"]);
    expect(await c.next(2)).toEqual([
      ["!trap", "=message=not logged in", ".tag=early"],
      ["!done", ".tag=early"],
    ]);
    c.send(["/login", "=name=ops", "=password="]);
    expect(await c.next(1)).toEqual([["!done"]]);
    c.send(["/ip/firewall/address-list/add", "=list=suspended", "=address=100.64.0.3/32", ".tag=a"]);
    c.send(["/ip/firewall/address-list/print", "?list=suspended", "=.proplist=address,list", ".tag=b"]);
    c.send(["/ip/firewall/address-list/print", "=count-only=", ".tag=c"]);
    c.send(["/cancel", "=tag=b", ".tag=d"]);
    const replies = await c.next(5);
    expect(replies[0]).toEqual(["!done", expect.stringMatching(/^=ret=\*/), ".tag=a"]);
    // /32 is dropped as RouterOS does.
    expect(replies[1]).toEqual(["!re", "=address=100.64.0.3", "=list=suspended", ".tag=b"]);
    expect(replies[2]).toEqual(["!done", ".tag=b"]);
    expect(replies[3]).toEqual(["!done", "=ret=1", ".tag=c"]);
    expect(replies[4]).toEqual(["!done", ".tag=d"]);
    c.send(["/quit"]);
    expect((await c.next(1))[0]?.[0]).toBe("!fatal");
    await c.closed;
  });

  it("closes a connection that sends an oversized word with !fatal, and keeps serving others", async () => {
    const c = await rawClient(port);
    c.socket.write(encodeLength(10 * 1024 * 1024));
    expect((await c.next(1))[0]?.[0]).toBe("!fatal");
    await c.closed;
    const d = await rawClient(port);
    d.send(["/login", "=name=ops", "=password="]);
    expect(await d.next(1)).toEqual([["!done"]]);
    d.socket.destroy();
  });
});

describe("RouterOS API server under garbage", () => {
  it("survives random bytes on many connections and keeps serving", async () => {
    const server = createRouterOsApiServer({ state: new RouterState({ users: USERS }), port: 0, limits: { wordBytesMax: 1024, sentenceBytesMax: 8192 } });
    const port = await server.start();
    try {
      let seed = 9;
      const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
      for (let i = 0; i < 30; i++) {
        const c = await rawClient(port);
        c.socket.write(Buffer.from(Array.from({ length: 64 + Math.floor(rnd() * 512) }, () => Math.floor(rnd() * 256))));
        c.socket.end();
        await c.closed;
      }
      const d = await rawClient(port);
      d.send(["/login", "=name=admin", "=password=s3cret"]);
      d.send(["/system/resource/print", "=.proplist=cpu-count"]);
      expect(await d.next(3)).toEqual([["!done"], ["!re", "=cpu-count=4"], ["!done"]]);
      d.socket.destroy();
      expect(server.stats.internalErrors).toBe(0);
    } finally {
      await server.stop();
    }
  });
});

describe("API queries", () => {
  const r = { name: "alice", address: "10.0.0.2", bytes: "150" };
  it.each<[string[], boolean]>([
    [["name=alice"], true],
    [["=name=alice"], true],
    [["name=bob"], false],
    [["name"], true],
    [["-name"], false],
    [["-comment"], true],
    [["<bytes=200"], true],
    [[">bytes=200"], false],
    [["name=bob", "name=alice", "#|"], true],
    [["name=bob", "name=carol", "#|"], false],
    [["name=alice", "#!"], false],
    [["name=alice", "address=10.0.0.2", "#&"], true],
  ])("%j -> %s", (q, expected) => {
    expect(matchQuery(r, q)).toBe(expected);
  });
});
