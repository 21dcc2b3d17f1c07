import { test, expect, Page } from "@playwright/test";

// Every page on a 390 × 844 phone, in French (the longer words) and in
// English: nothing wider than the screen, every folder reachable, the
// controls a thumb can hit (≥ 44 px high); and the dark scheme followed.
const PASSWORD = "lantern-orchid-2026";

async function logIn(page: Page, address: string, lang: "fr" | "en") {
  await page.goto(`/lang/${lang}?next=/login`);
  await page.locator("input[name=address]").fill(address);
  await page.locator("input[name=password]").fill(PASSWORD);
  await page.locator("form.stack button[type=submit]").click();
  await page.waitForURL(/\/(mail\/inbox|admin)/);
}

/** What sticks out of the screen on this page: nothing, or a description. */
async function overflow(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    const out: string[] = [];
    if (document.documentElement.scrollWidth > width + 1) {
      out.push(`the page scrolls sideways: ${document.documentElement.scrollWidth} > ${width}`);
    }
    for (const el of Array.from(document.querySelectorAll("body *"))) {
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) continue;
      // inside a box that scrolls on its own (a wide table): not the page's
      let p = el.parentElement;
      let scrolled = false;
      while (p && p !== document.body) {
        const s = getComputedStyle(p);
        if (s.overflowX === "auto" || s.overflowX === "scroll" || s.overflowX === "hidden") scrolled = true;
        p = p.parentElement;
      }
      if (!scrolled && r.right > width + 1) {
        out.push(`${el.tagName.toLowerCase()}.${el.className} ends at ${Math.round(r.right)} px`);
      }
    }
    return out.slice(0, 5);
  });
}

/** Visible controls shorter than a thumb. */
async function smallTargets(page: Page, selector: string): Promise<string[]> {
  return page.evaluate((sel) => {
    const out: string[] = [];
    for (const el of Array.from(document.querySelectorAll(sel))) {
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) continue;
      if (r.height < 43.5) out.push(`${el.tagName.toLowerCase()} "${(el.textContent ?? "").trim().slice(0, 30)}" is ${r.height} px high`);
    }
    return out;
  }, selector);
}

test.describe("on a phone", () => {
  test.use({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });

  for (const lang of ["fr", "en"] as const) {
    test(`every webmail page fits the screen (${lang})`, async ({ page }) => {
      await logIn(page, "alice@example.test", lang);
      const first = await page.locator("ul.maillist a").first().getAttribute("href");
      expect(first).toMatch(/\/mail\/m\/\d+/);
      // a folder with a level and a long name, so the folders page has rows
      // (the second language meets "exists already": that page must fit too)
      await page.goto("/mail/folders");
      await page.locator("#folder-name").fill("Classement/Factures et devis des fournisseurs 2026");
      await page.locator("#folder-create-submit").click();
      await expect(page.locator("#folder-list")).toBeVisible();
      for (const path of [
        "/mail/inbox", first!, "/mail/search?q=demo", "/mail/compose", "/mail/drafts", "/mail/folders",
        "/mail/sent", "/mail/trash", "/mail/tracking", "/settings",
      ]) {
        await page.goto(path);
        expect(await overflow(page), `${path}`).toEqual([]);
        // every folder visible within the screen
        for (const a of await page.locator("nav.folders a").all()) {
          const box = await a.boundingBox();
          expect(box, path).not.toBeNull();
          expect(box!.x + box!.width, `${path}: ${await a.textContent()}`).toBeLessThanOrEqual(391);
        }
        expect(await smallTargets(page, "nav.folders a, main button, .topbar button"), path).toEqual([]);
      }
      // the message list: two-line rows, each a full-width tap target
      await page.goto("/mail/inbox");
      const row = await page.locator("ul.maillist a").first().boundingBox();
      expect(row!.height).toBeGreaterThanOrEqual(44);
      expect(row!.width).toBeGreaterThan(300);
    });

    test(`every Control Panel page fits the screen (${lang})`, async ({ page }) => {
      await logIn(page, "admin@example.test", lang);
      for (const path of [
        "/admin", "/admin/d/example.test/continuity", "/admin/d/example.test/directory",
        "/admin/d/example.test/outbound", "/admin/tracking",
      ]) {
        await page.goto(path);
        expect(await overflow(page), path).toEqual([]);
        expect(await smallTargets(page, "main button, .topbar button"), path).toEqual([]);
      }
    });
  }
});

test("the dark scheme is followed", async ({ browser }) => {
  for (const [scheme, dark] of [["dark", true], ["light", false]] as const) {
    const context = await browser.newContext({ colorScheme: scheme });
    const page = await context.newPage();
    await page.goto("/login");
    const bg = await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
    const [r, g, b] = (bg.match(/\d+/g) ?? []).map(Number);
    const light = (r + g + b) / 3;
    expect(light < 60, `${scheme}: ${bg}`).toBe(dark);
    const field = await page.evaluate(() => getComputedStyle(document.querySelector("input[name=address]")!).backgroundColor);
    const [fr, fg, fb] = (field.match(/\d+/g) ?? []).map(Number);
    expect((fr + fg + fb) / 3 < 80, `${scheme} field: ${field}`).toBe(dark);
    // the demo's domain is in an outage: its banner follows the scheme too
    await logIn(page, "alice@example.test", "fr");
    const banner = await page.evaluate(() => getComputedStyle(document.querySelector(".banner")!).backgroundColor);
    const [br, bg2, bb] = (banner.match(/\d+/g) ?? []).map(Number);
    expect((br + bg2 + bb) / 3 < 80, `${scheme} banner: ${banner}`).toBe(dark);
    await context.close();
  }
});
