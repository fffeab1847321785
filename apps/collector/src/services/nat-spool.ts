// Local append-only spool for NAT batches the database could not take. One JSON line per
// batch in <dir>/nat-spool.jsonl, fsynced before append() resolves; the byte offset of
// the first batch not yet replayed lives in <dir>/nat-spool.offset (fsynced after each
// replayed batch). Batches replay in append order. When everything is replayed both
// files are reset, so the file only grows during an outage, bounded by bytesMax: a full
// spool refuses appends and the ingest stops draining its queue (TCP senders are paused,
// UDP lines are counted as dropped).
//
// Exactly once holds across database outages within one process. A crash of the
// collector between a replayed batch's COMMIT and the offset fsync replays that batch
// again on the next start (at-least-once in that window).
import { mkdirSync, promises as fsp } from "node:fs";
import { join } from "node:path";
import type { NatLogRow, NatQuarantineRow } from "./nat-store";

export interface SpoolBatch {
  rows: NatLogRow[];
  quarantine: NatQuarantineRow[];
}

export interface NatSpool {
  /** false when the batch does not fit in bytesMax (nothing written). Throws on I/O errors. */
  append(batch: SpoolBatch): Promise<boolean>;
  /** The oldest batch not yet replayed, or null. */
  peek(): Promise<SpoolBatch | null>;
  /** Marks the batch returned by peek() as stored. */
  ack(): Promise<void>;
  close(): Promise<void>;
  readonly pendingBatches: number;
  readonly fileBytes: number;
}

interface Wire {
  r: [string, number | null, string, NatLogRow["event"], string, string, number | null, string, number | null, string, number | null, number | null, string | null, string | null, string | null][];
  q: [string, string, string, string][];
}

function encode(b: SpoolBatch): string {
  const wire: Wire = {
    r: b.rows.map((x) => [
      x.time.toISOString(), x.routerId, x.sourceIp, x.event, x.protocol, x.privateIp, x.privatePort, x.publicIp, x.publicPort,
      x.destIp, x.destPort, x.subscriberId, x.acctSessionId, x.pppoeUser, x.srcMac,
    ]),
    q: b.quarantine.map((x) => [x.receivedAt.toISOString(), x.sourceIp, x.reason, x.raw]),
  };
  return `${JSON.stringify(wire)}\n`;
}

function decode(line: string): SpoolBatch {
  const wire = JSON.parse(line) as Wire;
  return {
    rows: wire.r.map(([time, routerId, sourceIp, event, protocol, privateIp, privatePort, publicIp, publicPort, destIp, destPort, subscriberId, acctSessionId, pppoeUser, srcMac]) => ({
      time: new Date(time), routerId, sourceIp, event, protocol, privateIp, privatePort, publicIp, publicPort, destIp, destPort, subscriberId, acctSessionId, pppoeUser, srcMac,
    })),
    quarantine: wire.q.map(([receivedAt, sourceIp, reason, raw]) => ({ receivedAt: new Date(receivedAt), sourceIp, reason, raw })),
  };
}

export async function openNatSpool(dir: string, bytesMax: number): Promise<NatSpool> {
  mkdirSync(dir, { recursive: true });
  const dataPath = join(dir, "nat-spool.jsonl");
  const offsetPath = join(dir, "nat-spool.offset");
  const fh = await fsp.open(dataPath, "a+");
  let size = (await fh.stat()).size;
  let offset = Number((await fsp.readFile(offsetPath, "utf8").catch(() => "0")).trim()) || 0;
  // Record boundaries (start offset, length) of batches not yet replayed; offsets only, not data.
  const pending: { at: number; len: number }[] = [];
  if (offset > size) offset = size;
  if (size > offset) {
    const buf = Buffer.alloc(size - offset);
    await fh.read(buf, 0, buf.length, offset);
    let pos = 0;
    for (;;) {
      const nl = buf.indexOf(0x0a, pos);
      if (nl === -1) break;
      pending.push({ at: offset + pos, len: nl - pos });
      pos = nl + 1;
    }
    if (pos < buf.length) {
      // A torn last record (crash during append): it was never acknowledged, drop it.
      await fh.truncate(offset + pos);
      size = offset + pos;
    }
  }

  const writeOffset = async (value: number) => {
    const tmp = `${offsetPath}.tmp`;
    const h = await fsp.open(tmp, "w");
    try {
      await h.writeFile(String(value));
      await h.sync();
    } finally {
      await h.close();
    }
    await fsp.rename(tmp, offsetPath);
  };

  return {
    async append(batch) {
      const bytes = Buffer.from(encode(batch), "utf8");
      if (size + bytes.length > bytesMax) return false;
      await fh.write(bytes, 0, bytes.length, size);
      await fh.sync();
      pending.push({ at: size, len: bytes.length - 1 });
      size += bytes.length;
      return true;
    },
    async peek() {
      const first = pending[0];
      if (!first) return null;
      const buf = Buffer.alloc(first.len);
      await fh.read(buf, 0, first.len, first.at);
      return decode(buf.toString("utf8"));
    },
    async ack() {
      const first = pending.shift();
      if (!first) return;
      if (pending.length === 0) {
        // Drained: start over with an empty file.
        await fh.truncate(0);
        await fh.sync();
        size = 0;
        await writeOffset(0);
      } else {
        await writeOffset(first.at + first.len + 1);
      }
    },
    async close() {
      await fh.close();
    },
    get pendingBatches() {
      return pending.length;
    },
    get fileBytes() {
      return size;
    },
  };
}
