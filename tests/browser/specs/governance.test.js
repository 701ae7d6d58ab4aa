// The governance pages: the policy editor (a lint error at line:col, the jump, the
// fix, preview and graph, save and publish), the dashboard's charts and their links,
// the task list, and the audit trail on governance events.
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

const BASIC = "Basic " + Buffer.from(`${ADMIN.username}:${ADMIN.password}`).toString("base64");

/** Call the JSON API as the admin; fail loudly on an unexpected status. */
async function api(method, path, body, expect = [200, 201, 204]) {
  const response = await fetch(`${BASE_URL}/api/v1${path}`, {
    method,
    headers: { Authorization: BASIC, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  assert.ok(expect.includes(response.status), `${method} ${path} answered ${response.status}: ${text}`);
  return text ? JSON.parse(text) : null;
}

/** A small policy: a classification, a conditional question, an approval by `approvers`, a gate. */
function policyYaml(approvers) {
  return `classification:
  rule: 'has(inputs.pii) && inputs.pii == "Yes" ? "High" : "Low"'
  artifacts: [pii]
stages:
  - name: Intake
    evidenceSet:
      - id: Local.use-case
        name: Use case
        definition:
          - artifactType: input
            id: purpose
            required: true
            details: {type: textarea, label: What does the model do?}
          - artifactType: input
            aliasForClassification: pii
            required: true
            details: {type: radio, label: Does it see personal data?, options: ["Yes", "No"]}
          - artifactType: input
            id: pii-fields
            details:
              type: textinput
              label: Which personal data?
              conditionalDisplay: {dependsOn: pii, showIfValue: "Yes"}
    approvals:
      - name: Intake review
        approvers: [${approvers}]
  - name: Validation
    evidenceSet:
      - id: Local.validation
        name: Validation results
        definition:
          - artifactType: input
            id: accuracy
            details: {type: numeric, label: Accuracy on the hold-out set, min: 0, max: 1}
    approvals:
      - name: Validation sign off
        approvers: [${approvers}]
gates:
  - name: Production
    rules: [{action: start_app}]
    approvals: [Intake review, Validation sign off]
`;
}

/** A published policy made through the API; returns its id. */
async function publishedPolicy(name, approvers = "admin") {
  const created = await api("POST", "/policies", { name, description: "browser test", yaml: policyYaml(approvers) });
  await api("POST", `/policies/${created.policy.id}/versions/1/publish`);
  return created.policy.id;
}

/** Fail the test on any Content-Security-Policy violation the page reports. */
function watchCsp(page) {
  const violations = [];
  page.on("console", (m) => {
    if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
  });
  page.on("pageerror", (e) => violations.push(`script error: ${e.message}`));
  return violations;
}

const cursor = (page) => page.evaluate(() => document.querySelector(".CodeMirror").CodeMirror.getCursor());

test("an admin writes a policy in the editor: a lint error at line:col, the jump, the fix, preview and graph, save, publish", async () => {
  const page = await newPage(browser);
  const problems = watchCsp(page);
  await signIn(page, ADMIN);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Policies" }).click();
  await page.getByRole("link", { name: "New policy" }).click();
  await page.getByRole("heading", { name: "New policy" }).waitFor();
  const name = unique("intake");
  await page.getByLabel("Name", { exact: true }).fill(name);

  // Paste a policy with a typo in one input type.
  const broken = policyYaml("admin").replace("type: numeric,", "type: numerc,");
  const lines = broken.split("\n");
  const line = lines.findIndex((l) => l.includes("numerc")) + 1;
  const column = lines[line - 1].indexOf("numerc") + 1;
  await page.locator('label[for="policy-yaml"]').click(); // the label focuses the editor
  await page.keyboard.press("Control+A");
  await page.keyboard.press("Delete");
  await page.keyboard.insertText(broken);

  // The finding appears beside the editor with its line and column, and in the gutter.
  const diagnostics = page.getByTestId("diagnostics");
  await diagnostics.filter({ hasText: "unknown_input_type" }).waitFor();
  const finding = diagnostics.locator("li", { hasText: "unknown_input_type" });
  assert.match(await finding.textContent(), /`numerc` is not an input type \(did you mean `numeric`\?\)/);
  const jump = finding.locator(".diag-jump");
  assert.equal((await jump.textContent()).replace("Go to line ", "").trim(), `${line}:${column}`);
  assert.match(await page.getByTestId("lint-summary").textContent(), /1 error: fix them to save the policy/);
  assert.ok((await page.locator(".CodeMirror-lint-marker-error").count()) >= 1, "the gutter marks the line");
  await screenshot(page, "policy-editor-error");

  // Clicking line:col puts the cursor on the typo.
  await page.evaluate(() => document.querySelector(".CodeMirror").CodeMirror.setCursor({ line: 0, ch: 0 }));
  await jump.click();
  assert.deepEqual(await cursor(page).then((c) => [c.line, c.ch]), [line - 1, column - 1]);
  assert.ok(await page.evaluate(() => document.activeElement.closest(".CodeMirror") !== null), "the editor has the focus");

  // Fix it from the keyboard, right there.
  for (let i = 0; i < "numerc".length; i++) await page.keyboard.press("Delete");
  await page.keyboard.type("numeric");
  await page.getByTestId("lint-summary").filter({ hasText: "No problems" }).waitFor();
  assert.equal(await page.locator(".CodeMirror-lint-marker-error").count(), 0);

  // The form preview: each question as its widget, disabled.
  const preview = page.getByTestId("form-preview");
  await preview.locator('[data-input="pii"] input[type="radio"]').first().waitFor();
  assert.equal(await preview.locator('[data-input="pii"] input[type="radio"]').count(), 2);
  assert.ok(await preview.locator('[data-input="pii"] input[type="radio"]').first().isDisabled());
  assert.ok(await preview.getByLabel("What does the model do?").isDisabled());
  assert.equal(await preview.locator('[data-input="accuracy"] input').getAttribute("type"), "number");
  assert.match(await preview.locator('[data-input="pii-fields"]').textContent(), /Shown when pii is “Yes”/);
  // The graph: stages → evidence sets → approvals → gates.
  const graph = page.getByTestId("policy-graph");
  assert.equal(await graph.locator("g.graph-stage").count(), 2);
  assert.equal(await graph.locator("g.graph-set").count(), 2);
  assert.equal(await graph.locator("g.graph-approval").count(), 2);
  assert.equal(await graph.locator("g.graph-gate").count(), 1);
  assert.match(await graph.locator("desc").textContent(), /2 stages, 2 evidence sets, 2 approvals and 1 gate/);
  await screenshot(page, "policy-editor");

  // Leaving with unsaved input warns, and staying keeps the text.
  const warned = new Promise((resolve) =>
    page.once("dialog", async (dialog) => {
      resolve(dialog.type());
      await dialog.dismiss();
    }),
  );
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Dashboard" }).click({ noWaitAfter: true });
  assert.equal(await warned, "beforeunload");
  assert.equal(new URL(page.url()).pathname, "/policies/new");
  assert.match(await page.evaluate(() => document.querySelector(".CodeMirror").CodeMirror.getValue()), /type: numeric,/);

  // Save the draft, then publish it.
  await Promise.all([page.waitForURL(/\/policies\/pol_[0-9a-f]+\/edit\?saved=1$/), page.getByRole("button", { name: "Save draft" }).click()]);
  await page.locator(".notice", { hasText: "Saved draft version 1." }).waitFor();
  page.once("dialog", (dialog) => dialog.accept());
  await Promise.all([page.waitForURL(/\?published=1$/), page.getByRole("button", { name: "Publish version 1" }).click()]);
  await page.locator(".notice", { hasText: "Published version 1" }).waitFor();
  assert.equal(await page.locator("#version-1").getAttribute("data-status"), "published");
  await screenshot(page, "policy-versions");

  // The list shows it published; the version page shows the YAML, preview and graph.
  await page.goto("/policies");
  assert.match(await page.locator(`tr[data-policy="${name}"]`).textContent(), /v1\s+published/);
  await page.locator(`tr[data-policy="${name}"]`).getByRole("link", { name: /v1/ }).click();
  await page.getByTestId("yaml-view").waitFor();
  assert.equal(await page.getByTestId("policy-graph").locator("g.graph-stage").count(), 2);
  assert.deepEqual(problems, [], "no CSP violation or script error");
  await page.context().close();
});

test("without JavaScript the editor is a form: Check shows the same findings, and the textarea saves", async () => {
  const context = await browser.newContext({ baseURL: BASE_URL, javaScriptEnabled: false, viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  await signIn(page, ADMIN);
  await page.goto("/policies/new");
  await page.getByLabel("Name", { exact: true }).fill(unique("plain"));
  await page.getByLabel("Policy YAML").fill(policyYaml("admin").replace("type: numeric", "type: number"));
  await page.getByRole("button", { name: "Check" }).click();
  await page.getByTestId("diagnostics").filter({ hasText: "unknown_input_type" }).waitFor();
  assert.equal(await page.getByLabel("Policy YAML").inputValue().then((v) => v.includes("type: number")), true, "the text is kept");
  await page.getByLabel("Policy YAML").fill(policyYaml("admin"));
  await page.getByRole("button", { name: "Save draft" }).click();
  await page.locator(".notice", { hasText: "Saved draft version 1." }).waitFor();
  await context.close();
});

test("the dashboard draws charts whose counts link to filtered lists, with filters in the URL", async () => {
  const policyId = await publishedPolicy(unique("dash-policy"));
  const project = unique("dash");
  await api("POST", "/projects", { name: project });
  const ids = [];
  for (const n of ["A", "B", "C"]) {
    const b = await api("POST", "/bundles", { project, name: `Model ${n}`, policies: [policyId] });
    ids.push(b.id);
  }
  await api("PUT", `/bundles/${ids[0]}/answers`, { policy: policyId, input: "pii", value: "Yes" });
  await api("POST", `/bundles/${ids[2]}/archive`);
  await api("POST", `/bundles/${ids[0]}/findings`, { name: "No model card", severity: "high" });

  const page = await newPage(browser);
  const problems = watchCsp(page);
  await signIn(page, ADMIN, "/login?next=" + encodeURIComponent(`/?project=${project}`));
  await page.getByTestId("dashboard-scope").filter({ hasText: `Project ${project}` }).waitFor();

  // Bundles by state: the legend's counts are links to the filtered bundle list.
  const active = page.getByRole("link", { name: "Active: 2 bundles" });
  assert.equal(await active.getAttribute("href"), `/bundles?state=active&project=${project}`);
  // Findings by severity: the bar is a link a keyboard reaches.
  const high = page.getByRole("link", { name: "High: 1 findings" });
  await high.focus();
  assert.ok(await high.evaluate((el) => el === document.activeElement), "the bar takes the focus");
  // Classification: Model A is High, Model B Low.
  assert.equal(await page.getByRole("link", { name: /, High: 1 bundles$/ }).count(), 1);
  assert.equal(await page.getByRole("link", { name: /, Low: 1 bundles$/ }).count(), 1);
  // Every chart has its numbers in a table for screen readers.
  assert.ok((await page.locator("figure.chart table.chart-table").count()) >= 4);
  await screenshot(page, "dashboard");

  // Enter follows the bar's link: the finding list, filtered like the view.
  await Promise.all([page.waitForURL(/\/findings\?/), page.keyboard.press("Enter")]);
  const url = new URL(page.url());
  assert.equal(url.pathname, "/findings");
  assert.deepEqual(Object.fromEntries(url.searchParams), { severity: "high", status: "open", project });

  // Changing a filter redraws in place and puts it in the address.
  await page.goto(`/?project=${project}`);
  await page.getByLabel("Project", { exact: true }).selectOption("");
  await page.waitForURL((u) => u.pathname === "/" && !u.searchParams.has("project"));
  await page.getByTestId("dashboard-scope").filter({ hasText: "Every project" }).waitFor();
  assert.deepEqual(problems, []);

  // A narrow screen: no sideways scrolling of the page.
  const narrow = await newPage(browser, { width: 390, height: 844 });
  await signIn(narrow, ADMIN, "/login?next=" + encodeURIComponent(`/?project=${project}`));
  await narrow.getByTestId("dashboard").waitFor();
  const overflow = await narrow.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 1, `the dashboard does not scroll sideways (overflow ${overflow}px)`);
  await screenshot(narrow, "dashboard-narrow");
  await narrow.context().close();
  await page.context().close();
});

test("the tasks page lists a pending approval for the reviewer", async () => {
  const group = unique("reviewers");
  await api("POST", "/groups", { name: group });
  const reviewer = { username: unique("rev"), password: "reviewer-password-1" };
  const page = await newPage(browser);
  await signIn(page, ADMIN);
  await createUser(page, { ...reviewer, displayName: "Rita Reviewer", role: "practitioner" });
  await api("POST", `/groups/${group}/members`, { user: reviewer.username });
  const policyId = await publishedPolicy(unique("tasks-policy"), group);
  const project = unique("tasks");
  await api("POST", "/projects", { name: project });
  const bundle = await api("POST", "/bundles", { project, name: "Churn model", policies: [policyId] });
  await api("PUT", `/bundles/${bundle.id}/answers`, { policy: policyId, input: "purpose", value: "Predicts churn." });
  await api("PUT", `/bundles/${bundle.id}/answers`, { policy: policyId, input: "pii", value: "No" });
  await api("POST", `/bundles/${bundle.id}/stages/Intake/request-review`, { policy: policyId });
  await page.context().close();

  const rev = await newPage(browser);
  await signIn(rev, reviewer);
  await rev.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Tasks" }).click();
  const approvals = rev.getByTestId("tasks-approvals");
  await approvals.locator("li.task", { hasText: "Churn model" }).waitFor();
  assert.match(await rev.getByTestId("tasks-summary").textContent(), /1 open task/);
  const review = approvals.getByRole("link", { name: "Review", exact: true });
  assert.match(await review.getAttribute("href"), new RegExp(`^/bundles/${bundle.id}#apr_[0-9a-f]+$`));
  await screenshot(rev, "tasks");
  await rev.context().close();
});

test("the audit trail filters governance events, shows a change, exports the view and verifies the chain", async () => {
  const policyId = await publishedPolicy(unique("audited"));
  const page = await newPage(browser);
  await signIn(page, ADMIN, "/login?next=/audit");
  await page.getByLabel("Action").fill("policy_version.*");
  await page.getByRole("button", { name: "Apply" }).click();
  await page.waitForURL((u) => u.searchParams.get("action") === "policy_version.*");
  const rows = page.locator("tr.event-row");
  await rows.first().waitFor();
  const actions = await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.action));
  assert.ok(actions.every((a) => a.startsWith("policy_version.")), `${actions}`);

  // The publication's detail: the status changed from draft to published.
  const published = rows.filter({ hasText: "policy_version.published" }).first();
  await published.getByRole("link", { name: /Details/ }).click();
  const changed = page.getByTestId("event-detail").locator("tr.changed");
  await changed.waitFor();
  assert.match(await changed.textContent(), /status[\s\S]*draft[\s\S]*published/);

  // A target's history: the policy's own events, by its id.
  await page.goto(`/audit?target=${policyId}`);
  const own = await page.locator("tr.event-row").evaluateAll((trs) => trs.map((tr) => tr.dataset.action));
  assert.deepEqual(own, ["policy.created"]);

  // Export JSON of the filtered view.
  await page.goto("/audit?action=policy_version.*");
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: "Export JSON" }).click()]);
  const text = await readFile(await download.path(), "utf8");
  const exported = text.trim().startsWith("[") ? JSON.parse(text) : text.trim().split("\n").map((l) => JSON.parse(l));
  assert.ok(exported.length >= 1);
  assert.ok(exported.every((e) => e.action.startsWith("policy_version.")));

  // Verify the chain.
  await page.getByRole("button", { name: "Verify chain" }).click();
  const verdict = page.getByTestId("verify-result");
  await verdict.waitFor();
  assert.equal(await verdict.getAttribute("data-ok"), "true");
  await screenshot(page, "audit-governance");
  await page.context().close();
});
