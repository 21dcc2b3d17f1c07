import { test, expect } from "@playwright/test";

// Writing in the webmail: reply to a message (addressed, titled and quoted
// for you), send, find it in Sent; a refused send keeps what was typed.
const PASSWORD = "lantern-orchid-2026";

test("a user replies from the webmail and finds the reply in Sent", async ({ page }) => {
  await page.goto("/login");
  await page.getByLabel("Email address").fill("alice@example.test");
  await page.getByLabel(/^Password$/).fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page).toHaveURL(/\/mail\/inbox/);
  await page.locator("#mail-list a").first().click();
  await expect(page).toHaveURL(/\/mail\/m\/\d+/);
  await page.locator("#reply").click();
  await expect(page).toHaveURL(/\/mail\/compose\?mode=reply/);
  await expect(page.locator("#compose-subject")).toHaveValue(/^Re: /);
  await expect(page.locator("#compose-to")).not.toHaveValue("");
  await expect(page.locator("#compose-body")).toHaveValue(/\n> /);
  const subject = `Re: from the browser ${Date.now()}`;
  await page.locator("#compose-subject").fill(subject);
  await page.locator("#compose-body").fill("Thank you, see you Monday.");
  await page.locator("#compose-send").click();
  await expect(page).toHaveURL(/\/mail\/sent\?sent=1/);
  await expect(page.locator("#sent-notice")).toBeVisible();
  await expect(page.getByText(subject)).toBeVisible();

  // someone else's address as sender is refused; the text stays
  await page.goto("/mail/compose");
  await page.locator("#compose-to").fill("not an address");
  await page.locator("#compose-subject").fill("Kept");
  await page.locator("#compose-send").click();
  await expect(page.locator("#compose-error")).toContainText("not an email address");
  await expect(page.locator("#compose-subject")).toHaveValue("Kept");
});
