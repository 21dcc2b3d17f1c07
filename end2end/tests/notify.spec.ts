import { test, expect, Page } from "@playwright/test";

// Users told of outages, in the French UI (server/tests/it/notify.rs and
// end2end/mail/test_notify.py try it against a gateway and a failing
// Postfix): carol gives a backup address in Paramètres — waiting for its
// link — and takes it back; the domain admin finds the panel on the
// Continuity Service page and turns notices for drills on.
const DEMO_PASSWORD = "lantern-orchid-2026";

async function logIn(page: Page, address: string, lands: RegExp) {
  await page.goto("/lang/fr?next=/login");
  await page.getByLabel("Adresse e-mail").fill(address);
  await page.getByLabel(/^Mot de passe$/).fill(DEMO_PASSWORD);
  await page.getByRole("button", { name: "Se connecter" }).click();
  await expect(page).toHaveURL(lands);
}

test("Adresse de secours : l'indiquer, attendre sa confirmation, la retirer", async ({ page }) => {
  await logIn(page, "carol@example.test", /\/mail\/inbox/);
  await page.goto("/settings");
  const card = page.locator("#contacts");
  await expect(card.getByRole("heading")).toHaveText("En cas d'interruption de la messagerie");
  // her own work address is refused: that is the mailbox that may be down
  await card.getByLabel("Adresse e-mail de secours (hors entreprise)").fill("carol@example.test");
  await page.locator("#alt-email-save").click();
  await expect(page.locator("#contacts-error")).toContainText("hors de votre messagerie professionnelle");
  await card.getByLabel("Adresse e-mail de secours (hors entreprise)").fill("carol.perso@remote.test");
  await page.locator("#alt-email-save").click();
  await expect(page.locator("#contacts-done")).toHaveText("Un lien de confirmation a été envoyé à votre adresse de secours.");
  await expect(page.locator("#alt-email-state")).toHaveAttribute("data-verified", "false");
  await expect(page.locator("#alt-email")).toHaveValue("carol.perso@remote.test");
  await card.getByRole("button", { name: "Supprimer" }).first().click();
  await expect(page.locator("#contacts-done")).toHaveText("Supprimé.");
  await expect(page.locator("#alt-email")).toHaveValue("");
});

test("Notification des utilisateurs : le panneau du Continuity Service", async ({ page }) => {
  await logIn(page, "admin@example.test", /\/admin/);
  await page.goto("/admin/d/example.test/continuity");
  await expect(page.locator("#notices-section")).toHaveText("Notification des utilisateurs");
  await expect(page.locator("#notify-users")).toBeChecked();
  await expect(page.locator("#notify-drills")).not.toBeChecked();
  await page.getByLabel("Y compris pendant les exercices").check();
  await page.locator("#notify-save").click();
  await expect(page.locator("#notice")).toHaveText("Réglages de notification enregistrés.");
  await expect(page.locator("#notify-drills")).toBeChecked();
  // back as it was, for the other specs
  await page.getByLabel("Y compris pendant les exercices").uncheck();
  await page.locator("#notify-save").click();
  await expect(page.locator("#notify-drills")).not.toBeChecked();
});
