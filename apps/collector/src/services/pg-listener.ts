// A LISTEN connection that survives drops: on error/end it reconnects with backoff and
// calls onReconnect, because notifications sent while it was down are lost and the
// caller must sweep for them.
import pg from "pg";
import type { Logger } from "../log";

export interface PgListener {
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly connected: boolean;
}

export function createPgListener(opts: {
  url: string;
  channels: string[];
  onNotify: (channel: string, payload: string | undefined) => void;
  onReconnect?: () => void;
  log: Logger;
  reconnectDelayMaxMs?: number;
}): PgListener {
  const delayMaxMs = opts.reconnectDelayMaxMs ?? 5000;
  let client: pg.Client | null = null;
  let stopped = false;
  let connected = false;
  let retryTimer: NodeJS.Timeout | null = null;
  let failures = 0;

  const connect = async (): Promise<void> => {
    const c = new pg.Client({ connectionString: opts.url, application_name: "isp-collector-listen" });
    c.on("notification", (msg) => opts.onNotify(msg.channel, msg.payload));
    const lost = (why: string) => {
      if (client !== c) return;
      client = null;
      connected = false;
      c.end().catch(() => undefined);
      if (stopped) return;
      opts.log.warn("LISTEN connection lost; reconnecting", { why });
      scheduleRetry();
    };
    c.on("error", (err) => lost(err.message));
    c.on("end", () => lost("ended"));
    await c.connect();
    for (const ch of opts.channels) await c.query(`LISTEN ${pg.escapeIdentifier(ch)}`);
    client = c;
    connected = true;
    failures = 0;
  };

  const scheduleRetry = () => {
    const delay = Math.min(delayMaxMs, 100 * 2 ** Math.min(failures, 10));
    failures++;
    retryTimer = setTimeout(() => {
      retryTimer = null;
      if (stopped) return;
      connect().then(
        () => {
          opts.log.info("LISTEN connection restored");
          opts.onReconnect?.();
        },
        (err: Error) => {
          opts.log.warn("LISTEN reconnect failed", { error: err.message });
          scheduleRetry();
        },
      );
    }, delay);
  };

  return {
    async start() {
      stopped = false;
      await connect();
    },
    async stop() {
      stopped = true;
      if (retryTimer) clearTimeout(retryTimer);
      const c = client;
      client = null;
      connected = false;
      await c?.end().catch(() => undefined);
    },
    get connected() {
      return connected;
    },
  };
}
