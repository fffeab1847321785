import { appendFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openNatSpool, type SpoolBatch } from "./nat-spool";

const dirs: string[] = [];
const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), "nat-spool-"));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const batch = (n: number): SpoolBatch => ({
  rows: [
    {
      time: new Date(Date.UTC(2026, 10, 24, 5, 15, n)),
      routerId: n % 2 === 0 ? 1 : null,
      sourceIp: "192.0.2.1",
      event: "packet",
      protocol: "tcp",
      privateIp: `10.0.0.${n}`,
      privatePort: 1000 + n,
      publicIp: "203.0.113.10",
      publicPort: 2000 + n,
      destIp: "8.8.8.8",
      destPort: n % 2 === 0 ? 53 : null,
      subscriberId: n % 2 === 0 ? n : null,
      acctSessionId: n % 2 === 0 ? `S${n}` : null,
      pppoeUser: "ahmed.khan",
      srcMac: null,
    },
  ],
  quarantine: [{ receivedAt: new Date(Date.UTC(2026, 10, 24, 5, 15, n)), sourceIp: "192.0.2.1", reason: "nat_malformed", raw: `<13>bad "line" ${n}\n` }],
});

describe("NAT spool", () => {
  it("replays batches in append order, identical to what went in, across a reopen", async () => {
    const dir = fresh();
    const s1 = await openNatSpool(dir, 1 << 20);
    for (let i = 1; i <= 3; i++) expect(await s1.append(batch(i))).toBe(true);
    expect(await s1.peek()).toEqual(batch(1));
    await s1.ack();
    await s1.close();

    const s2 = await openNatSpool(dir, 1 << 20);
    expect(s2.pendingBatches).toBe(2);
    expect(await s2.peek()).toEqual(batch(2));
    await s2.ack();
    expect(await s2.peek()).toEqual(batch(3));
    await s2.ack();
    expect(await s2.peek()).toBeNull();
    expect(s2.fileBytes).toBe(0); // drained: the file starts over
    await s2.close();
    expect((await openNatSpool(dir, 1 << 20)).pendingBatches).toBe(0);
  });

  it("refuses a batch beyond bytesMax without writing it", async () => {
    const dir = fresh();
    const s = await openNatSpool(dir, 900);
    let accepted = 0;
    while (await s.append(batch(accepted + 1))) accepted++;
    expect(accepted).toBeGreaterThan(0);
    expect(s.fileBytes).toBeLessThanOrEqual(900);
    expect(s.pendingBatches).toBe(accepted);
    await s.close();
  });

  it("drops a torn last record left by a crash during append", async () => {
    const dir = fresh();
    const s = await openNatSpool(dir, 1 << 20);
    await s.append(batch(1));
    await s.close();
    appendFileSync(join(dir, "nat-spool.jsonl"), '{"r":[["2026');
    const again = await openNatSpool(dir, 1 << 20);
    expect(again.pendingBatches).toBe(1);
    expect(await again.peek()).toEqual(batch(1));
    await again.append(batch(2));
    await again.ack();
    expect(await again.peek()).toEqual(batch(2));
    await again.close();
  });
});
