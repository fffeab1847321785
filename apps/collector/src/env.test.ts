import { describe, expect, it, vi } from "vitest";
import { DEV_SECRETS_KEY, secretsKeyId } from "@isp/db/secrets";
import { loadEnv } from "./env";

describe("env", () => {
  it("has the documented defaults and warns loudly about the dev AUTH_SECRET", () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const env = loadEnv({});
    expect(env).toMatchObject({
      RADIUS_AUTH_PORT: 1812,
      RADIUS_ACCT_PORT: 1813,
      RADIUS_HOST: "0.0.0.0",
      LIVE_PORT: 3001,
      SIMULATOR: false,
      SIMULATOR_SESSIONS: 300,
      authSecretIsDevDefault: true,
    });
    expect(env.DATABASE_URL).toBeUndefined();
    expect(warn).toHaveBeenCalledWith(expect.stringContaining("AUTH_SECRET is not set"));
    warn.mockRestore();
  });

  it("parses values and treats empty strings as unset", () => {
    const env = loadEnv({ RADIUS_AUTH_PORT: "0", LIVE_PORT: "", SIMULATOR: "on", SIMULATOR_SESSIONS: "50", AUTH_SECRET: "x".repeat(32) });
    expect(env).toMatchObject({ RADIUS_AUTH_PORT: 0, LIVE_PORT: 3001, SIMULATOR: true, SIMULATOR_SESSIONS: 50, authSecretIsDevDefault: false });
  });

  it("syslog: unprivileged default ports, 'off' per port, SYSLOG=off, bad ports refused", () => {
    const secret = { AUTH_SECRET: "x".repeat(32) };
    expect(loadEnv(secret)).toMatchObject({ SYSLOG: true, SYSLOG_HOST: "0.0.0.0", SYSLOG_UDP_PORT: 5514, SYSLOG_TCP_PORT: 5514, SYSLOG_RFC3164_UTC_OFFSET_MIN: 300 });
    expect(loadEnv({ ...secret, SYSLOG_UDP_PORT: "off", SYSLOG_TCP_PORT: "0" })).toMatchObject({ SYSLOG_UDP_PORT: null, SYSLOG_TCP_PORT: 0 });
    expect(loadEnv({ ...secret, SYSLOG: "off" }).SYSLOG).toBe(false);
    expect(() => loadEnv({ ...secret, SYSLOG_TCP_PORT: "70000" })).toThrow(/SYSLOG_TCP_PORT/);
    expect(() => loadEnv({ ...secret, SYSLOG_UDP_PORT: "of" })).toThrow(/SYSLOG_UDP_PORT/);
  });

  it("refuses invalid values with the variable's name", () => {
    expect(() => loadEnv({ RADIUS_ACCT_PORT: "70000", AUTH_SECRET: "x".repeat(32) })).toThrow(/RADIUS_ACCT_PORT/);
    expect(() => loadEnv({ SIMULATOR: "maybe", AUTH_SECRET: "x".repeat(32) })).toThrow(/SIMULATOR/);
    expect(() => loadEnv({ AUTH_SECRET: "short" })).toThrow(/AUTH_SECRET/);
  });

  it("SECRETS_KEY: 32 bytes as hex or base64; absent -> the dev key with a loud warning; wrong length refused", () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const secret = { AUTH_SECRET: "x".repeat(32) };
    const hex = "ab".repeat(32);
    const env = loadEnv({ ...secret, SECRETS_KEY: hex });
    expect(env.secretsKeyIsDevDefault).toBe(false);
    expect(env.SECRETS_KEY.current.key).toEqual(Buffer.from(hex, "hex"));
    expect(env.SECRETS_KEY.previous).toEqual([]);
    const b64 = Buffer.alloc(32, 9).toString("base64");
    expect(loadEnv({ ...secret, SECRETS_KEY: b64 }).SECRETS_KEY.current.key).toEqual(Buffer.alloc(32, 9));
    expect(loadEnv(secret).secretsKeyIsDevDefault).toBe(true);
    expect(loadEnv(secret).SECRETS_KEY.current.key).toEqual(DEV_SECRETS_KEY);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining("SECRETS_KEY is not set"));
    expect(() => loadEnv({ ...secret, SECRETS_KEY: "abcd" })).toThrow(/SECRETS_KEY/);
    warn.mockRestore();
  });

  it("SECRETS_KEY_PREVIOUS: comma-separated previous keys (hex, base64 or 'dev'), decrypt only; a bad one is named by position, never echoed", () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const secret = { AUTH_SECRET: "x".repeat(32), SECRETS_KEY: "ab".repeat(32) };
    const old1 = "cd".repeat(32);
    const old2 = Buffer.alloc(32, 7).toString("base64");
    const ring = loadEnv({ ...secret, SECRETS_KEY_PREVIOUS: `${old1}, ${old2},dev` }).SECRETS_KEY;
    expect(ring.current.id).toBe(secretsKeyId(Buffer.from("ab".repeat(32), "hex")));
    expect(ring.previous.map((p) => p.key)).toEqual([Buffer.from(old1, "hex"), Buffer.alloc(32, 7), DEV_SECRETS_KEY]);
    expect(loadEnv({ ...secret, SECRETS_KEY_PREVIOUS: "" }).SECRETS_KEY.previous).toEqual([]);
    const bad = "0123456789abcdef0123";
    let err: Error | undefined;
    try {
      loadEnv({ ...secret, SECRETS_KEY_PREVIOUS: `${old1},${bad}` });
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).toMatch(/invalid collector environment:\n {2}SECRETS_KEY_PREVIOUS \(key 2 of 2\) must be 32 bytes/);
    expect(err?.message).not.toContain(bad);
    expect(err?.message).not.toContain(old1);
    expect(() => loadEnv({ ...secret, SECRETS_KEY_PREVIOUS: "abcd" })).toThrow(/SECRETS_KEY_PREVIOUS must be 32 bytes/);
    // Previous keys without a current one would encrypt new passwords with the public dev key.
    expect(() => loadEnv({ AUTH_SECRET: "x".repeat(32), SECRETS_KEY_PREVIOUS: old1 })).toThrow(/SECRETS_KEY_PREVIOUS is set but SECRETS_KEY is not/);
    warn.mockRestore();
  });
});
