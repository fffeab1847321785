import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createAcctSpool, decodeFrames, encodeFrame, HEAD_FILE, SPOOL_FILE, SpoolFullError, type AcctSpool } from "./acct-spool";

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
