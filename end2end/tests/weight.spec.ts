import { test, expect, Page, Response } from "@playwright/test";

// What a person on a bad connection downloads: the first visit (login,
// then the inbox) with an empty cache, then a repeat visit. Transfer sizes
// are the browser's own (encoded body + headers).
const DEMO_PASSWORD = "lantern-orchid-2026";
// scripts/test runs this spec a second time on the release front (the
// WASM a person downloads): then the first visit is held to its budget.
const RELEASE = process.env.E2E_RELEASE_FRONT === "1";
const FIRST_VISIT_BUDGET = 300 * 1024;

type Seen = { url: string; bytes: number; encoding: string; cache: string; type: string };

function watch(page: Page): Seen[] {
  const seen: Seen[] = [];
  page.on("response", async (r: Response) => {
    try {
      const s = await r.request().sizes();
      const h = r.headers();
      seen.push({
        url: new URL(r.url()).pathname,
        bytes: s.responseBodySize + s.responseHeadersSize,
        encoding: h["content-encoding"] ?? "",
        cache: h["cache-control"] ?? "",
        type: h["content-type"] ?? "",
      });
    } catch {
      // a response the page navigated away from: not downloaded
    }
  });
  return seen;
}

const total = (s: Seen[]) => s.reduce((n, x) => n + x.bytes, 0);

test("the first visit downloads everything compressed; a repeat visit only its pages", async ({ browser }) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const cold = watch(page);
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto("/login");
  await page.getByLabel(/Email address|Adresse e-mail/).fill("alice@example.test");
  await page.getByLabel(/^(Password|Mot de passe)$/).fill(DEMO_PASSWORD);
  await page.getByRole("button", { name: /Log in|Se connecter/ }).click();
  await expect(page).toHaveURL(/\/mail\/inbox/);
  // hydrated: the WASM ran and took over the page it was served
  await expect(page.locator("h1[data-hydrated]")).toBeVisible();
  await page.waitForLoadState("networkidle");
  expect(errors).toEqual([]);

  const assets = cold.filter((s) => /^\/pkg\/[0-9a-f]{16}\//.test(s.url));
  const names = assets.map((s) => s.url.split("/").pop()).sort();
  expect(names).toEqual(expect.arrayContaining(["continuity.css", "continuity.js", "continuity.wasm"]));
  for (const a of assets) {
    expect(a.encoding, a.url).toBe("br");
    expect(a.cache, a.url).toBe("public, max-age=31536000, immutable");
  }
  const pages = cold.filter((s) => s.type.startsWith("text/html"));
  expect(pages.length).toBeGreaterThanOrEqual(2);
  for (const p of pages) {
    if (p.bytes > 200) expect(p.encoding, p.url).toBe("br");
    expect(p.cache, p.url).toContain("no-store");
  }
  // the pages a first visit does not show are chunks it does not fetch
  for (const n of names) {
    expect(n, "a Control Panel, compose or settings chunk").not.toMatch(
      /split___(continuity|admin_home|directory|outbound|compose|settings)_route/,
    );
  }
  const wasm = assets.find((s) => s.url.endsWith("/continuity.wasm"))!;
  const raw = await (await page.request.get(wasm.url, { headers: { "accept-encoding": "identity" } })).body();
  expect(wasm.bytes).toBeLessThan(raw.length / 3);
  console.log(
    `first visit (login + inbox, ${RELEASE ? "release" : "debug"} front): ${total(cold)} bytes transferred, ` +
      `of which the WASM ${wasm.bytes} (${raw.length} uncompressed)`,
  );
  if (RELEASE) {
    // every response counted: pages, CSS, JS, the WASM split loader, chunks
    expect(total(cold), JSON.stringify(cold)).toBeLessThanOrEqual(FIRST_VISIT_BUDGET);
  }

  // a repeat visit: the page again, the front's files from the cache
  const warm = watch(page);
  await page.goto("/mail/inbox");
  await page.waitForLoadState("networkidle");
  const fetched = warm.filter((s) => s.url.startsWith("/pkg/") && s.bytes > 0);
  expect(fetched, JSON.stringify(fetched)).toEqual([]);
  console.log(`repeat visit (inbox): ${total(warm)} bytes transferred`);
  expect(total(warm)).toBeLessThanOrEqual(20 * 1024);

  // a page of its own chunk (compose) loads it and hydrates
  const asked: string[] = [];
  page.on("request", (r) => asked.push(new URL(r.url()).pathname));
  await page.goto("/mail/compose");
  await expect(page.locator("h1[data-hydrated]")).toBeVisible();
  expect(asked.join(" ")).toMatch(/split___compose_route/);
  expect(errors).toEqual([]);
  await context.close();
});
