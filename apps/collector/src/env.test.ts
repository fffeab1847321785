import { describe, expect, it, vi } from "vitest";
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

  it("refuses invalid values with the variable's name", () => {
    expect(() => loadEnv({ RADIUS_ACCT_PORT: "70000", AUTH_SECRET: "x".repeat(32) })).toThrow(/RADIUS_ACCT_PORT/);
    expect(() => loadEnv({ SIMULATOR: "maybe", AUTH_SECRET: "x".repeat(32) })).toThrow(/SIMULATOR/);
    expect(() => loadEnv({ AUTH_SECRET: "short" })).toThrow(/AUTH_SECRET/);
  });
});
