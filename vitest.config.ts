import { defineConfig } from "vitest/config";
import { reporters } from "./vitest.shared";

export default defineConfig({
  test: {
    include: ["scripts/**/*.test.ts"],
    ...reporters("root"),
  },
});
