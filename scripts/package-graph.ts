// The package graph of docs/architecture.md, checked against the source: which
// workspace may import which. ESLint enforces the same rule while editing; this check
// also covers package.json dependencies and files ESLint might be told to ignore.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";

export const allowedImports: Record<string, readonly string[]> = {
  "@isp/billing": [],
  "@isp/network": [],
  "@isp/db": [],
  "@isp/collector": ["@isp/db", "@isp/network", "@isp/billing"],
  "@isp/web": ["@isp/db", "@isp/billing"],
};

export interface Violation {
  from: string;
  to: string;
  where: string;
}

const importPattern = /(?:import|export)\s[^'"]*?from\s*['"](@isp\/[a-z-]+)|import\(\s*['"](@isp\/[a-z-]+)|require\(\s*['"](@isp\/[a-z-]+)|import\s+['"](@isp\/[a-z-]+)/g;

export function importsIn(source: string): string[] {
  const found: string[] = [];
  for (const m of source.matchAll(importPattern)) {
    const name = m[1] ?? m[2] ?? m[3] ?? m[4];
    if (name) found.push(name);
  }
  return found;
}

export function checkEdges(from: string, targets: Iterable<{ to: string; where: string }>): Violation[] {
  const allowed = allowedImports[from];
  const out: Violation[] = [];
  for (const { to, where } of targets) {
    if (to === from) continue;
    if (!allowed || !allowed.includes(to)) out.push({ from, to, where });
  }
  return out;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    if (["node_modules", ".next", "generated", "dist", ".turbo"].includes(entry)) continue;
    const path = join(dir, entry);
    const st = statSync(path);
    if (st.isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(ts|tsx|mts|js|mjs)$/.test(entry)) out.push(path);
  }
  return out;
}

export function scanWorkspace(root: string): Violation[] {
  const violations: Violation[] = [];
  for (const group of ["packages", "apps"]) {
    for (const dir of readdirSync(join(root, group))) {
      const pkgDir = join(root, group, dir);
      const pkg = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8")) as {
        name: string;
        dependencies?: Record<string, string>;
        devDependencies?: Record<string, string>;
      };
      const deps = Object.keys({ ...pkg.dependencies, ...pkg.devDependencies })
        .filter((d) => d.startsWith("@isp/"))
        .map((to) => ({ to, where: `${relative(root, pkgDir)}/package.json` }));
      violations.push(...checkEdges(pkg.name, deps));
      for (const file of sourceFiles(pkgDir)) {
        const targets = importsIn(readFileSync(file, "utf8")).map((to) => ({ to, where: relative(root, file) }));
        violations.push(...checkEdges(pkg.name, targets));
      }
    }
  }
  return violations;
}
