// Durable local spool for accounting records the database could not take in time.
//
// On disk (docs/radius-accounting.md): `<dir>/acct.spool`, an append-only sequence of
// frames `[u32 BE payload length][u32 BE CRC-32 of payload][payload: UTF-8 JSON]`, and
// `<dir>/acct.spool.head`, the byte offset of the first frame not yet applied to the
// database (replaced atomically: write temp, fsync, rename, fsync dir).
//
// append() resolves only after the frame is fdatasync'ed (group commit: appends that
// arrive while a sync is running share the next one), so the caller may then ACK. A crash
// mid-write leaves a torn last frame: open() detects it by length/CRC, moves the bytes
// aside to `acct.spool.corrupt-<ms>` and truncates, so only unacknowledged data is set
// aside and the daemon starts. When the consumer has committed everything, the file is
// truncated to zero; a head beyond the file (crash between truncate and head write) is
// read as 0, which can only replay records again, and replay is idempotent downstream.
import { constants, type PathLike } from "node:fs";
import { mkdir, open, readFile, rename, writeFile, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { crc32 } from "node:zlib";

export const SPOOL_FILE = "acct.spool";
export const HEAD_FILE = "acct.spool.head";
const FRAME_HEADER_BYTES = 8;
/** A frame larger than this is corruption, not a record (one accounting record is < 2 KiB). */
export const FRAME_PAYLOAD_MAX = 64 * 1024;

export class SpoolFullError extends Error {
  constructor(public readonly bytes: number) {
    super(`accounting spool full (${bytes} bytes)`);
    this.name = "SpoolFullError";
  }
}

export interface SpoolEntry<T> {
  payload: T;
  /** Byte offset just past this frame: commit(end) marks it and everything before as applied. */
  end: number;
}

export interface SpoolOpenReport {
  /** Frames waiting to be replayed. */
  records: number;
  /** Bytes past the last good frame, set aside (a torn write or corruption). */
  tornBytes: number;
}

export interface SpoolCounters {
  appended: number;
  syncs: number;
  rejectedFull: number;
  committed: number;
  truncations: number;
  tornBytes: number;
}

export interface AcctSpool<T> {
  open(): Promise<SpoolOpenReport>;
  /** Resolves once the record is on disk (fsynced); rejects SpoolFullError when over the bound. */
  append(payload: T): Promise<void>;
  /** Frames after the read cursor, in append order, up to `max` (only durable frames). */
  read(max: number): Promise<SpoolEntry<T>[]>;
  /** Marks the `records` frames up to `end` as applied; truncates the file when nothing is left (commit(0, 0) only tidies). */
  commit(end: number, records: number): Promise<void>;
  /** Moves the read cursor back to the committed head (after a failed replay batch). */
  rewind(): void;
  /** True while any record is spooled, being spooled, or not yet committed. */
  readonly pending: boolean;
  /** Frames appended and not yet committed (this process's count; exact after open()). */
  readonly pendingRecords: number;
  readonly bytes: number;
  readonly counters: SpoolCounters;
  close(): Promise<void>;
}

export interface AcctSpoolOptions {
  dir: string;
  /** Bound on the spool file size; beyond it append() rejects (the NAS retransmits). */
  maxBytes: number;
  /** Skip fdatasync (tests of framing only; never in production). */
  unsafeNoSync?: boolean;
}

export function encodeFrame(payload: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(payload), "utf8");
  if (body.length > FRAME_PAYLOAD_MAX) throw new Error(`spool record too large (${body.length} bytes)`);
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + body.length);
  frame.writeUInt32BE(body.length, 0);
  frame.writeUInt32BE(crc32(body), 4);
  body.copy(frame, FRAME_HEADER_BYTES);
  return frame;
}

/**
 * Frames in `buf` from `offset`: the good ones, and where parsing stopped. `bad` means
 * the bytes at `stop` are not a valid frame (as opposed to a frame cut by the buffer end).
 */
export function decodeFrames(buf: Buffer, offset: number, max = Infinity): { frames: { body: Buffer; end: number }[]; stop: number; bad: boolean } {
  const frames: { body: Buffer; end: number }[] = [];
  let at = offset;
  while (frames.length < max) {
    if (buf.length - at < FRAME_HEADER_BYTES) return { frames, stop: at, bad: false };
    const len = buf.readUInt32BE(at);
    if (len > FRAME_PAYLOAD_MAX) return { frames, stop: at, bad: true };
    const end = at + FRAME_HEADER_BYTES + len;
    if (end > buf.length) return { frames, stop: at, bad: false };
    const body = buf.subarray(at + FRAME_HEADER_BYTES, end);
    if (crc32(body) !== buf.readUInt32BE(at + 4)) return { frames, stop: at, bad: true };
    frames.push({ body, end });
    at = end;
  }
  return { frames, stop: at, bad: false };
}

async function fsyncDir(dir: PathLike): Promise<void> {
  const fh = await open(dir, constants.O_RDONLY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export function createAcctSpool<T>(opts: AcctSpoolOptions): AcctSpool<T> {
  const path = join(opts.dir, SPOOL_FILE);
  const headPath = join(opts.dir, HEAD_FILE);
  let fh: FileHandle | null = null;
  /** Bytes durably in the file (all frames complete). */
  let size = 0;
  /** First byte not yet applied downstream. */
  let head = 0;
  /** Next byte read() hands out. */
  let cursor = 0;
  let pendingRecords = 0;
  // Appends waiting for the next write+sync, and the bytes they will add.
  let buffered: { frame: Buffer; resolve: () => void; reject: (e: unknown) => void }[] = [];
  let bufferedBytes = 0;
  let syncing = false;
  /** Bytes being written by the sync in progress (not yet in `size`). */
  let syncingBytes = 0;
  // Every file mutation (write+sync, truncate) runs on this chain, one at a time.
  let chain: Promise<void> = Promise.resolve();
  const counters: SpoolCounters = { appended: 0, syncs: 0, rejectedFull: 0, committed: 0, truncations: 0, tornBytes: 0 };

  const serial = (job: () => Promise<void>): Promise<void> => {
    const run = chain.then(job);
    chain = run.catch(() => undefined);
    return run;
  };

  const writeHead = async (offset: number) => {
    const tmp = `${headPath}.tmp`;
    await writeFile(tmp, `${offset}\n`);
    if (!opts.unsafeNoSync) {
      const t = await open(tmp, "r+");
      try {
        await t.sync();
      } finally {
        await t.close();
      }
    }
    await rename(tmp, headPath);
    if (!opts.unsafeNoSync) await fsyncDir(opts.dir);
  };

  const syncBuffered = (): void => {
    if (syncing || buffered.length === 0) return;
    syncing = true;
    const batch = buffered;
    buffered = [];
    const bytes = bufferedBytes;
    bufferedBytes = 0;
    syncingBytes = bytes;
    void serial(async () => {
      const handle = fh;
      if (!handle) throw new Error("spool is closed");
      const data = Buffer.concat(batch.map((b) => b.frame), bytes);
      try {
        let written = 0;
        while (written < data.length) {
          const r = await handle.write(data, written, data.length - written, size + written);
          written += r.bytesWritten;
        }
        if (!opts.unsafeNoSync) await handle.datasync();
      } catch (err) {
        // A partial write (ENOSPC) must not leave a frame that later reads as good data.
        await handle.truncate(size).catch(() => undefined);
        throw err;
      }
      size += data.length;
      pendingRecords += batch.length;
      counters.syncs++;
      counters.appended += batch.length;
    }).then(
      () => {
        for (const b of batch) b.resolve();
      },
      (err: unknown) => {
        for (const b of batch) b.reject(err);
      },
    ).finally(() => {
      syncing = false;
      syncingBytes = 0;
      syncBuffered();
    });
  };

  return {
    async open() {
      await mkdir(opts.dir, { recursive: true });
      fh = await open(path, constants.O_RDWR | constants.O_CREAT);
      const whole = await fh.readFile();
      const headText = await readFile(headPath, "utf8").catch(() => "0");
      head = Number.parseInt(headText, 10);
      if (!Number.isSafeInteger(head) || head < 0 || head > whole.length) head = 0;
      let { frames, stop } = decodeFrames(whole, head);
      if (frames.length === 0 && head > 0 && stop < whole.length) {
        // The head does not land on a frame boundary (should not happen): replay all.
        head = 0;
        ({ frames, stop } = decodeFrames(whole, 0));
      }
      let tornBytes = 0;
      if (stop < whole.length) {
        tornBytes = whole.length - stop;
        await writeFile(join(opts.dir, `${SPOOL_FILE}.corrupt-${Date.now()}`), whole.subarray(stop));
        await fh.truncate(stop);
        if (!opts.unsafeNoSync) await fh.sync();
      }
      counters.tornBytes += tornBytes;
      size = stop;
      cursor = head;
      pendingRecords = frames.length;
      return { records: frames.length, tornBytes };
    },

    append(payload) {
      if (!fh) return Promise.reject(new Error("spool is not open"));
      let frame: Buffer;
      try {
        frame = encodeFrame(payload);
      } catch (err) {
        return Promise.reject(err);
      }
      const used = size + syncingBytes + bufferedBytes;
      if (used + frame.length > opts.maxBytes) {
        counters.rejectedFull++;
        return Promise.reject(new SpoolFullError(used));
      }
      return new Promise<void>((resolve, reject) => {
        buffered.push({ frame, resolve, reject });
        bufferedBytes += frame.length;
        syncBuffered();
      });
    },

    async read(max) {
      if (!fh || cursor >= size || max <= 0) return [];
      // Read what is durable now; a frame is at most FRAME_PAYLOAD_MAX + 8 bytes.
      const want = Math.min(size - cursor, Math.max(256 * 1024, FRAME_PAYLOAD_MAX + FRAME_HEADER_BYTES));
      const buf = Buffer.allocUnsafe(want);
      const { bytesRead } = await fh.read(buf, 0, want, cursor);
      const { frames, bad } = decodeFrames(buf.subarray(0, bytesRead), 0, max);
      if (frames.length === 0 && bad) throw new Error(`accounting spool corrupt at offset ${cursor}`);
      const base = cursor;
      const out = frames.map((f) => ({ payload: JSON.parse(f.body.toString("utf8")) as T, end: base + f.end }));
      cursor = out.at(-1)?.end ?? cursor;
      return out;
    },

    rewind() {
      cursor = head;
    },

    async commit(end, n) {
      // After close() the directory may already belong to the next process: never touch it.
      const consumed = () => size > 0 && head >= size && buffered.length === 0 && !syncing;
      if (!fh || (end <= head && !consumed())) return;
      await serial(async () => {
        if (!fh) return;
        if (end > head) {
          head = end;
          pendingRecords = Math.max(0, pendingRecords - n);
          counters.committed += n;
        }
        if (consumed()) {
          await fh.truncate(0);
          if (!opts.unsafeNoSync) await fh.sync();
          size = 0;
          head = 0;
          cursor = 0;
          counters.truncations++;
        }
        await writeHead(head);
      });
    },

    get pending() {
      return head < size || buffered.length > 0 || syncing;
    },
    get pendingRecords() {
      return pendingRecords + buffered.length;
    },
    get bytes() {
      return size + syncingBytes + bufferedBytes;
    },
    counters,

    async close() {
      // Let queued appends finish (their callers wait for an answer).
      while (buffered.length > 0 || syncing) {
        syncBuffered();
        await chain;
        await new Promise((r) => setImmediate(r));
      }
      await chain;
      await fh?.close();
      fh = null;
    },
  };
}
