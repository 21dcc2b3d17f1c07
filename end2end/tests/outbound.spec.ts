import { test, expect, Page } from "@playwright/test";

// The Control Panel's outbound page (French UI, hydrated, then without
// JavaScript): DKIM keys made, switched and deleted; the relay networks
// with a refusal; relay credentials shown once, replaced only after
// confirmation. The demo domain signs with its key `demo`, and the page
// leaves it signing with that key (the compose specs verify signatures).
const PASSWORD = "lantern-orchid-2026";

async function openOutbound(page: Page, lang: "fr" | "en") {
  await page.goto(`/lang/${lang}?next=/login`);
  await page.locator("input[name=address]").fill("admin@example.test");
  await page.locator("input[name=password]").fill(PASSWORD);
  await page.locator("form.stack button[type=submit]").click();
  await expect(page).toHaveURL(/\/admin$/);
  await page.goto("/admin/d/example.test/continuity");
  await page.locator("#outbound-link").click();
  await expect(page).toHaveURL(/\/admin\/d\/example\.test\/outbound$/);
}

test.describe.configure({ mode: "serial" });

test("Signature DKIM et relais depuis le Control Panel", async ({ page }) => {
  await openOutbound(page, "fr");
  await page.locator("h1[data-hydrated]").waitFor();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Messagerie sortante");
  await expect(page.locator("#signing")).toHaveText("Signature avec demo");
  await expect(page.locator("#key-demo .record-name")).toHaveText("demo._domainkey.example.test");
  await expect(page.locator("#key-demo .record-value")).toHaveValue(/^v=DKIM1; k=rsa; p=MII/);

  // a new Ed25519 key signs at once
  await page.getByLabel("Algorithme").selectOption("ed25519");
  await page.getByLabel("Sélecteur (vide : nommé d'après ce mois)").fill("e2e-ed");
  await page.getByRole("button", { name: "Générer" }).click();
  await expect(page.locator("#notice")).toHaveText(
    "Nouvelle clé créée ; elle signe dès maintenant. Publiez son enregistrement : e2e-ed",
  );
  await expect(page.locator("#key-e2e-ed .state")).toHaveText("signe");
  await expect(page.locator("#key-e2e-ed .record-value")).toHaveValue(/^v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}=$/);
  await expect(page.locator("#key-demo .state")).toHaveText("inactive");
  await page.screenshot({ path: "test-results/outbound/messagerie-sortante.png", fullPage: true });
  // a selector the browser lets through but DNS does not (a label cannot
  // start with "-") is refused by the server, nothing made
  await page.getByLabel("Sélecteur (vide : nommé d'après ce mois)").fill("-e2e");
  await page.getByRole("button", { name: "Générer" }).click();
  await expect(page.locator("#error")).toContainText("Rien n'a été modifié :");
  await expect(page.locator("#dkim-keys > li")).toHaveCount(2);

  // back to demo, and the test key deleted
  await page.locator("#key-demo").getByRole("button", { name: "Signer avec cette clé" }).click();
  await expect(page.locator("#notice")).toHaveText("Signature avec demo");
  await page.locator("#key-e2e-ed").getByRole("button", { name: "Supprimer" }).click();
  await expect(page.locator("#notice")).toHaveText("Clé supprimée : e2e-ed");
  await expect(page.locator("#dkim-keys > li")).toHaveCount(1);
  await expect(page.locator("#signing")).toHaveText("Signature avec demo");

  // networks: saved; one too broad refused, the saved ones kept
  await page.getByLabel("Réseaux autorisés à relayer").fill("192.0.2.10\n198.51.100.0/24");
  await page.getByRole("button", { name: "Enregistrer les réseaux" }).click();
  await expect(page.locator("#notice")).toHaveText("Les réseaux ont été enregistrés.");
  await expect(page.getByLabel("Réseaux autorisés à relayer")).toHaveValue("192.0.2.10/32\n198.51.100.0/24");
  await page.getByLabel("Réseaux autorisés à relayer").fill("0.0.0.0/0");
  await page.getByRole("button", { name: "Enregistrer les réseaux" }).click();
  await expect(page.locator("#error")).toHaveText("Les réseaux n'ont pas été enregistrés : 0.0.0.0/0 est trop large : au plus un /24 (IPv4) ou un /56 (IPv6)");
  await expect(page.getByLabel("Réseaux autorisés à relayer")).toHaveValue("192.0.2.10/32\n198.51.100.0/24");

  // credentials: shown once
  await expect(page.locator("#credentials")).toHaveText("Aucun.");
  await page.getByRole("button", { name: "Créer des identifiants" }).click();
  await expect(page.locator("#new-secret")).toContainText("il n'est affiché qu'une fois");
  await expect(page.locator("#relay-user")).toHaveText("example.test");
  await expect(page.locator("#relay-password")).toHaveText(/^cty_relay_[A-Za-z0-9_-]{43}$/);
  // the page's own address (without the post's reveal id) shows it no more
  await page.goto("/admin/d/example.test/outbound");
  await expect(page.locator("#new-secret")).toHaveCount(0);
  await expect(page.locator("#credentials")).toContainText("seule une empreinte est conservée");
  // replacing asks first; cancel keeps them
  await page.getByRole("button", { name: "Remplacer les identifiants" }).click();
  await expect(page.locator("#confirm-text")).toContainText("Les remplacer ?");
  await page.locator("#confirm-box").getByRole("link", { name: "Annuler" }).click();
  await expect(page.locator("#confirm-box")).toHaveCount(0);
  await expect(page.locator("#new-secret")).toHaveCount(0);
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });
  test("credentials replaced after confirmation, then removed", async ({ page }) => {
    await openOutbound(page, "en");
    await expect(page.getByRole("heading", { level: 1 })).toHaveText("Outbound mail");
    await page.getByRole("button", { name: "Replace the credentials" }).click();
    await page.locator("#confirm-box").getByRole("button", { name: "Confirm" }).click();
    await expect(page.locator("#relay-password")).toHaveText(/^cty_relay_/);
    await page.getByRole("button", { name: "Remove the credentials" }).click();
    await page.locator("#confirm-box").getByRole("button", { name: "Confirm" }).click();
    await expect(page.locator("#notice")).toHaveText("The relay credentials have been removed.");
    await expect(page.locator("#credentials")).toHaveText("None.");
    await page.getByLabel("Networks allowed to relay").fill("");
    await page.getByRole("button", { name: "Save the networks" }).click();
    await expect(page.locator("#notice")).toHaveText("The networks have been saved.");
  });
});
