import { test, expect, Page } from "@playwright/test";

// The status page names every domain: operators only.
async function asOperator(page: Page) {
  await page.goto("/login?next=/status");
  await page.locator("input[name=address]").fill("ops@continuity.test");
  await page.locator("input[name=password]").fill("lantern-orchid-2026");
  await page.locator("form.stack button[type=submit]").click();
  await expect(page).toHaveURL(/\/status$/);
}

test("the status page is for operators only", async ({ page }) => {
  await page.goto("/status");
  await expect(page).toHaveURL(/\/login/);
});

test("the status page hydrates and shows the demo domain's queue", async ({ page }) => {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await asOperator(page);
  await expect(page).toHaveTitle("Continuity");
  // data-hydrated is set by an Effect, which only runs once the WASM hydrated the page
  await page.locator("#title[data-hydrated]").waitFor();
  const row = page.locator('tr[data-domain="example.test"]');
  await expect(row).toBeVisible();
  await expect(row.locator("td").first()).toHaveText("127.0.0.1:2526 (opportunistic)");
  // three demo users, four demo messages (queued or delayed: the demo primary is down)
  await expect(row.locator("td").nth(1)).toHaveText("3");
  await page.screenshot({ path: "test-results/status.png", fullPage: true });
  expect(errors).toEqual([]);
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });
  test("the status page is complete from the server alone", async ({ page }) => {
    await asOperator(page);
    await expect(page.locator('tr[data-domain="example.test"] th')).toHaveText("example.test");
    await expect(page.locator("#title")).not.toHaveAttribute("data-hydrated", "true");
  });
});

test("an unknown page says so", async ({ page }) => {
  const resp = await page.goto("/no/such/page");
  expect(resp?.status()).toBe(404);
  await expect(page.locator(".notfound")).toHaveText("There is nothing at this address.");
});
