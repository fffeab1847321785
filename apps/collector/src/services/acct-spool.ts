// Durable local spool for accounting records the database could not take in time.
//
// On disk (docs/radius-accounting.md): `<dir>/acct.spool`, an append-only sequence of
// frames `[u32 BE payload length][u32 BE CRC-32 of payload][payload]`, and
// `<dir>/acct.spool.head`, the byte offset of the first frame not yet applied to the
// database (replaced atomically: write temp, fsync, rename, fsync dir). The payload's
// encoding is the caller's (SpoolCodec; default UTF-8 JSON): the accounting service uses a
// compact binary record and still reads the JSON frames of earlier versions.
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

/** How a payload becomes a frame body and back. */
export interface SpoolCodec<T> {
  /**
   * Writes the body of `payload` into `buf` from `at`; returns the offset just past it, or
   * -1 when it may not fit in the room left (the spool then retries with a larger buffer).
   */
  encodeInto(payload: T, buf: Buffer, at: number): number;
  /** Throws on a body it cannot read. */
  decode(body: Buffer): T;
}

export const jsonCodec: SpoolCodec<unknown> = {
  encodeInto(payload, buf, at) {
    const text = JSON.stringify(payload);
    // UTF-16 code unit -> at most 3 UTF-8 bytes: only then is buf.write certain not to cut it.
    if (text.length * 3 > buf.length - at && Buffer.byteLength(text, "utf8") > buf.length - at) return -1;
    return at + buf.write(text, at, "utf8");
  },
  decode: (body) => JSON.parse(body.toString("utf8")) as unknown,
};

export interface AcctSpoolOptions<T = unknown> {
  dir: string;
  /** Bound on the spool file size; beyond it append() rejects (the NAS retransmits). */
  maxBytes: number;
  /** Skip fdatasync (tests of framing only; never in production). */
  unsafeNoSync?: boolean;
  /** Payload encoding. Default JSON (jsonCodec). */
  codec?: SpoolCodec<T>;
}

/** One frame (header + body) for `payload`, as append() writes it. */
export function encodeFrame<T>(payload: T, codec: SpoolCodec<T> = jsonCodec as SpoolCodec<T>): Buffer {
  const buf = Buffer.allocUnsafe(FRAME_HEADER_BYTES + FRAME_PAYLOAD_MAX + 1);
  const end = codec.encodeInto(payload, buf, FRAME_HEADER_BYTES);
  const len = end - FRAME_HEADER_BYTES;
  if (end < 0 || len > FRAME_PAYLOAD_MAX) throw new Error(`spool record too large (over ${FRAME_PAYLOAD_MAX} bytes)`);
  buf.writeUInt32BE(len, 0);
  buf.writeUInt32BE(crc32(buf.subarray(FRAME_HEADER_BYTES, end)), 4);
  return Buffer.from(buf.subarray(0, end));
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

/** One write+sync: the callers of append() whose frames it carries share its promise. */
interface SyncGroup {
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

function newGroup(): SyncGroup {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Room a frame may need at the end of the append buffer before encodeInto is certain to fit it. */
const FRAME_ROOM = FRAME_HEADER_BYTES + FRAME_PAYLOAD_MAX + 1;
/** A spare append buffer larger than this (after a burst) is dropped, not kept. */
const SPARE_KEEP_BYTES = 4 * 1024 * 1024;

export function createAcctSpool<T>(opts: AcctSpoolOptions<T>): AcctSpool<T> {
  const path = join(opts.dir, SPOOL_FILE);
  const headPath = join(opts.dir, HEAD_FILE);
  const codec = opts.codec ?? (jsonCodec as SpoolCodec<T>);
  let fh: FileHandle | null = null;
  /** Bytes durably in the file (all frames complete). */
  let size = 0;
  /** First byte not yet applied downstream. */
  let head = 0;
  /** Next byte read() hands out. */
  let cursor = 0;
  let pendingRecords = 0;
  // Frames waiting for the next write+sync are encoded straight into `buf` (no buffer per
  // record); the sync in progress owns the other buffer, which comes back as `spare`.
  let buf: Buffer = Buffer.allocUnsafe(256 * 1024);
  let spare: Buffer | null = Buffer.allocUnsafe(256 * 1024);
  let bufferedBytes = 0;
  let bufferedRecords = 0;
  let group: SyncGroup | null = null;
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
    if (syncing || bufferedRecords === 0 || !group) return;
    syncing = true;
    const batch = group;
    const records = bufferedRecords;
    const bytes = bufferedBytes;
    const data = buf.subarray(0, bytes);
    const owned = buf;
    buf = spare ?? Buffer.allocUnsafe(256 * 1024);
    spare = null;
    group = null;
    bufferedRecords = 0;
    bufferedBytes = 0;
    syncingBytes = bytes;
    void serial(async () => {
      const handle = fh;
      if (!handle) throw new Error("spool is closed");
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
      pendingRecords += records;
      counters.syncs++;
      counters.appended += records;
    })
      .then(batch.resolve, batch.reject)
      .finally(() => {
        syncing = false;
        syncingBytes = 0;
        if (owned.length <= SPARE_KEEP_BYTES) spare = owned;
        syncBuffered();
      });
  };

  /** Replaces the append buffer by a larger one holding the same unsynced frames. */
  const grow = (need: number) => {
    const next = Buffer.allocUnsafe(Math.max(need, buf.length * 2));
    buf.copy(next, 0, 0, bufferedBytes);
    buf = next;
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
      const at = bufferedBytes;
      let end: number;
      try {
        if (buf.length - at < FRAME_ROOM) grow(at + FRAME_ROOM);
        end = codec.encodeInto(payload, buf, at + FRAME_HEADER_BYTES);
        if (end < 0) throw new Error(`spool record too large (over ${FRAME_PAYLOAD_MAX} bytes)`);
      } catch (err) {
        return Promise.reject(err);
      }
      const len = end - at - FRAME_HEADER_BYTES;
      if (len > FRAME_PAYLOAD_MAX) return Promise.reject(new Error(`spool record too large (${len} bytes)`));
      const used = size + syncingBytes + bufferedBytes;
      if (used + (end - at) > opts.maxBytes) {
        counters.rejectedFull++;
        return Promise.reject(new SpoolFullError(used));
      }
      buf.writeUInt32BE(len, at);
      buf.writeUInt32BE(crc32(buf.subarray(at + FRAME_HEADER_BYTES, end)), at + 4);
      bufferedBytes = end;
      bufferedRecords++;
      group ??= newGroup();
      const p = group.promise;
      syncBuffered();
      return p;
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
      const out = frames.map((f) => ({ payload: codec.decode(f.body), end: base + f.end }));
      cursor = out.at(-1)?.end ?? cursor;
      return out;
    },

    rewind() {
      cursor = head;
    },

    async commit(end, n) {
      // After close() the directory may already belong to the next process: never touch it.
      const consumed = () => size > 0 && head >= size && bufferedRecords === 0 && !syncing;
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
      return head < size || bufferedRecords > 0 || syncing;
    },
    get pendingRecords() {
      return pendingRecords + bufferedRecords;
    },
    get bytes() {
      return size + syncingBytes + bufferedBytes;
    },
    counters,

    async close() {
      // Let queued appends finish (their callers wait for an answer).
      while (bufferedRecords > 0 || syncing) {
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
