import { test, expect, Page } from "@playwright/test";

// The webmail's Brouillons (the IMAP Drafts folder's drafts, see
// server/tests/it/drafts_mirror.rs): a draft saved from the compose page is listed,
// opens again where it was left, and is discarded from the compose page or
// from the list. Bob's account (the other specs read alice's and carol's
// mail; none of them keeps drafts).
const DEMO_PASSWORD = "lantern-orchid-2026";

async function logIn(page: Page, address: string) {
  await page.goto("/lang/fr?next=/login");
  await page.getByLabel("Adresse e-mail").fill(address);
  await page.getByLabel(/^Mot de passe$/).fill(DEMO_PASSWORD);
  await page.getByRole("button", { name: "Se connecter" }).click();
  await expect(page).toHaveURL(/\/mail\/inbox/);
  await page.locator("h1[data-hydrated]").waitFor();
}

test("Brouillons : enregistrer, reprendre, abandonner", async ({ page }) => {
  await logIn(page, "bob@example.test");
  await page.locator("#nav-drafts").click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Brouillons");
  await expect(page.locator("#mail-empty")).toContainText("Aucun brouillon");

  for (const subject of ["Compte rendu", "Idées en vrac"]) {
    await page.goto("/mail/compose");
    await page.locator("h1[data-hydrated]").waitFor();
    await page.locator("#compose-to").fill("alice@example.test");
    await page.locator("#compose-subject").fill(subject);
    await page.locator("#compose-body").fill(`${subject} : à finir demain`);
    await page.locator("#compose-save").click();
    await expect(page.locator("#draft-saved")).toHaveText("Le brouillon a été enregistré.");
  }

  await page.locator("#nav-drafts").click();
  await expect(page.locator("#mail-list > li")).toHaveCount(2);
  // the drafts are the mail apps' Drafts folder too: one place in the
  // folder list, not two
  await expect(page.locator("nav.folders a[data-folder=\"Drafts\"]")).toHaveCount(0);
  await expect(page.locator("#mail-list > li").first()).toContainText("Idées en vrac");
  await page.getByRole("link", { name: /Compte rendu/ }).click();
  await expect(page).toHaveURL(/\/mail\/compose\?draft=\d+/);
  await expect(page.locator("#compose-subject")).toHaveValue("Compte rendu");
  await expect(page.locator("#compose-body")).toHaveValue("Compte rendu : à finir demain");
  // from the compose page
  await page.locator("#compose-discard").click();
  await expect(page.locator("#notice")).toHaveText("Le brouillon a été abandonné.");
  await expect(page.locator("#mail-list > li")).toHaveCount(1);
  // from the list
  await page.locator("#mail-list > li").first().getByRole("button", { name: "Abandonner" }).click();
  await expect(page.locator("#notice")).toHaveText("Le brouillon a été abandonné.");
  await expect(page.locator("#mail-empty")).toBeVisible();
});
