// Shared vitest settings: when `npm test` sets TEST_RESULTS_DIR, each workspace also
// writes a JSON report there, which scripts/test.mjs sums into one closing line.
import { join } from "node:path";

export function reporters(name: string): { reporters: string[]; outputFile?: Record<string, string> } {
  const dir = process.env.TEST_RESULTS_DIR;
  if (!dir) return { reporters: ["default"] };
  return { reporters: ["default", "json"], outputFile: { json: join(dir, `${name}.json`) } };
}
