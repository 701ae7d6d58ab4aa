// The audit trail: filters in the URL, export of exactly the filtered view, the
// payload diff, and the chain check.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { ADMIN, BASE_URL, createUser, launch, newPage, screenshot, signIn, unique } from "./lib.js";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

/** Minimal RFC 4180 parsing: enough for the export's quoted payload column. */
function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\n") {
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else field += c;
  }
  if (field || row.length) rows.push([...row, field]);
  return rows;
}

test("filtering by user.* shows user events only, in the URL, the export and the chain check", async () => {
  const page = await newPage(browser);
  await signIn(page, ADMIN);

  // Some history: a user made on the admin page (then a mistake: the same name
  // again, answered next to the field), a role change, and a group with a member.
  const username = unique("ann");
  await createUser(page, { username, displayName: "Ann Analyst", role: "practitioner", password: "ann-password-123" });
  await page.locator(".notice", { hasText: `Created the user ${username}` }).waitFor();

  const form = page.locator("form", { has: page.getByRole("button", { name: "Create user" }) });
  await form.getByLabel("Username").fill(username);
  await form.getByLabel("E-mail").fill(`${username}@example.com`);
  await form.getByRole("button", { name: "Create user" }).click();
  const taken = page.locator("#new-username-error");
  await taken.waitFor();
  assert.match(await taken.textContent(), /already taken/);

  await page.goto("/admin/users");
  const row = page.locator(`#user-${username}`);
  await row.getByLabel(`Role of ${username}`).selectOption("governance_admin");
  await row.getByRole("button", { name: `Change role of ${username}` }).click();
  await page.locator(`#user-${username} .row-notice`, { hasText: "Role changed" }).waitFor();
  assert.equal(await page.locator(`#user-${username} select`).inputValue(), "governance_admin");
  await screenshot(page, "admin-users");

  const group = unique("reviewers");
  await page.goto("/admin/groups");
  await page.getByLabel("Name").fill(group);
  await page.getByLabel(/Description/).fill("Model risk reviewers");
  await Promise.all([page.waitForURL(`**/admin/groups/${group}`), page.getByRole("button", { name: "Create group" }).click()]);
  await page.getByLabel("Username").fill(username);
  await Promise.all([page.waitForNavigation(), page.getByRole("button", { name: "Add member" }).click()]);
  await page.getByTestId("members-table").locator("code", { hasText: username }).waitFor();
  await screenshot(page, "admin-group");

  // Filter the trail by action user.* (htmx swaps the results and pushes the URL).
  await page.goto("/audit");
  await page.getByLabel("Action").fill("user.*");
  await page.getByRole("button", { name: "Apply" }).click();
  await page.waitForURL((u) => u.searchParams.get("action") === "user.*");
  await page.getByTestId("audit-summary").filter({ hasText: "matching these filters" }).waitFor();

  const actions = async () => page.locator("tr.event-row").evaluateAll((rows) => rows.map((r) => r.dataset.action));
  let shown = await actions();
  assert.ok(shown.includes("user.created"), `user.created is listed: ${shown}`);
  assert.ok(shown.includes("user.updated"), `user.updated is listed: ${shown}`);
  assert.ok(shown.every((a) => a.startsWith("user.")), `only user.* events: ${shown}`);
  assert.ok(!shown.includes("group.created"));
  const createdRow = page.locator("tr.event-row", { hasText: username }).filter({ hasText: "user.created" });
  assert.equal(await createdRow.count(), 1, "the new user's user.created row is there");

  // The same URL, loaded afresh (no htmx), shows the same view.
  await page.reload();
  assert.deepEqual(await actions(), shown);
  assert.equal(await page.getByLabel("Action").inputValue(), "user.*");

  // The payload of the role change, as a diff with the changed key marked.
  const updatedRow = page.locator("tr.event-row", { hasText: "user.updated" }).filter({ hasText: "governance_admin" }).first();
  await updatedRow.getByRole("link", { name: /Details/ }).click();
  const detail = page.getByTestId("event-detail");
  await detail.waitFor();
  const changed = detail.locator("tr.changed");
  assert.equal(await changed.count(), 1, "exactly one key changed");
  assert.match(await changed.textContent(), /role[\s\S]*practitioner[\s\S]*governance_admin/);

  // Verify the chain.
  await page.getByRole("button", { name: "Verify chain" }).click();
  const verdict = page.getByTestId("verify-result");
  await verdict.waitFor();
  assert.equal(await verdict.getAttribute("data-ok"), "true");
  assert.match(await verdict.textContent(), /Chain OK/);
  await screenshot(page, "audit");

  // Export CSV: exactly the filtered view.
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("link", { name: "Export CSV" }).click(),
  ]);
  assert.match(download.url(), /action=user\.\*/);
  const csv = parseCsv(await readFile(await download.path(), "utf8"));
  const [header, ...records] = csv;
  const actionColumn = header.indexOf("action");
  assert.ok(actionColumn >= 0, `the CSV has an action column: ${header}`);
  assert.ok(records.length >= 2);
  assert.ok(records.every((r) => r[actionColumn].startsWith("user.")), "every exported row is a user.* event");
  assert.ok(records.some((r) => r[actionColumn] === "user.created" && r.join(",").includes(username)));
  await page.context().close();
});

test("an event has its own page with the payload diff", async () => {
  const page = await newPage(browser);
  await signIn(page, ADMIN, "/login?next=" + encodeURIComponent("/audit?action=user.updated"));
  const link = page.locator("tr.event-row").first().getByRole("link", { name: /Details/ });
  const href = await link.getAttribute("href");
  await page.goto(href);
  await page.getByRole("heading", { name: /user\.updated/ }).waitFor();
  assert.ok((await page.locator("tr.changed").count()) >= 1);
  await screenshot(page, "audit-event");
  await page.context().close();
});

test("Load more appends the next page in place; without JavaScript it is a plain link", async () => {
  // Enough history for a second page (50 events a page): groups made through the API.
  const auth = "Basic " + Buffer.from(`${ADMIN.username}:${ADMIN.password}`).toString("base64");
  for (let i = 0; i < 55; i++) {
    const response = await fetch(`${BASE_URL}/api/v1/groups`, {
      method: "POST",
      headers: { Authorization: auth, "Content-Type": "application/json" },
      body: JSON.stringify({ name: unique("bulk") }),
    });
    assert.equal(response.status, 201);
  }
  const page = await newPage(browser);
  await signIn(page, ADMIN, "/login?next=" + encodeURIComponent("/audit?action=group.created"));
  const rows = page.locator("tr.event-row");
  assert.equal(await rows.count(), 50);
  const more = page.getByRole("link", { name: "Load more" });
  const href = await more.getAttribute("href");
  assert.match(href, /action=group\.created/);
  assert.match(href, /cursor=\d+/);
  await more.click();
  await page.waitForFunction(() => document.querySelectorAll("tr.event-row").length > 50);
  const seqs = await rows.evaluateAll((trs) => trs.map((tr) => Number(tr.querySelector("td").textContent)));
  assert.ok(seqs.every((s, i) => i === 0 || s < seqs[i - 1]), "newest first, no repeats");
  assert.equal(new URL(page.url()).searchParams.get("cursor"), null, "the address still names the whole view");
  assert.ok(seqs.length > 50);

  // The link itself is a page: the older events, with a way back.
  await page.goto(href);
  await page.getByRole("link", { name: "Back to the newest" }).waitFor();
  assert.match(await page.getByTestId("audit-summary").textContent(), /Showing older/);
  await page.context().close();
});

test("the audit page reads well on a narrow screen", async () => {
  const page = await newPage(browser, { width: 390, height: 844 });
  await signIn(page, ADMIN, "/login?next=/audit");
  await page.getByRole("heading", { name: "Audit trail" }).waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 1, `the page does not scroll sideways (overflow ${overflow}px); wide tables scroll in place`);
  await screenshot(page, "audit-narrow", { fullPage: false });
  await page.goto("/");
  assert.equal((await page.getByTestId("current-user").textContent()).trim(), ADMIN.username, "the user is shown on a phone too");
  await screenshot(page, "home-narrow");
  await page.context().close();
});
