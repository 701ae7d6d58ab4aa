// What a viewer may not see.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { ADMIN, createUser, launch, newPage, screenshot, signIn, signOut, unique } from "./lib.js";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

test("a viewer created on the admin page gets a 403 page at /admin/users", async () => {
  const page = await newPage(browser);
  await signIn(page, ADMIN);
  const viewer = { username: unique("vic"), password: "viewer-password-1" };
  await createUser(page, { ...viewer, displayName: "Vic Viewer", role: "viewer" });
  assert.equal(await page.locator(`#user-${viewer.username} select`).inputValue(), "viewer");
  await signOut(page);

  await signIn(page, viewer);
  assert.equal(new URL(page.url()).pathname, "/");
  const nav = page.getByRole("navigation", { name: "Main" });
  assert.equal(await nav.getByRole("link", { name: "Users" }).count(), 0, "no Users link for a viewer");
  assert.equal(await nav.getByRole("link", { name: "Audit trail" }).count(), 0, "no Audit link for a viewer");

  const response = await page.goto("/admin/users");
  assert.equal(response.status(), 403);
  await page.getByRole("heading", { name: "You do not have access to this page" }).waitFor();
  assert.match(await page.getByTestId("error-message").textContent(), /needs the admin role; your role is viewer/);
  assert.equal((await page.getByTestId("current-user").textContent()).trim(), viewer.username, "the navigation stays");
  await screenshot(page, "forbidden");

  const audit = await page.goto("/audit");
  assert.equal(audit.status(), 403);
  await page.context().close();
});
