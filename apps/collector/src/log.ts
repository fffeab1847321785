// A tiny leveled logger: one line per event, `component` prefix, structured extras as JSON.
export type LogLevel = "debug" | "info" | "warn" | "error";

export interface Logger {
  debug(msg: string, extra?: Record<string, unknown>): void;
  info(msg: string, extra?: Record<string, unknown>): void;
  warn(msg: string, extra?: Record<string, unknown>): void;
  error(msg: string, extra?: Record<string, unknown>): void;
  child(component: string): Logger;
}

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Error) return { message: value.message, name: value.name };
  return value;
}

export function createLogger(level: LogLevel = "info", component = "collector"): Logger {
  const emit = (at: LogLevel, msg: string, extra?: Record<string, unknown>) => {
    if (rank[at] < rank[level]) return;
    const line = `${new Date().toISOString()} ${at.toUpperCase().padEnd(5)} [${component}] ${msg}${
      extra && Object.keys(extra).length > 0 ? ` ${JSON.stringify(extra, jsonSafe)}` : ""
    }`;
    if (at === "error" || at === "warn") console.error(line);
    else console.log(line);
  };
  return {
    debug: (m, e) => emit("debug", m, e),
    info: (m, e) => emit("info", m, e),
    warn: (m, e) => emit("warn", m, e),
    error: (m, e) => emit("error", m, e),
    child: (c) => createLogger(level, `${component}:${c}`),
  };
}

export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentLogger,
};
