// Personal API tokens on the account page.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { ADMIN, BASE_URL, launch, newPage, screenshot, signIn, unique } from "./lib.js";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

async function me(secret) {
  const response = await fetch(`${BASE_URL}/api/v1/me`, { headers: { Authorization: `Bearer ${secret}` } });
  return { status: response.status, body: await response.json() };
}

test("a new token is shown once, works against the API, and stops working once revoked", async () => {
  const page = await newPage(browser);
  await signIn(page, ADMIN, "/login?next=/account");
  assert.equal(new URL(page.url()).pathname, "/account");

  const name = unique("laptop");
  await page.getByLabel("Token name").fill(name);
  await page.getByLabel(/Expires after/).fill("30");
  await page.getByRole("button", { name: "Create token" }).click();

  const secretBox = page.getByTestId("new-token");
  await secretBox.waitFor();
  const secret = await page.locator("#new-token-secret").inputValue();
  assert.match(secret, /^chr_/, "the secret starts with chr_");
  assert.match(await secretBox.textContent(), /won't be shown again/);
  assert.ok(await secretBox.getByRole("button", { name: "Copy" }).isVisible(), "a copy button is offered");
  const row = page.locator("tr", { has: page.locator("th", { hasText: name }) });
  assert.equal((await row.getByTestId("token-status").textContent()).trim(), "active");
  await screenshot(page, "account-token");

  // The secret works as a Bearer token.
  const ok = await me(secret);
  assert.equal(ok.status, 200);
  assert.equal(ok.body.user.username, ADMIN.username);
  assert.equal(ok.body.auth_method, "token");

  // Reloading never shows it again.
  await page.reload();
  assert.equal(await page.locator("#new-token-secret").count(), 0);
  assert.ok(!(await page.content()).includes(secret), "the secret is nowhere in the page");

  // Revoke, after confirming.
  page.once("dialog", (dialog) => dialog.accept());
  await row.getByRole("button", { name: `Revoke ${name}` }).click();
  await row.getByTestId("token-status").filter({ hasText: "revoked" }).waitFor();
  assert.equal(await row.getByRole("button", { name: /Revoke/ }).count(), 0, "a revoked token has no Revoke button");

  const refused = await me(secret);
  assert.equal(refused.status, 401);
  assert.match(refused.body.error.message, /revoked/);
  await page.context().close();
});

test("a bad token form is answered next to the field, in the API's words", async () => {
  const page = await newPage(browser);
  await signIn(page, ADMIN, "/login?next=/account");
  await page.getByLabel("Token name").fill("   ");
  await page.getByRole("button", { name: "Create token" }).click();
  const error = page.locator("#token-name-error");
  await error.waitFor();
  assert.match(await error.textContent(), /give the token a name of 1 to 100 characters/);
  await page.context().close();
});
