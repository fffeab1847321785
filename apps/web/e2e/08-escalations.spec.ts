import { createSocket, type Socket } from "node:dgram";
import { join } from "node:path";
import { expect, test } from "@playwright/test";
import { artifactsDir, closeDb, db, login } from "./helpers";

test.afterAll(closeDb);

/** A UDP port that takes CoA packets and never answers: the router as seen from a dead link. */
async function blackHole(): Promise<{ port: number; socket: Socket }> {
  const socket = createSocket("udp4");
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(0, "0.0.0.0", () => resolve());
  });
  socket.on("message", () => undefined);
  return { port: socket.address().port, socket };
}

test("an unreachable router escalates two kicks to the NOC; one is retried once it is back, the other acknowledged, both audited", async ({ page, browser }) => {
  // Five attempts of a 6 s CoA exchange plus 1+2+4+8 s backoff: ~45 s until the worker gives up.
  test.setTimeout(180_000);

  // Two online, active subscribers on one router, with nothing else queued for them.
  const pick = await db().query<{ router_id: number; id: number; account_no: string }>(
    `SELECT DISTINCT ON (sub.id) s.router_id, sub.id, sub.account_no
       FROM radius_sessions s JOIN subscribers sub ON sub.id = s.subscriber_id
      WHERE s.status = 'active' AND sub.status = 'active'
        AND NOT EXISTS (SELECT 1 FROM enforcement_outbox o WHERE o.subscriber_id = sub.id AND o.status IN ('pending', 'sending'))
      ORDER BY sub.id, s.started_at DESC`,
  );
  const byRouter = new Map<number, typeof pick.rows>();
  for (const r of pick.rows) byRouter.set(r.router_id, [...(byRouter.get(r.router_id) ?? []), r]);
  const [routerId, subjects] = [...byRouter.entries()].find(([, rows]) => rows.length >= 2) ?? [];
  expect(subjects, "two online subscribers on one router").toBeTruthy();
  const [a, b] = [subjects![0]!, subjects![1]!];
  const { coa_port: coaPort } = (await db().query<{ coa_port: number }>("SELECT coa_port FROM routers WHERE id = $1", [routerId])).rows[0]!;

  const hole = await blackHole();
  await db().query("UPDATE routers SET coa_port = $1 WHERE id = $2", [hole.port, routerId]);
  try {
    // The NOC wall, watching the open escalations count.
    const nocPage = await (await browser.newContext()).newPage();
    await login(nocPage, "noc");
    await nocPage.goto("/noc");
    const countBadge = nocPage.getByTestId("escalations-count");
    await expect(countBadge).toBeVisible();
    const before = Number(await countBadge.textContent());

    // Support kicks both; the router never answers.
    await login(page, "support");
    for (const s of [a, b]) {
      await page.goto(`/subscribers/${s.id}`);
      await expect(page.getByTestId("profile-account")).toHaveText(s.account_no);
      await page.getByTestId("action-kick").click();
      await expect(page.getByTestId("action-result")).toHaveAttribute("data-status", /sending|pending/);
    }
    // The subscriber page of the last one shows the escalation when the worker gives up.
    await expect(page.getByTestId("action-escalated")).toHaveText("escalated to NOC", { timeout: 120_000 });

    // The wall's count moved live (no reload), and links to the list.
    await expect(countBadge).toHaveText(String(before + 2), { timeout: 30_000 });
    await nocPage.getByTestId("escalations-link").click();
    await expect(nocPage).toHaveURL(/\/noc\/escalations$/);
    const ids = (
      await db().query<{ id: string; subscriber_id: number }>(
        "SELECT id::text, subscriber_id FROM enforcement_outbox WHERE subscriber_id = ANY($1::int[]) AND kind = 'kick' AND escalated ORDER BY id",
        [[a.id, b.id]],
      )
    ).rows;
    const idOf = (sub: number) => ids.find((r) => r.subscriber_id === sub)!.id;
    const rowA = nocPage.locator(`[data-testid="escalation-row"][data-action-id="${idOf(a.id)}"]`);
    const rowB = nocPage.locator(`[data-testid="escalation-row"][data-action-id="${idOf(b.id)}"]`);
    for (const [row, s] of [[rowA, a], [rowB, b]] as const) {
      await expect(row).toBeVisible();
      await expect(row).toHaveAttribute("data-status", "timeout");
      await expect(row).toContainText(s.account_no);
      await expect(row).toContainText("kick");
      await expect(row).toContainText("5/5");
      await expect(row.getByTestId("escalation-error")).toContainText("did not answer after 5 attempts");
    }
    await nocPage.screenshot({ path: join(artifactsDir, "noc-escalations.png"), fullPage: true });

    // The link is back: retry A. It leaves the list; the worker sends it again and the router confirms.
    await db().query("UPDATE routers SET coa_port = $1 WHERE id = $2", [coaPort, routerId]);
    await rowA.getByTestId("escalation-retry").click();
    await expect(nocPage.getByTestId("escalation-message")).toHaveText(`Action #${idOf(a.id)} re-queued`);
    await expect(rowA).toHaveCount(0);
    await expect
      .poll(async () => (await db().query<{ status: string; attempts: number; escalated: boolean }>("SELECT status::text, attempts, escalated FROM enforcement_outbox WHERE id = $1", [idOf(a.id)])).rows[0], { timeout: 20_000 })
      .toMatchObject({ status: expect.stringMatching(/^(acked|nak)$/), attempts: 1, escalated: false });

    // Two other NOC screens, opened now: a wall (A's retry already left only B open) and a
    // second agent's escalation list showing B.
    const wallContext = await browser.newContext();
    const wallPage = await wallContext.newPage();
    await login(wallPage, "noc");
    await wallPage.goto("/noc");
    await expect(wallPage.getByTestId("escalations-count")).toHaveText(String(before + 1), { timeout: 30_000 });
    await expect(wallPage.getByTestId("live-indicator")).toHaveAttribute("data-status", "live", { timeout: 15_000 });
    const otherPage = await wallContext.newPage();
    await otherPage.goto("/noc/escalations");
    const otherRowB = otherPage.locator(`[data-testid="escalation-row"][data-action-id="${idOf(b.id)}"]`);
    await expect(otherRowB).toBeVisible();
    await expect(otherPage.getByTestId("live-indicator")).toHaveAttribute("data-status", "live", { timeout: 15_000 });

    // B: handled outside the system; acknowledged, it leaves the open list and shows under "acknowledged".
    await rowB.getByTestId("escalation-ack").click();
    await expect(nocPage.getByTestId("escalation-message")).toHaveText(`Action #${idOf(b.id)} acknowledged`);
    await expect(rowB).toHaveCount(0);
    // The other screens follow within seconds (NOTIFY escalation_changed through the collector),
    // not at their 30 s refetch.
    await expect(wallPage.getByTestId("escalations-count")).toHaveText(String(before), { timeout: 4_000 });
    await expect(otherRowB).toHaveCount(0, { timeout: 4_000 });
    await wallContext.close();
    await nocPage.getByTestId("include-acked").check();
    await expect(rowB.getByTestId("escalation-acked")).toContainText("acknowledged by noc");
    await nocPage.screenshot({ path: join(artifactsDir, "noc-escalations-acked.png"), fullPage: true });

    // Every step is in the audit log: the worker's escalations, the operator's retry and acknowledgement.
    const audit = await db().query<{ action: string; actor: string; entity_id: string; operator: string | null }>(
      `SELECT a.action, a.actor, a.entity_id, o.username AS operator FROM audit_log a LEFT JOIN operators o ON o.id = a.operator_id
        WHERE a.action IN ('enforcement.escalated', 'enforcement.escalation_retried', 'enforcement.escalation_acked')
          AND a.details->>'actionId' = ANY($1::text[]) ORDER BY a.id`,
      [[idOf(a.id), idOf(b.id)]],
    );
    expect(audit.rows).toEqual(
      expect.arrayContaining([
        { action: "enforcement.escalated", actor: "collector", entity_id: String(a.id), operator: null },
        { action: "enforcement.escalated", actor: "collector", entity_id: String(b.id), operator: null },
        { action: "enforcement.escalation_retried", actor: "noc", entity_id: String(a.id), operator: "noc" },
        { action: "enforcement.escalation_acked", actor: "noc", entity_id: String(b.id), operator: "noc" },
      ]),
    );
    await nocPage.context().close();
  } finally {
    await db().query("UPDATE routers SET coa_port = $1 WHERE id = $2", [coaPort, routerId]);
    hole.socket.close();
  }
});
