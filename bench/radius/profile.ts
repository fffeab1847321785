// Top self-time functions of a V8 .cpuprofile (node --cpu-prof), for the bench log. Line
// numbers are of tsx's transformed code, so the function name is the useful part.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

export function topSelfTime(dir: string, root: string, n = 25): string[] {
  const files = readdirSync(dir).filter((f) => f.endsWith(".cpuprofile"));
  if (files.length === 0) return ["no .cpuprofile written: the process did not exit cleanly (killed after the stop grace?)"];
  const self = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const f of files) {
    const prof = JSON.parse(readFileSync(join(dir, f), "utf8")) as { nodes: ProfileNode[] };
    for (const node of prof.nodes) {
      const hits = node.hitCount ?? 0;
      if (hits === 0) continue;
      const { functionName, url, lineNumber } = node.callFrame;
      const where = url ? `${relative(root, url.replace(/^file:\/\//, ""))}:${lineNumber + 1}` : "";
      const key = `${functionName || "(anonymous)"} ${where}`.trim();
      if (functionName === "(idle)") {
        idle += hits;
        continue;
      }
      self.set(key, (self.get(key) ?? 0) + hits);
      total += hits;
    }
  }
  const busy = `busy ${((100 * total) / Math.max(1, total + idle)).toFixed(1)}% of samples; shares below are of busy samples`;
  return [
    busy,
    ...[...self.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, v]) => `${((100 * v) / Math.max(1, total)).toFixed(1).padStart(5)}%  ${k}`),
  ];
}
