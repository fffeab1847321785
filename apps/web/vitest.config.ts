import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";
import { reporters } from "../../vitest.shared";

export default defineConfig({
  resolve: {
    alias: {
      "~": fileURLToPath(new URL("./src", import.meta.url)),
      // `server-only` throws outside a React Server Components bundle; tests run in Node.
      "server-only": fileURLToPath(new URL("./src/lib/server-only-stub.ts", import.meta.url)),
    },
  },
  test: {
    include: ["src/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: "forks",
    ...reporters("web"),
  },
});
