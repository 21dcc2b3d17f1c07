import { test, expect, Page } from "@playwright/test";
import AxeBuilder from "@axe-core/playwright";

// axe-core (WCAG 2.2 A and AA rules) on every page of the webmail and of
// the Control Panel, in French and in English: no serious or critical
// violation. Run in Debian's chromium like every other spec.
const PASSWORD = "lantern-orchid-2026";

async function logIn(page: Page, address: string, lang: "fr" | "en") {
  await page.goto(`/lang/${lang}?next=/login`);
  await page.locator("input[name=address]").fill(address);
  await page.locator("input[name=password]").fill(PASSWORD);
  await page.locator("form.stack button[type=submit]").click();
  await page.waitForURL(/\/(mail\/inbox|admin)/);
}

async function violations(page: Page): Promise<string[]> {
  const result = await new AxeBuilder({ page })
    .withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"])
    .analyze();
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.impact} ${v.id}: ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(" | ")}`);
}

// French and English in the light scheme; French again in the dark one
// (its own colours, its own contrasts).
for (const [lang, scheme] of [["fr", "light"], ["en", "light"], ["fr", "dark"]] as const) {
  test.describe(`${lang}, ${scheme}`, () => {
  test.use({ colorScheme: scheme });

  test(`webmail pages pass axe-core (${lang}, ${scheme})`, async ({ page }) => {
    await page.goto(`/lang/${lang}?next=/login`);
    expect(await violations(page), "/login").toEqual([]);
    await logIn(page, "alice@example.test", lang);
    const found: string[] = [];
    const first = await page.locator("ul.maillist a").first().getAttribute("href");
    for (const path of [
      "/mail/inbox", first!, "/mail/search?q=demo", "/mail/search?q=zzzznothing", "/mail/compose",
      "/mail/drafts", "/mail/sent", "/mail/trash", "/mail/tracking", "/settings", "/status",
      "/login/code?error=wrong", "/no/such/page",
    ]) {
      await page.goto(path);
      found.push(...(await violations(page)).map((v) => `${path}: ${v}`));
    }
    expect(found).toEqual([]);
  });

  test(`Control Panel pages pass axe-core (${lang}, ${scheme})`, async ({ page }) => {
    await logIn(page, "admin@example.test", lang);
    const paths = [
      "/admin", "/admin/d/example.test/continuity", "/admin/d/example.test/directory",
      "/admin/d/example.test/outbound", "/admin/tracking",
    ];
    const found: string[] = [];
    for (const path of paths) {
      await page.goto(path);
      found.push(...(await violations(page)).map((v) => `${path}: ${v}`));
    }
    await page.goto("/admin/tracking");
    const track = page.locator("a[href^='/admin/tracking/m/']").first();
    if (await track.count()) {
      const href = await track.getAttribute("href");
      await page.goto(href!);
      found.push(...(await violations(page)).map((v) => `${href}: ${v}`));
    }
    expect(found).toEqual([]);
  });
  });
}
