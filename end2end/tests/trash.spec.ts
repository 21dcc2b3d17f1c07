import { test, expect, Page } from "@playwright/test";

// The webmail's trash (Corbeille), the same folder mail apps see over IMAP
// as \Trash: delete a message, find it in the trash, restore it; then a
// note bob sends himself is deleted and the trash emptied after confirming
// (his demo message stays: the webmail spec reads it).
const DEMO_PASSWORD = "lantern-orchid-2026";

async function logIn(page: Page, address: string) {
  await page.goto("/lang/fr?next=/login");
  await page.getByLabel("Adresse e-mail").fill(address);
  await page.getByLabel(/^Mot de passe$/).fill(DEMO_PASSWORD);
  await page.getByRole("button", { name: "Se connecter" }).click();
  await expect(page).toHaveURL(/\/mail\/inbox/);
  await page.locator("h1[data-hydrated]").waitFor();
}

test("Supprimer, restaurer et vider la corbeille", async ({ page }) => {
  await logIn(page, "bob@example.test");
  await page.getByRole("link", { name: /Réunion de lundi/ }).click();
  await expect(page.locator("#mail-text")).toContainText("La réunion de lundi est déplacée à 10 h.");
  await page.getByRole("button", { name: "Supprimer", exact: true }).click();
  await expect(page).toHaveURL(/\/mail\/inbox\?done=trashed$/);
  await expect(page.locator("#notice")).toHaveText("Le message a été placé dans la corbeille.");
  await expect(page.locator("#mail-list")).toHaveCount(0);

  await page.locator("#nav-trash").click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Corbeille");
  await expect(page.locator("#trash-note")).toContainText("l'archive le conserve");
  await page.getByRole("link", { name: /Réunion de lundi/ }).click();
  await page.getByRole("button", { name: "Restaurer" }).click();
  await expect(page.locator("#notice")).toHaveText("Le message a été restauré.");
  await expect(page.locator("#mail-empty")).toBeVisible();
  await page.goto("/mail/inbox");
  await expect(page.locator("#mail-list")).toContainText("Réunion de lundi");

  // a note to himself, deleted, then the trash emptied: a confirmation
  // first, cancel keeps it
  await page.goto("/mail/compose");
  await page.locator("#compose-to").fill("bob@example.test");
  await page.locator("#compose-subject").fill("Note à jeter");
  await page.locator("#compose-body").fill("brouillon");
  await page.locator("#compose-send").click();
  await expect(page.locator("#sent-notice")).toBeVisible();
  await page.goto("/mail/inbox");
  await page.getByRole("link", { name: /Note à jeter/ }).click();
  await page.getByRole("button", { name: "Supprimer", exact: true }).click();
  await page.locator("#nav-trash").click();
  await expect(page.locator("#mail-list")).toContainText("Note à jeter");
  await page.locator("#empty-trash").click();
  await expect(page.locator("#confirm-text")).toHaveText(
    "Supprimer définitivement tous les messages de la corbeille ?",
  );
  await page.locator("#confirm-box").getByRole("link", { name: "Annuler" }).click();
  await expect(page.locator("#mail-list")).toContainText("Note à jeter");
  await page.locator("#empty-trash").click();
  await page.locator("#empty-confirm").click();
  await expect(page.locator("#notice")).toHaveText("La corbeille a été vidée.");
  await expect(page.locator("#mail-empty")).toBeVisible();
  await page.goto("/mail/inbox");
  await expect(page.locator("#mail-list")).toContainText("Réunion de lundi");
  await expect(page.locator("#mail-list")).not.toContainText("Note à jeter");
});
