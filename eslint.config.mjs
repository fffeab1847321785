// One lint setup for the whole monorepo. The package graph of docs/architecture.md is
// enforced here (no-restricted-imports per folder) and again by scripts/package-graph.test.ts.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

const internal = ["@isp/db", "@isp/network", "@isp/billing", "@isp/web", "@isp/collector"];
const forbid = (allowed) => ({
  "no-restricted-imports": [
    "error",
    {
      patterns: internal
        .filter((name) => !allowed.includes(name))
        .map((name) => ({ group: [name, `${name}/*`], message: "This import breaks the package graph (docs/architecture.md)." }))
        .concat([{ group: ["../../packages/*", "../../apps/*", "../../../packages/*", "../../../apps/*"], message: "Import other packages by name, not by path." }]),
    },
  ],
});

export default tseslint.config(
  { ignores: ["**/node_modules/**", "**/.next/**", "**/dist/**", "**/generated/**", "**/.data/**", "**/.turbo/**", "**/next-env.d.ts", "bench/results/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: "readonly", console: "readonly", Buffer: "readonly", setTimeout: "readonly", clearTimeout: "readonly", setInterval: "readonly", clearInterval: "readonly", setImmediate: "readonly", URL: "readonly", fetch: "readonly", AbortController: "readonly", AbortSignal: "readonly", performance: "readonly", structuredClone: "readonly", window: "readonly", document: "readonly", TextEncoder: "readonly", TextDecoder: "readonly", queueMicrotask: "readonly", Response: "readonly", Request: "readonly", Headers: "readonly" } },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
      "@typescript-eslint/no-explicit-any": "error",
    },
  },
  { files: ["packages/billing/**"], rules: forbid([]) },
  { files: ["packages/network/**"], rules: forbid([]) },
  { files: ["packages/db/**"], rules: forbid([]) },
  { files: ["apps/web/**"], rules: forbid(["@isp/db", "@isp/billing"]) },
  { files: ["apps/collector/**"], rules: forbid(["@isp/db", "@isp/network", "@isp/billing"]) },
  {
    // Only the env module of each app reads process.env (STYLE.md 11).
    files: ["apps/*/src/**"],
    ignores: ["apps/*/src/env.ts", "apps/*/src/**/*.test.ts"],
    rules: { "no-restricted-properties": ["error", { object: "process", property: "env", message: "Read configuration from src/env.ts." }] },
  },
);
