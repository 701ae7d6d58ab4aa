// The governance journey through the web UI: a practitioner creates a project
// and a bundle and answers its evidence notebook (autosave, live classification,
// conditional questions, an upload with its hash), requests review; an approver
// approves with a condition and a new finding; the practitioner resolves the
// finding; a copy of the bundle carries answers over to confirm; a governance
// admin finds every step in the audit trail and the chain verifies. Also: the
// bundle's creator is refused approval in words, and a refused or failed
// autosave says so next to the field.
//
// Set-up that belongs to other pages (users, groups, publishing the pack's
// General Intake policy) goes through /api/v1.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ADMIN, BASE_URL, launch, newPage, screenshot, signIn, signOut, unique } from "./lib.js";

const POLICY_FILE = new URL("../../../policies/general-intake.yaml", import.meta.url);

let browser;
let policy; // the published General Intake, under a name of this run
before(async () => {
  browser = await launch();
  policy = await publishGeneralIntake();
});
after(async () => {
  await browser?.close();
});

// ---- Set-up through the API ----

async function api(method, path, body, auth = ADMIN) {
  const response = await fetch(`${BASE_URL}/api/v1${path}`, {
    method,
    headers: {
      Authorization: "Basic " + Buffer.from(`${auth.username}:${auth.password}`).toString("base64"),
      ...(body === undefined ? {} : { "Content-Type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : null };
}

async function user(prefix, role) {
  const u = { username: unique(prefix), password: `${prefix}-password-123` };
  const r = await api("POST", "/users", { username: u.username, display_name: u.username, email: `${u.username}@example.com`, role, password: u.password });
  assert.equal(r.status, 201, JSON.stringify(r.json));
  return u;
}

/** The groups the policy names, made if missing (other specs may have made them). */
async function ensureGroup(name) {
  const r = await api("POST", "/groups", { name });
  assert.ok(r.status === 201 || r.status === 409, JSON.stringify(r.json));
}

async function joinGroup(group, u) {
  const r = await api("POST", `/groups/${group}/members`, { user: u.username });
  assert.ok(r.status === 204 || r.status === 200, JSON.stringify(r.json));
}

async function publishGeneralIntake() {
  await ensureGroup("ai-governance");
  await ensureGroup("model-risk");
  const name = `General Intake ${unique("run")}`;
  const yaml = await readFile(POLICY_FILE, "utf8");
  const created = await api("POST", "/policies", { name, description: "The first policy of every AI use case", yaml });
  assert.equal(created.status, 201, JSON.stringify(created.json));
  const published = await api("POST", `/policies/${created.json.policy.id}/versions/1/publish`);
  assert.equal(published.status, 200, JSON.stringify(published.json));
  return name;
}

// ---- Page helpers ----

/** A question of the notebook, by input id. */
function question(page, id) {
  return page.locator(`[data-question][data-input="${id}"]`);
}

async function saved(page, id) {
  await question(page, id).locator("[data-save-state]", { hasText: /^(Saved|Confirmed)$/ }).waitFor();
}

async function fill(page, id, text) {
  const q = question(page, id);
  await q.locator("input:not([type=hidden]), textarea").first().fill(text);
  await q.locator("input:not([type=hidden]), textarea").first().blur();
  await saved(page, id);
}

async function choose(page, id, label) {
  const q = question(page, id);
  await q.getByLabel(label, { exact: true }).check();
  await saved(page, id);
}

async function pick(page, id, value) {
  const q = question(page, id);
  await q.locator("select").selectOption(value);
  await saved(page, id);
}

async function classification(page) {
  return (await page.getByTestId("classification").first().textContent()).trim();
}

async function waitForClassification(page, text) {
  await page.getByTestId("classification").filter({ hasText: new RegExp(`^\\s*${text}\\s*$`) }).first().waitFor();
}

function nextYear() {
  return `${new Date().getUTCFullYear() + 1}-06-30`;
}

async function noSidewaysScroll(page) {
  return page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
}

/** Answer the Intake questions that need no page-level checks, through the API. */
async function answerIntake(bundleId, auth) {
  const answers = {
    "use-case-name": "Ticket triage",
    "use-case-description": "Routes help-desk tickets to the right team.",
    "business-owner": "Dana Lee, Head of IT support",
    "affected-users": "staff",
    "decision-impact": "informs",
    "human-review": "all",
    "data-sources": "Help-desk tickets",
    "personal-data": "No",
    "model-type": "statistical",
    "proposed-tier": "Low",
    "proposed-tier-reason": "Internal routing only.",
  };
  for (const [input, value] of Object.entries(answers)) {
    const r = await api("PUT", `/bundles/${bundleId}/answers`, { policy, input, value }, auth);
    assert.equal(r.status, 200, `${input}: ${JSON.stringify(r.json)}`);
  }
}

// ---- The journey ----

test("the governance journey: notebook, review, conditional approval, finding, copy, audit", async () => {
  const pia = await user("pia", "practitioner");
  const vic = await user("vic", "practitioner");
  const gwen = await user("gwen", "governance_admin");
  await joinGroup("ai-governance", vic);
  await joinGroup("model-risk", vic);
  const projectName = unique("helpbot");

  // The practitioner makes a project and a bundle.
  const page = await newPage(browser);
  await signIn(page, pia);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Projects" }).click();
  await page.getByLabel("Name", { exact: true }).fill(projectName);
  await page.getByLabel(/Description/).fill("HelpBot, the help-desk assistant");
  await Promise.all([page.waitForURL(`**/projects/${projectName}?done=created`), page.getByRole("button", { name: "Create project" }).click()]);
  await page.getByTestId("members-table").locator("code", { hasText: pia.username }).waitFor();
  await Promise.all([page.waitForURL(/\/bundles\/new/), page.getByRole("link", { name: "New bundle" }).click()]);
  assert.equal(await page.getByLabel("Project").inputValue(), projectName, "the project is chosen already");
  await page.getByLabel("Name", { exact: true }).fill("HelpBot");
  await page.getByLabel(new RegExp(policy)).check();
  await Promise.all([page.waitForURL(/\/bundles\/bdl_[0-9a-f]+\?done=created/), page.getByRole("button", { name: "Create bundle" }).click()]);
  const bundleId = new URL(page.url()).pathname.split("/").pop();
  await page.getByRole("heading", { name: "HelpBot", exact: true }).waitFor();
  assert.match(await page.locator(".step.is-selected").textContent(), /Intake[\s\S]*Current/);
  assert.match(await page.locator(".step", { hasText: "Risk review" }).textContent(), /Locked/, "sequential order: the second stage waits");

  // Answers save themselves; each question says so.
  await fill(page, "use-case-name", "HelpBot");
  await fill(page, "use-case-description", "Answers staff questions about IT, HR and expenses from the knowledge base.");
  await fill(page, "business-owner", "Dana Lee, Head of IT support");

  // The classification badge follows the risk answers as they change.
  assert.equal(await classification(page), "Low");
  await choose(page, "affected-users", "Our own staff only");
  await choose(page, "decision-impact", "They inform a decision that a person makes");
  await waitForClassification(page, "Medium");
  const highRisk = page.locator('form[data-set="Local.high-risk-controls"]');
  assert.equal(await highRisk.isHidden(), true, "the high-risk section waits for a High tier");
  await choose(page, "decision-impact", "They decide, or materially change, an outcome for a person");
  await waitForClassification(page, "High");
  await highRisk.waitFor({ state: "visible" });
  await choose(page, "decision-impact", "They inform a decision that a person makes");
  await waitForClassification(page, "Medium");
  await highRisk.waitFor({ state: "hidden" });
  await choose(page, "human-review", "A sample is reviewed");

  // A conditional question appears when the answer it depends on is given.
  const special = question(page, "special-categories");
  assert.equal(await special.isHidden(), true);
  await fill(page, "data-sources", "The help-desk knowledge base, and the ticket history (names of staff).");
  await choose(page, "personal-data", "Yes");
  await special.waitFor({ state: "visible" });
  await page.locator('form[data-set="Local.personal-data-handling"]').waitFor({ state: "visible" });
  await choose(page, "special-categories", "No");

  // A number the API refuses is not saved, says why next to the field, and
  // saves once corrected.
  const people = question(page, "people-affected-per-year");
  await people.getByLabel(/how many people/).fill("-5");
  await people.getByLabel(/how many people/).blur();
  await people.locator("[data-field-error]", { hasText: "expected a number of at least 0, got -5" }).waitFor();
  assert.match(await people.locator("[data-save-state]").textContent(), /Not saved/);
  assert.equal(await people.getByLabel(/how many people/).getAttribute("aria-invalid"), "true");
  await people.getByLabel(/how many people/).fill("1200");
  await people.getByLabel(/how many people/).blur();
  await saved(page, "people-affected-per-year");
  assert.equal(await people.locator("[data-field-error]").isHidden(), true, "the error is gone once saved");

  await pick(page, "model-type", "llm");
  await question(page, "llm-provider").waitFor({ state: "visible" });
  await fill(page, "llm-provider", "A self-hosted open-weights model");
  await choose(page, "data-leaves-firm", "No");
  await choose(page, "proposed-tier", "Low");
  await fill(page, "proposed-tier-reason", "Internal and informational; a person acts on every answer.");
  await pick(page, "lawful-basis", "Legitimate interests");
  await fill(page, "data-minimisation", "Staff names are masked before indexing.");
  await fill(page, "retention", "30 days");

  // Upload the DPIA: a progress bar, then the file with its SHA-256; the DPIA
  // question (shown once "Done") takes it as its answer.
  const dir = await mkdtemp(join(tmpdir(), "charter-journey-"));
  const dpiaPath = join(dir, "dpia-helpbot.txt");
  const dpia = "Data protection impact assessment for HelpBot.\n".repeat(2000);
  await writeFile(dpiaPath, dpia);
  const sha = createHash("sha256").update(dpia).digest("hex");
  await page.getByLabel("File", { exact: true }).setInputFiles(dpiaPath);
  await page.locator("form[data-upload]").getByRole("button", { name: "Upload" }).click();
  await page.locator("[data-upload-status]", { hasText: `SHA-256 ${sha}` }).waitFor();
  assert.equal((await page.getByTestId("sha256").first().textContent()).trim(), sha, "the panel shows the file's hash");
  await choose(page, "dpia-status", "Done");
  await question(page, "dpia-file").waitFor({ state: "visible" });
  const dpiaSelect = question(page, "dpia-file").locator("select");
  const dpiaOption = await dpiaSelect.locator("option", { hasText: `dpia-helpbot.txt (SHA-256 ${sha.slice(0, 12)}…)` }).getAttribute("value");
  await dpiaSelect.selectOption(dpiaOption);
  await saved(page, "dpia-file");

  // Leaving with an answer not yet saved asks first.
  const reason = question(page, "proposed-tier-reason").locator("textarea");
  await reason.fill("Internal and informational; a person acts on every answer, always.");
  const dialog = new Promise((resolve) => page.once("dialog", async (d) => { resolve(d.type()); await d.dismiss(); }));
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Findings" }).click();
  assert.equal(await dialog, "beforeunload", "the browser asks before leaving unsaved input");
  assert.equal(new URL(page.url()).pathname, `/bundles/${bundleId}`, "still on the notebook");
  await saved(page, "proposed-tier-reason");

  // The answer history: who, when, old → new.
  const history = question(page, "decision-impact").locator("details.history");
  await history.locator("summary").click();
  const table = history.getByTestId("history");
  await table.waitFor();
  assert.equal(await table.locator("tbody tr").count(), 3);
  assert.match(await table.locator("tbody tr").first().textContent(), /decide, or materially change[\s\S]*→[\s\S]*inform a decision/);

  assert.match(await page.locator("[data-stage-progress]").textContent(), /Every required question of this stage is answered/);
  assert.equal(await noSidewaysScroll(page), 0);
  await screenshot(page, "notebook");
  // A view for the docs: the notebook from its stepper down, the side panel beside it.
  await page.setViewportSize({ width: 1280, height: 1000 });
  await page.evaluate(() => window.scrollTo(0, document.querySelector("[data-notebook]").getBoundingClientRect().top + window.scrollY - 16));
  await screenshot(page, "notebook-view", { fullPage: false });
  await page.setViewportSize({ width: 1280, height: 860 });
  const narrow = await newPage(browser, { width: 390, height: 844 });
  await signIn(narrow, pia, `/login?next=/bundles/${bundleId}`);
  await narrow.getByTestId("classification").first().waitFor();
  assert.ok((await noSidewaysScroll(narrow)) <= 1, "the notebook reads on a phone without sideways scrolling");
  await screenshot(narrow, "notebook-narrow", { fullPage: false });
  await narrow.context().close();

  // Request review: the approvers get a task.
  await Promise.all([page.waitForURL(/done=review/), page.getByRole("button", { name: "Request review" }).click()]);
  await page.getByText("Review requested.").waitFor();
  assert.equal((await page.getByTestId("approval-status").first().textContent()).trim(), "Waiting for review");
  const approvalHref = await page.locator(".approval-list a").first().getAttribute("href");
  await signOut(page);

  // The approver (not the creator, and no evidence of theirs) may decide.
  await signIn(page, vic, `/login?next=${encodeURIComponent(approvalHref)}`);
  await page.getByRole("heading", { name: "Intake review" }).waitFor();
  assert.equal(await page.getByTestId("cannot-decide").count(), 0, "nothing stands in the approver's way");
  await page.getByText("HelpBot", { exact: true }).first().waitFor();
  await page.getByLabel("Approve with conditions").check();
  await page.getByLabel("Proceed with conditions").check();
  await page.getByLabel("Conditions the team must meet").fill("Monitor answer drift before launch.");
  await page.locator('input[name="s:intake-confirmed-tier"][value="Medium"]').check();
  await page.getByLabel("Finding 1: name").fill("No drift monitoring");
  await page.getByLabel("Finding 1: Severity").selectOption("high");
  await page.getByLabel("Finding 1: Due date").fill(nextYear());
  await page.getByLabel("Finding 1: Assignee").fill(pia.username);
  await page.getByLabel("Finding 1: Description").fill(`Nothing watches **drift** yet. <script>document.title = "owned"</script> @${pia.username}, please add a check.`);
  await page.getByLabel("Comment").fill("Fine to proceed once drift is watched.");
  assert.equal(await noSidewaysScroll(page), 0);
  await screenshot(page, "approval");
  // A view for the docs: the decision with its sign-off and the new finding.
  await page.setViewportSize({ width: 1280, height: 1100 });
  await page.evaluate(() => {
    const heading = [...document.querySelectorAll("h2")].find((h) => h.textContent.trim() === "Your decision");
    window.scrollTo(0, heading.getBoundingClientRect().top + window.scrollY - 24);
  });
  await screenshot(page, "approval-view", { fullPage: false });
  await page.setViewportSize({ width: 1280, height: 860 });
  await Promise.all([page.waitForURL(/done=conditional/), page.getByRole("button", { name: "Record decision" }).click()]);
  assert.equal((await page.getByTestId("approval-status").textContent()).trim(), "Approved with conditions");
  await page.locator(".finding-list").getByRole("link", { name: "No drift monitoring" }).waitFor();
  await signOut(page);

  // The practitioner resolves the finding: a note is required.
  await signIn(page, pia, "/login?next=" + encodeURIComponent("/findings?assignee=me"));
  await page.getByTestId("findings-table").getByRole("link", { name: "No drift monitoring" }).click();
  const description = page.getByTestId("finding-description");
  assert.equal(await description.locator("strong").textContent(), "drift", "Markdown is rendered");
  assert.equal(await description.locator("script").count(), 0, "raw HTML is shown, never run");
  assert.match(await description.textContent(), /<script>/);
  assert.notEqual(await page.title(), "owned");
  assert.equal(await description.locator(".mention").textContent(), `@${pia.username}`);
  assert.equal(await page.getByLabel("New status").locator('option[value="closed"]').count(), 0, "only the approver may close");
  await page.getByText(`Only the finding's approver (${vic.username}) can close it.`).waitFor();
  await page.getByLabel("New status").selectOption("resolved");
  await page.getByRole("button", { name: "Save status" }).click();
  await page.locator(".field-error", { hasText: "a resolution note is required" }).waitFor();
  await page.getByLabel(/Resolution note/).fill("Added a **PSI** drift check, alerting at 0.2.");
  await Promise.all([page.waitForURL(/done=updated/), page.getByRole("button", { name: "Save status" }).click()]);
  assert.equal((await page.getByTestId("finding-status").textContent()).trim(), "Resolved");
  assert.equal(await page.getByTestId("finding-resolution").locator("strong").textContent(), "PSI");
  await screenshot(page, "finding");
  const findingId = new URL(page.url()).pathname.split("/").pop();

  // A model update: copy the bundle, see what carries over, confirm an answer.
  await page.goto(`/bundles/${bundleId}`);
  await Promise.all([page.waitForURL(/copy_from=/), page.getByRole("link", { name: "Copy this bundle" }).click()]);
  const preview = page.getByTestId("copy-preview");
  await preview.waitFor();
  assert.match(await preview.getByTestId("carried-answers").textContent(), new RegExp(`HelpBot[\\s\\S]*${pia.username}[\\s\\S]*bundle:${bundleId}/answer:`));
  assert.match(await preview.textContent(), /dpia-helpbot\.txt/);
  await page.getByLabel("Name of the copy").fill("HelpBot Model Update");
  await Promise.all([page.waitForURL(/done=copied/), page.getByRole("button", { name: "Copy the bundle" }).click()]);
  const copyId = new URL(page.url()).pathname.split("/").pop();
  await page.getByTestId("carried-summary").waitFor();
  const carriedName = question(page, "use-case-name");
  assert.match(await carriedName.getAttribute("class"), /is-carried/, "carried-over answers are highlighted");
  assert.match(await carriedName.locator("[data-carried]").textContent(), new RegExp(`Carried over from HelpBot[\\s\\S]*bundle:${bundleId}/answer:`));
  const carriedBefore = await page.locator(".question.is-carried").count();
  assert.ok(carriedBefore > 10, `most answers came along (${carriedBefore})`);
  await carriedName.getByRole("button", { name: /Confirm/ }).click();
  await carriedName.locator("[data-save-state]", { hasText: "Confirmed" }).waitFor();
  assert.equal(await carriedName.locator("[data-carried]").count(), 0);
  assert.equal(await page.locator(".question.is-carried").count(), carriedBefore - 1);
  await page.reload();
  assert.doesNotMatch(await question(page, "use-case-name").getAttribute("class"), /is-carried/, "confirmed for good");
  await screenshot(page, "notebook-copy");
  await signOut(page);

  // A governance admin finds every step in the audit trail, and the chain verifies.
  const approvalId = approvalHref.split("/").pop();
  const projectId = (await api("GET", `/projects/${projectName}`)).json.id;
  await signIn(page, gwen, "/login?next=/audit");
  const steps = [
    ["project.created", projectId],
    ["bundle.created", bundleId],
    ["evidence.answered", bundleId],
    ["bundle.classified", bundleId],
    ["attachment.added", bundleId],
    ["approval.requested", approvalId],
    ["approval.conditionally_granted", approvalId],
    ["finding.created", findingId],
    ["finding.resolved", findingId],
    ["evidence.carried_over", copyId],
    ["evidence.confirmed", copyId],
  ];
  for (const [action, target] of steps) {
    await page.goto(`/audit?action=${action}`);
    const rows = page.locator("tr.event-row", {
      has: page.locator("code.target-id", { hasText: new RegExp(`^${target}$`) }),
    });
    assert.ok((await rows.count()) >= 1, `the audit trail shows ${action} for ${target}`);
  }
  await page.getByRole("button", { name: "Verify chain" }).click();
  const verdict = page.getByTestId("verify-result");
  await verdict.waitFor();
  assert.equal(await verdict.getAttribute("data-ok"), "true");
  await page.context().close();
});

test("the bundle's creator is told in words that they cannot approve it", async () => {
  const cora = await user("cora", "practitioner");
  await joinGroup("ai-governance", cora);
  const project = unique("triage");
  assert.equal((await api("POST", "/projects", { name: project }, cora)).status, 201);
  const created = await api("POST", "/bundles", { project, name: "Ticket triage", policies: [policy] }, cora);
  assert.equal(created.status, 201, JSON.stringify(created.json));
  const bundleId = created.json.id;
  await answerIntake(bundleId, cora);
  const requested = await api("POST", `/bundles/${bundleId}/stages/Intake/request-review`, {}, cora);
  assert.equal(requested.status, 200, JSON.stringify(requested.json));
  const approvalId = requested.json.approvals[0].id;

  const page = await newPage(browser);
  await signIn(page, cora, `/login?next=/approvals/${approvalId}`);
  const cannot = page.getByTestId("cannot-decide");
  await cannot.waitFor();
  assert.match(await cannot.getByRole("heading").textContent(), /You created this bundle, so you cannot approve its stages/);
  assert.match(await cannot.textContent(), /separation of duties: you created bundle `Ticket triage`/, "the API's own words follow");
  assert.equal(await page.getByRole("button", { name: "Record decision" }).count(), 0, "no decision is offered");

  // A decision sent anyway (a page left open from before, say) is refused with
  // the same sentence, from the API's error.
  const csrf = await page.evaluate(() => JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRF-Token"]);
  await Promise.all([
    page.waitForLoadState("load"),
    page.evaluate(({ approvalId, csrf, version }) => {
      const form = document.createElement("form");
      form.method = "post";
      form.action = `/approvals/${approvalId}/decision`;
      for (const [k, v] of Object.entries({ csrf_token: csrf, outcome: "approve", version: String(version), "s:intake-decision": "Proceed", "s:intake-confirmed-tier": "Low" })) {
        const input = document.createElement("input");
        input.type = "hidden";
        input.name = k;
        input.value = v;
        form.appendChild(input);
      }
      document.body.appendChild(form);
      form.submit();
    }, { approvalId, csrf, version: requested.json.approvals[0].version }),
  ]);
  const refusal = page.getByTestId("refusal");
  await refusal.waitFor();
  assert.match(await refusal.getByRole("heading").textContent(), /You created this bundle, so you cannot approve its stages/);
  assert.match(await refusal.textContent(), /one of its other approvers must decide/);
  assert.equal((await page.getByTestId("approval-status").textContent()).trim(), "Waiting for review", "nothing was decided");
  await screenshot(page, "approval-refused");
  await page.context().close();
});

test("a failed autosave says so, retries, and keeps what was typed", async () => {
  const sam = await user("sam", "practitioner");
  const project = unique("autosave");
  assert.equal((await api("POST", "/projects", { name: project }, sam)).status, 201);
  const created = await api("POST", "/bundles", { project, name: "Autosave", policies: [policy] }, sam);
  const bundleId = created.json.id;
  const page = await newPage(browser);
  await signIn(page, sam, `/login?next=/bundles/${bundleId}`);

  // The connection drops: the question says it is not saved and when it retries.
  let dropped = 0;
  await page.route("**/api/v1/bundles/*/answers", async (route) => {
    if (dropped < 1) {
      dropped++;
      await route.abort("connectionreset");
    } else {
      await route.continue();
    }
  });
  const name = question(page, "use-case-name");
  await name.locator("input[type=text]").fill("Ticket triage");
  await name.locator("input[type=text]").blur();
  await name.locator("[data-save-state]", { hasText: /Not saved: Charter could not be reached\. Retrying in \d+ s/ }).waitFor();
  await name.getByRole("button", { name: "Retry now" }).waitFor();
  await page.locator("[data-save-summary]", { hasText: "1 answer is not saved" }).waitFor();
  await saved(page, "use-case-name");
  assert.equal(dropped, 1);
  assert.equal(await name.getByRole("button", { name: "Retry now" }).count(), 0);
  await page.unroute("**/api/v1/bundles/*/answers");

  // The server refuses a value: the API's message stands next to the field, the
  // typed value stays, and nothing was stored.
  const people = question(page, "people-affected-per-year");
  const box = people.getByLabel(/how many people/);
  await box.fill("lots");
  await box.blur();
  const error = people.locator("[data-field-error]");
  await error.waitFor();
  assert.equal(
    (await error.textContent()).trim(),
    '`Roughly how many people are affected per year?` (people-affected-per-year): expected a number, got the text "lots"',
  );
  assert.equal(await box.inputValue(), "lots", "what was typed is kept");
  const describedBy = (await box.getAttribute("aria-describedby")).split(" ");
  assert.ok(describedBy.includes(await error.getAttribute("id")), "the message is tied to the field");
  const stored = await api("GET", `/bundles/${bundleId}`, undefined, sam);
  const input = stored.json.policies[0].stages[0].evidence_sets.flatMap((s) => s.inputs).find((i) => i.id === "people-affected-per-year");
  assert.equal(input.value, null, "nothing was saved");
  await screenshot(page, "notebook-refused");
  await page.context().close();
});
