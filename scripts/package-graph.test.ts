import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { checkEdges, importsIn, scanWorkspace } from "./package-graph";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

describe("package graph", () => {
  it("finds every form of internal import", () => {
    const src = `import { a } from "@isp/db/client";\nexport * from '@isp/network/radius/codec';\nconst m = await import("@isp/billing/money");\nimport "@isp/web";`;
    expect(importsIn(src)).toEqual(["@isp/db", "@isp/network", "@isp/billing", "@isp/web"]);
  });

  it("rejects upward and sideways imports", () => {
    expect(checkEdges("@isp/network", [{ to: "@isp/db", where: "x.ts" }])).toHaveLength(1);
    expect(checkEdges("@isp/db", [{ to: "@isp/collector", where: "x.ts" }])).toHaveLength(1);
    expect(checkEdges("@isp/web", [{ to: "@isp/network", where: "x.ts" }])).toHaveLength(1);
    expect(checkEdges("@isp/collector", [{ to: "@isp/network", where: "x.ts" }])).toHaveLength(0);
  });

  it("holds for the whole workspace", () => {
    expect(scanWorkspace(root)).toEqual([]);
  });
});
