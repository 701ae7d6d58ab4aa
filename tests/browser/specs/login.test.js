// Signing in and out.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { ADMIN, launch, newPage, screenshot } from "./lib.js";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

test("a wrong password is refused inline; the right one lands on the dashboard; signing out returns to the sign-in page", async () => {
  const page = await newPage(browser);

  // Anonymous visitors are sent to the sign-in page.
  await page.goto("/");
  assert.equal(new URL(page.url()).pathname, "/login");
  await screenshot(page, "login");

  await page.getByLabel("Username").fill(ADMIN.username);
  await page.getByLabel("Password").fill("not-the-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  const error = page.locator("#login-error");
  await error.waitFor();
  assert.equal((await error.textContent()).trim(), "the username or password is wrong");
  assert.equal(await page.getByLabel("Username").inputValue(), ADMIN.username, "the username is kept");
  assert.equal(await page.getByLabel("Password").getAttribute("aria-invalid"), "true");
  await screenshot(page, "login-error");

  await page.getByLabel("Password").fill(ADMIN.password);
  await Promise.all([page.waitForURL((u) => u.pathname === "/"), page.getByRole("button", { name: "Sign in" }).click()]);
  assert.equal((await page.getByTestId("current-user").textContent()).trim(), ADMIN.username);
  assert.match(await page.locator("h1").textContent(), /Dashboard/);
  const nav = page.getByRole("navigation", { name: "Main" });
  for (const link of ["Dashboard", "Tasks", "Policies", "Account", "Users", "Groups", "Audit trail"]) {
    assert.equal(await nav.getByRole("link", { name: link, exact: true }).count(), 1, `an admin sees ${link}`);
  }
  await screenshot(page, "home");

  await Promise.all([page.waitForURL(/\/login$/), page.getByRole("button", { name: "Sign out" }).click()]);
  await page.getByRole("heading", { name: "Sign in to Charter" }).waitFor();
  // The session is over: pages send us back to sign in.
  await page.goto("/account");
  assert.equal(new URL(page.url()).pathname, "/login");
  await page.context().close();
});

test("signing in from a deep link returns to it", async () => {
  const page = await newPage(browser);
  await page.goto("/audit?action=user.*");
  const url = new URL(page.url());
  assert.equal(url.pathname, "/login");
  assert.equal(url.searchParams.get("next"), "/audit?action=user.*");
  await page.getByLabel("Username").fill(ADMIN.username);
  await page.getByLabel("Password").fill(ADMIN.password);
  await Promise.all([page.waitForURL(/\/audit\?/), page.getByRole("button", { name: "Sign in" }).click()]);
  assert.equal(new URL(page.url()).searchParams.get("action"), "user.*");
  assert.equal(await page.getByLabel("Action").inputValue(), "user.*");
  await page.context().close();
});
