import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { acctSpoolCodec, toSpooled } from "./accounting-service";
import { createAcctSpool, decodeFrames, encodeFrame, HEAD_FILE, SPOOL_FILE, SpoolFullError, type AcctSpool } from "./acct-spool";
import type { AcctItem } from "./session-store";

interface Rec {
  n: number;
  pad?: string;
}

const dirs: string[] = [];
const spools: AcctSpool<Rec>[] = [];
afterEach(async () => {
  for (const s of spools.splice(0)) await s.close().catch(() => undefined);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "acct-spool-"));
  dirs.push(d);
  return d;
}

async function openSpool(dir: string, maxBytes = 1024 * 1024) {
  const s = createAcctSpool<Rec>({ dir, maxBytes });
  spools.push(s);
  const report = await s.open();
  return { s, report };
}

async function readAll(s: AcctSpool<Rec>) {
  const out: { payload: Rec; end: number }[] = [];
  for (;;) {
    const batch = await s.read(100);
    if (batch.length === 0) return out;
    out.push(...batch);
  }
}

describe("accounting spool", () => {
  it("frames round-trip; a flipped byte or a cut frame is detected", () => {
    const a = encodeFrame({ n: 1 });
    const b = encodeFrame({ n: 2, pad: "x".repeat(100) });
    const both = Buffer.concat([a, b]);
    expect(decodeFrames(both, 0).frames.map((f) => JSON.parse(f.body.toString()))).toEqual([{ n: 1 }, { n: 2, pad: "x".repeat(100) }]);
    const flipped = Buffer.from(both);
    flipped[a.length + 12] = flipped[a.length + 12]! ^ 0xff;
    expect(decodeFrames(flipped, 0)).toMatchObject({ stop: a.length, bad: true });
    expect(decodeFrames(both.subarray(0, both.length - 3), 0)).toMatchObject({ stop: a.length, bad: false });
  });

  it("append resolves only once the record is in the file; concurrent appends share syncs; order is kept", async () => {
    const dir = tempDir();
    const { s } = await openSpool(dir);
    const appends = Array.from({ length: 200 }, (_, n) => s.append({ n }));
    await appends[0];
    // What has been acknowledged is in the file, readable by an independent reader.
    const onDisk = decodeFrames(readFileSync(join(dir, SPOOL_FILE)), 0).frames.length;
    expect(onDisk).toBeGreaterThanOrEqual(1);
    await Promise.all(appends);
    expect(decodeFrames(readFileSync(join(dir, SPOOL_FILE)), 0).frames.length).toBe(200);
    expect(s.counters.appended).toBe(200);
    expect(s.counters.syncs).toBeLessThan(200); // group commit
    expect((await readAll(s)).map((e) => e.payload.n)).toEqual(Array.from({ length: 200 }, (_, n) => n));
  });

  it("commit persists the head: a restart replays only what was not committed, and a drained spool is truncated", async () => {
    const dir = tempDir();
    const first = await openSpool(dir);
    await Promise.all([1, 2, 3, 4, 5].map((n) => first.s.append({ n })));
    const got = await first.s.read(2);
    await first.s.commit(got.at(-1)!.end, got.length);
    expect(first.s.pendingRecords).toBe(3);
    await first.s.close();

    const second = await openSpool(dir);
    expect(second.report).toEqual({ records: 3, tornBytes: 0 });
    const rest = await readAll(second.s);
    expect(rest.map((e) => e.payload.n)).toEqual([3, 4, 5]);
    // A failed replay rewinds to the committed head.
    second.s.rewind();
    expect((await readAll(second.s)).map((e) => e.payload.n)).toEqual([3, 4, 5]);
    await second.s.commit(rest.at(-1)!.end, rest.length);
    expect(second.s.pending).toBe(false);
    expect(statSync(join(dir, SPOOL_FILE)).size).toBe(0);
    expect(readFileSync(join(dir, HEAD_FILE), "utf8").trim()).toBe("0");
  });

  it("a commit while an append is in flight keeps the new record; the file is truncated once both are consumed", async () => {
    const dir = tempDir();
    const { s } = await openSpool(dir);
    await s.append({ n: 1 });
    const [e] = await s.read(10);
    const second = s.append({ n: 2 });
    await s.commit(e!.end, 1);
    await second;
    const [e2] = await s.read(10);
    expect(e2!.payload.n).toBe(2);
    expect(s.pending).toBe(true);
    await s.commit(e2!.end, 1);
    await s.commit(0, 0);
    expect(s.pending).toBe(false);
    expect(statSync(join(dir, SPOOL_FILE)).size).toBe(0);
    expect(s.bytes).toBe(0);
  });

  it("a torn last record (crash mid-write) is set aside, not replayed, and not a crash", async () => {
    const dir = tempDir();
    const first = await openSpool(dir);
    await Promise.all([1, 2, 3].map((n) => first.s.append({ n })));
    await first.s.close();
    const torn = encodeFrame({ n: 4, pad: "y".repeat(50) }).subarray(0, 20);
    appendFileSync(join(dir, SPOOL_FILE), torn);

    const second = await openSpool(dir);
    expect(second.report).toEqual({ records: 3, tornBytes: torn.length });
    expect(readdirSync(dir).filter((f) => f.startsWith(`${SPOOL_FILE}.corrupt-`))).toHaveLength(1);
    expect((await readAll(second.s)).map((e) => e.payload.n)).toEqual([1, 2, 3]);
    // Appends continue after the good data.
    await second.s.append({ n: 5 });
    second.s.rewind();
    expect((await readAll(second.s)).map((e) => e.payload.n)).toEqual([1, 2, 3, 5]);
  });

  it("a last record with a bad CRC, and a head file past the end, are handled at open", async () => {
    const dir = tempDir();
    const good = encodeFrame({ n: 1 });
    const bad = encodeFrame({ n: 2 });
    bad[bad.length - 2] = bad[bad.length - 2]! ^ 0x01;
    writeFileSync(join(dir, SPOOL_FILE), Buffer.concat([good, bad]));
    writeFileSync(join(dir, HEAD_FILE), "999999\n"); // crash between truncate and head write
    const { s, report } = await openSpool(dir);
    expect(report).toEqual({ records: 1, tornBytes: bad.length });
    expect((await readAll(s)).map((e) => e.payload.n)).toEqual([1]);
  });

  it("is bounded in bytes: beyond maxBytes append rejects, and accepts again once drained", async () => {
    const dir = tempDir();
    const frame = encodeFrame({ n: 0, pad: "z".repeat(100) }).length;
    const { s } = await openSpool(dir, frame * 3);
    const results = await Promise.allSettled([0, 1, 2, 3, 4].map((n) => s.append({ n, pad: "z".repeat(100) })));
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "fulfilled", "rejected", "rejected"]);
    expect((results[3] as PromiseRejectedResult).reason).toBeInstanceOf(SpoolFullError);
    expect(s.counters.rejectedFull).toBe(2);
    const all = await readAll(s);
    await s.commit(all.at(-1)!.end, all.length);
    await expect(s.append({ n: 9, pad: "z".repeat(100) })).resolves.toBeUndefined();
  });
});

describe("accounting spool records (binary, and JSON frames of earlier versions)", () => {
  const item = (n: number, over: Partial<AcctItem["rec"]> = {}, subscriberId: number | null = 42): AcctItem => ({
    routerId: 7,
    subscriberId,
    receivedAtMs: 1_790_000_000_123 + n,
    rec: {
      status: "interim",
      acctSessionId: `sess-${n}`,
      username: `user${n}@isp`,
      sessionTimeS: 600 + n,
      inputOctets: 5_000_000_000n + BigInt(n),
      outputOctets: 18_446_744_073_709_551_615n, // 2^64 - 1: gigawords folded in
      framedIp: "100.64.0.9",
      callingStationId: "AA:BB:CC:DD:EE:FF",
      nasPortId: "ether1-vlan100",
      terminateCause: null,
      delayTimeS: 3,
      ...over,
    },
  });

  it("round-trips every field, nulls, non-ASCII text and 64-bit counters; a record is far smaller than its JSON", () => {
    const cases: AcctItem[] = [
      item(1),
      item(2, { status: "stop", terminateCause: "User-Request", framedIp: null, callingStationId: null, nasPortId: null }, null),
      item(3, { status: "start", username: "রহিম\u0000ñ", acctSessionId: "", inputOctets: 0n, outputOctets: 0n }),
      item(4, { status: "on", username: "" }, null),
      item(5, { status: "off" }, 2_147_483_647),
      item(6, { status: "stop", terminateCause: "Lost-Carrier", delegatedPrefix: "2400:abcd:12:3400::/56" }),
    ];
    for (const c of cases) {
      const frame = encodeFrame(c, acctSpoolCodec);
      const { frames } = decodeFrames(frame, 0);
      expect(frames).toHaveLength(1);
      expect(acctSpoolCodec.decode(frames[0]!.body)).toEqual(c);
    }
    expect(encodeFrame(item(1), acctSpoolCodec).length * 2).toBeLessThan(encodeFrame(toSpooled(item(1))).length);
  });

  it("rejects a record it cannot read instead of guessing", () => {
    const body = encodeFrame(item(1), acctSpoolCodec).subarray(8);
    const wrongVersion = Buffer.from(body);
    wrongVersion[0] = 9;
    expect(() => acctSpoolCodec.decode(wrongVersion)).toThrow(/unknown accounting spool record/);
    const wrongStatus = Buffer.from(body);
    wrongStatus[1] = 99;
    expect(() => acctSpoolCodec.decode(wrongStatus)).toThrow(/unknown status/);
    expect(() => acctSpoolCodec.decode(body.subarray(0, body.length - 4))).toThrow(/cut short/);
  });

  it("a spool left by the previous version (JSON frames) replays in order, followed by binary frames appended after the upgrade", async () => {
    const dir = tempDir();
    // Exactly what the JSON-only version wrote: frames of toSpooled() payloads.
    writeFileSync(join(dir, SPOOL_FILE), Buffer.concat([1, 2, 3].map((n) => encodeFrame(toSpooled(item(n))))));
    const s = createAcctSpool<AcctItem>({ dir, maxBytes: 1024 * 1024, codec: acctSpoolCodec });
    try {
      expect(await s.open()).toEqual({ records: 3, tornBytes: 0 });
      await Promise.all([4, 5].map((n) => s.append(item(n, { status: "stop", terminateCause: "Lost-Carrier" }))));
      const got: AcctItem[] = [];
      for (;;) {
        const batch = await s.read(2);
        if (batch.length === 0) break;
        got.push(...batch.map((e) => e.payload));
      }
      expect(got).toEqual([item(1), item(2), item(3), item(4, { status: "stop", terminateCause: "Lost-Carrier" }), item(5, { status: "stop", terminateCause: "Lost-Carrier" })]);
    } finally {
      await s.close();
    }
  });

  it("appends larger than the append buffer and a burst across many syncs keep every frame", async () => {
    const dir = tempDir();
    const s = createAcctSpool<AcctItem>({ dir, maxBytes: 64 * 1024 * 1024, codec: acctSpoolCodec });
    try {
      await s.open();
      const long = "x".repeat(20_000); // 3 of these outgrow the 256 KiB buffer's spare room
      const all = Array.from({ length: 3000 }, (_, n) => item(n, n % 500 === 0 ? { nasPortId: long } : {}));
      await Promise.all(all.map((it) => s.append(it)));
      const { frames, stop } = decodeFrames(readFileSync(join(dir, SPOOL_FILE)), 0);
      expect(stop).toBe(statSync(join(dir, SPOOL_FILE)).size);
      expect(frames.map((f) => acctSpoolCodec.decode(f.body))).toEqual(all);
      await expect(s.append(item(0, { nasPortId: "y".repeat(70_000) }))).rejects.toThrow(/too large/);
      await expect(s.append(item(9))).resolves.toBeUndefined();
    } finally {
      await s.close();
    }
  });
});
