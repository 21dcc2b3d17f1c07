import { test, expect } from "@playwright/test";

// Email Live Tracking in the browser: the demo's mail (held, since the
// demo's primary is down), filtered with the form (the filters land in the
// URL), a message's story, the CSV export, and a user's own view.
const PASSWORD = "lantern-orchid-2026";

test("an administrator follows a message through Email Live Tracking", async ({ page }) => {
  await page.goto("/lang/en?next=/login");
  await page.locator("input[name=address]").fill("admin@example.test");
  await page.locator("input[name=password]").fill(PASSWORD);
  await page.locator("form.stack button[type=submit]").click();
  await expect(page).toHaveURL(/\/admin$/);
  await page.locator("#nav-tracking").click();
  await expect(page).toHaveURL(/\/admin\/tracking$/);
  await expect(page.locator("h1[data-hydrated=true]")).toHaveText("Email Live Tracking");
  await expect(page.locator("#tracking tbody tr").first()).toBeVisible();

  // filter: one recipient, via the form; the URL carries the filter
  await page.getByLabel("Recipient").fill("alice@example.test");
  await page.getByRole("button", { name: "Search" }).click();
  await expect(page).toHaveURL(/recipient=alice%40example\.test/);
  const rows = page.locator("#tracking tbody tr");
  await expect(rows.first()).toBeVisible();
  for (const r of await rows.all()) await expect(r).toContainText("alice@example.test");
  // a filter that matches nothing says so
  await page.goto("/admin/tracking?status=expired&recipient=nobody%40example.test");
  await expect(page.locator("#tracking-empty")).toBeVisible();

  // the CSV export of the current filter
  await page.goto("/admin/tracking?recipient=alice%40example.test");
  const [download] = await Promise.all([page.waitForEvent("download"), page.locator("#export-csv").click()]);
  const csv = await (await download.createReadStream()).toArray();
  const text = Buffer.concat(csv).toString("utf8");
  expect(text.split("\r\n")[0]).toBe(
    "time,direction,sender,recipient,subject,status,via_continuity,attempts,last_reply,client_ip",
  );
  expect(text).toContain("alice@example.test");

  // a message's story
  await page.locator("#tracking tbody tr a").first().click();
  await expect(page).toHaveURL(/\/admin\/tracking\/m\/\d+/);
  await expect(page.locator("#message-timeline li[data-kind=received]")).toBeVisible();
  await expect(page.locator("#message-deliveries")).toContainText("alice@example.test");
  await expect(page.locator("#download-eml")).toBeVisible();
});

test("a user sees the tracking of their own mail only", async ({ page }) => {
  await page.goto("/login");
  await page.getByLabel("Email address").fill("carol@example.test");
  await page.getByLabel(/^Password$/).fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page).toHaveURL(/\/mail\/inbox/);
  await page.getByRole("link", { name: "Tracking of my mail" }).click();
  await expect(page).toHaveURL(/\/mail\/tracking/);
  const rows = page.locator("#tracking tbody tr");
  await expect(rows.first()).toBeVisible();
  for (const r of await rows.all()) await expect(r).toContainText("carol@example.test");
  await expect(page.locator("#export-csv")).toHaveCount(0);
});
