import { test, expect, Browser, Page } from "@playwright/test";

// Without the mouse: Tab, Enter and the webmail's shortcuts (j/k, o, r, a,
// f, c, /, #, u, ?), which stay off while typing in a field.
const PASSWORD = "lantern-orchid-2026";

/** Press Tab until the focused element matches `selector`. */
async function tabTo(page: Page, selector: string, max = 80) {
  for (let i = 0; i < max; i++) {
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return;
    await page.keyboard.press("Tab");
  }
  throw new Error(`Tab never reached ${selector}`);
}

/** The shortcuts listen once the page is hydrated. */
async function hydrated(page: Page) {
  await expect(page.locator("#shortcuts-button[data-ready=true]")).toBeAttached();
}

/** Carol sends these subjects to herself, oldest first (set-up). */
async function seed(browser: Browser, subjects: string[]) {
  const carol = await browser.newPage();
  await carol.goto("/lang/fr?next=/login");
  await carol.locator("input[name=address]").fill("carol@example.test");
  await carol.locator("input[name=password]").fill(PASSWORD);
  await carol.locator("form.stack button[type=submit]").click();
  await carol.waitForURL(/\/mail\/inbox/);
  for (const subject of subjects) {
    await carol.goto("/mail/compose");
    // typed only once hydrated (hydration would reset what was typed)
    await hydrated(carol);
    await carol.locator("#compose-to").fill("carol@example.test");
    await carol.locator("#compose-subject").fill(subject);
    await carol.locator("#compose-body").fill("Un message de test.");
    await carol.locator("#compose-send").click();
    await carol.waitForURL(/\/mail\/sent\?sent=1/);
  }
  await carol.close();
}

const focusedHref = (page: Page) => page.evaluate(() => document.activeElement?.getAttribute("href") ?? "");

test("log in, open the third message, reply, send, go to Trash: keyboard only", async ({ page, browser }) => {
  // three messages for Carol, from herself: nobody else's mailbox changes
  // (set-up; the mouse is allowed here)
  const stamp = Date.now();
  await seed(browser, [1, 2, 3].map((n) => `Clavier ${n} ${stamp}`));

  await page.goto("/lang/fr?next=/login");
  await tabTo(page, "input[name=address]");
  await page.keyboard.type("carol@example.test");
  await page.keyboard.press("Tab");
  await page.keyboard.type(PASSWORD);
  await page.keyboard.press("Enter");
  await page.waitForURL(/\/mail\/inbox/);
  await hydrated(page);

  // newest first: the third row is the first of Bob's three
  const rows = page.locator("ul.maillist a");
  await expect(rows.nth(2)).toContainText(`Clavier 1 ${stamp}`);
  const third = await rows.nth(2).getAttribute("href");
  for (let i = 0; i < 3; i++) await page.keyboard.press("j");
  expect(await focusedHref(page)).toBe(third);
  await page.keyboard.press("Enter");
  await page.waitForURL(new RegExp(`${third}$`));
  await expect(page.locator("#message-subject")).toHaveText(`Clavier 1 ${stamp}`);

  await page.keyboard.press("r");
  await page.waitForURL(/\/mail\/compose\?mode=reply/);
  await hydrated(page);
  await expect(page.locator("#compose-subject")).toHaveValue(`Re: Clavier 1 ${stamp}`);
  // she wrote to herself: she addresses the reply herself, still by keyboard
  await tabTo(page, "#compose-to");
  await page.keyboard.press("Control+A");
  await page.keyboard.type("carol@example.test");
  await tabTo(page, "#compose-body");
  await page.keyboard.press("Control+Home");
  await page.keyboard.type("Merci, à lundi. ");
  await tabTo(page, "#compose-send");
  await page.keyboard.press("Enter");
  await page.waitForURL(/\/mail\/sent\?sent=1/);
  await expect(page.locator("#sent-notice")).toBeVisible();
  await expect(page.locator("ul.maillist a").first()).toContainText(`Re: Clavier 1 ${stamp}`);

  await tabTo(page, "#nav-trash");
  await page.keyboard.press("Enter");
  await page.waitForURL(/\/mail\/trash/);
  await expect(page.locator("h1")).toHaveText("Corbeille");
});

test("the webmail's shortcuts", async ({ page, browser }) => {
  // Carol's own messages: the demo's others stay as the other specs expect
  const stamp = Date.now();
  await seed(browser, [`Raccourci A ${stamp}`, `Raccourci B ${stamp}`]);
  await page.goto("/lang/en?next=/login");
  await page.locator("input[name=address]").fill("carol@example.test");
  await page.locator("input[name=password]").fill(PASSWORD);
  await page.keyboard.press("Enter");
  await page.waitForURL(/\/mail\/inbox/);
  await hydrated(page);
  const rows = page.locator("ul.maillist a");
  await expect(rows.nth(0)).toContainText(`Raccourci B ${stamp}`);
  await expect(rows.nth(1)).toContainText(`Raccourci A ${stamp}`);
  const first = await rows.nth(0).getAttribute("href");
  const second = await rows.nth(1).getAttribute("href");

  // ? shows them, Escape hides them
  await page.keyboard.press("?");
  const help = page.locator("#shortcuts[role=dialog]");
  await expect(help).toBeVisible();
  await expect(help.locator("kbd")).toHaveText(["j", "k", "o", "r", "a", "f", "c", "/", "#", "u", "?"]);
  await expect(page.locator("#shortcuts-close")).toBeFocused();
  await page.keyboard.press("Escape");
  await expect(help).toHaveCount(0);
  // the ? button opens them too
  await page.locator("#shortcuts-button").click();
  await expect(help).toBeVisible();
  await page.locator("#shortcuts-close").click();
  await expect(help).toHaveCount(0);

  // j/k move through the list, o opens, u goes back
  await page.keyboard.press("j");
  expect(await focusedHref(page)).toBe(first);
  await page.keyboard.press("j");
  expect(await focusedHref(page)).toBe(second);
  await page.keyboard.press("k");
  expect(await focusedHref(page)).toBe(first);
  await page.keyboard.press("k");
  expect(await focusedHref(page)).toBe(first);
  await page.keyboard.press("o");
  await page.waitForURL(new RegExp(`${first}$`));
  await expect(page.locator("#message-subject")).toBeVisible();
  await page.keyboard.press("u");
  await page.waitForURL(/\/mail\/inbox$/);
  await expect(rows.first()).toBeVisible();

  // a and f from a message
  await page.goto(first!);
  await hydrated(page);
  await page.keyboard.press("a");
  await page.waitForURL(/\/mail\/compose\?mode=replyall/);
  await page.goto(first!);
  await hydrated(page);
  await page.keyboard.press("f");
  await page.waitForURL(/\/mail\/compose\?mode=forward/);
  await hydrated(page);
  await expect(page.locator("#compose-subject")).toHaveValue(`Fwd: Raccourci B ${stamp}`);

  // off while typing: the letters go into the field
  await page.locator("#compose-subject").fill("");
  await page.locator("#compose-subject").focus();
  await page.keyboard.type("jkocra/#u?");
  await expect(page.locator("#compose-subject")).toHaveValue("jkocra/#u?");
  await expect(page).toHaveURL(/\/mail\/compose\?mode=forward/);
  await expect(help).toHaveCount(0);

  // c writes a new message, / goes to the search field
  await page.goto("/mail/inbox");
  await hydrated(page);
  await page.keyboard.press("c");
  await page.waitForURL(/\/mail\/compose$/);
  await hydrated(page);
  await page.locator("#compose-subject").blur();
  await page.keyboard.press("/");
  await page.waitForURL(/\/mail\/search/);
  await expect(page.locator("#search-q")).toBeFocused();

  // # moves the open message to the trash, and a focused row's
  await page.goto(first!);
  await hydrated(page);
  const subject1 = (await page.locator("#message-subject").textContent())!.trim();
  await page.keyboard.press("#");
  await page.waitForURL(/\/mail\/inbox\?done=trashed/);
  await hydrated(page);
  await expect(rows.first()).toBeVisible();
  await expect(rows.first()).not.toHaveAttribute("href", first!);
  const next = await rows.first().getAttribute("href");
  const subject2 = (await rows.first().locator(".subject").textContent())!.trim();
  await page.keyboard.press("j");
  expect(await focusedHref(page)).toBe(next);
  await page.keyboard.press("#");
  await page.waitForURL(/\/mail\/inbox\?done=trashed/);
  await hydrated(page);
  await expect(page.locator(`ul.maillist a[href='${next}']`)).toHaveCount(0);

  // both are in the trash; put them back for the other specs
  for (const subject of [subject1!, subject2!]) {
    await page.goto("/mail/trash");
    await hydrated(page);
    await page.locator("ul.maillist a", { hasText: subject }).first().click();
    await expect(page.locator("#message-subject")).toHaveText(subject);
    await expect(page.locator("#restore")).toBeVisible();
    // no # in the trash: deleting for ever is never one key away
    const here = page.url();
    await page.keyboard.press("#");
    await expect(page.locator("#restore")).toBeVisible();
    expect(page.url()).toBe(here);
    await page.locator("#restore").click();
    await page.waitForURL(/\/mail\/trash\?done=restored/);
  }
});
