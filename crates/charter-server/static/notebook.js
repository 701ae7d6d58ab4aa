// The evidence notebook and the pages around it (approvals, findings).
//
// - Autosave: each answer is saved on its own as it changes, through the JSON API
//   (PUT /api/v1/bundles/{id}/answers). Each question says "Saving…", "Saved" or
//   "Not saved" with the API's own message next to the field; a save that failed
//   for want of a connection (or a server error) is retried with growing pauses,
//   and says so. Leaving the page with anything unsaved asks first.
// - The API's answer drives the page: the classification badge, questions and
//   sections appearing or disappearing, the "required" markers.
// - Uploads with a progress bar (XMLHttpRequest reports upload progress; fetch
//   does not), then the attachments panel is fetched afresh so the SHA-256 shows.
// - Small form helpers: extra finding rows, the conditions part of a decision.
//
// Without this file every page still works: evidence sets are plain forms.
(function () {
  "use strict";

  var csrf = (function () {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || "";
    } catch (_) {
      return "";
    }
  })();

  function apiMessage(status, body) {
    if (body && body.error && body.error.message) return body.error.message;
    if (status === 0) return "Charter could not be reached";
    return "Charter answered " + status;
  }

  // ---- Enhancements that need JavaScript ----

  function enhance(scope) {
    scope.querySelectorAll(".nojs-only").forEach(function (el) { el.hidden = true; });
    scope.querySelectorAll("form[data-upload][hidden]").forEach(function (f) { f.hidden = false; });
    scope.querySelectorAll("[data-extra-row]").forEach(function (row) {
      var filled = Array.prototype.some.call(row.querySelectorAll("input, textarea"), function (i) {
        return i.type !== "hidden" && i.value.trim() !== "";
      });
      if (!filled) row.hidden = true;
    });
    scope.querySelectorAll("[data-add-row][hidden]").forEach(function (b) { b.hidden = false; });
    scope.querySelectorAll("[data-outcome-form]").forEach(syncOutcome);
  }

  // ---- Decision form: the conditions part belongs to a conditional approval ----

  function syncOutcome(form) {
    var chosen = form.querySelector("input[name=outcome]:checked");
    var outcome = chosen ? chosen.value : "";
    form.querySelectorAll("[data-for-outcome]").forEach(function (part) {
      var wanted = part.getAttribute("data-for-outcome").split(" ");
      part.hidden = wanted.indexOf(outcome) < 0;
    });
  }

  document.addEventListener("change", function (ev) {
    var form = ev.target.closest && ev.target.closest("[data-outcome-form]");
    if (form && ev.target.name === "outcome") syncOutcome(form);
  });

  document.addEventListener("click", function (ev) {
    var add = ev.target.closest && ev.target.closest("[data-add-row]");
    if (!add) return;
    var scope = add.closest("fieldset, form") || document;
    var next = scope.querySelector("[data-extra-row][hidden]");
    if (next) {
      next.hidden = false;
      var first = next.querySelector("input, textarea, select");
      if (first) first.focus();
    }
    if (!scope.querySelector("[data-extra-row][hidden]")) add.hidden = true;
  });

  // ---- Uploads ----

  function upload(form) {
    var input = form.querySelector("input[type=file]");
    var status = form.querySelector("[data-upload-status]");
    var bar = form.querySelector("progress");
    var file = input && input.files && input.files[0];
    if (!file) {
      status.textContent = "Choose a file first.";
      input.focus();
      return;
    }
    var params = new URLSearchParams({ name: file.name });
    var kind = form.querySelector("[name=kind]");
    if (kind) params.set("kind", kind.value);
    if (form.dataset.finding) params.set("finding", form.dataset.finding);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/v1/bundles/" + form.dataset.bundle + "/attachments/upload?" + params.toString());
    xhr.setRequestHeader("X-CSRF-Token", csrf);
    xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
    xhr.setRequestHeader("Accept", "application/json");
    bar.hidden = false;
    bar.value = 0;
    status.textContent = "Uploading " + file.name + "…";
    form.setAttribute("aria-busy", "true");
    xhr.upload.onprogress = function (ev) {
      if (!ev.lengthComputable) return;
      var pct = Math.round((ev.loaded * 100) / ev.total);
      bar.value = pct;
      status.textContent = "Uploading " + file.name + "… " + pct + "%";
    };
    xhr.onload = function () {
      form.removeAttribute("aria-busy");
      var body = null;
      try { body = JSON.parse(xhr.responseText); } catch (_) { /* not JSON */ }
      if (xhr.status === 201 && body) {
        bar.value = 100;
        var done = "Uploaded " + body.name + ". SHA-256 " + body.sha256;
        addFileChoice(body);
        refreshPanel(form, done);
      } else {
        bar.hidden = true;
        status.textContent = "Not uploaded: " + apiMessage(xhr.status, body);
        status.classList.add("is-error");
      }
    };
    xhr.onerror = function () {
      form.removeAttribute("aria-busy");
      bar.hidden = true;
      status.textContent = "Not uploaded: Charter could not be reached. Check the connection and upload again.";
      status.classList.add("is-error");
    };
    xhr.send(file);
  }

  // A new evidence file can answer file questions straight away.
  function addFileChoice(att) {
    if (att.finding_id) return;
    document.querySelectorAll('[data-widget="file"] select').forEach(function (sel) {
      var o = document.createElement("option");
      o.value = att.id;
      o.textContent = att.name + " (SHA-256 " + att.sha256.slice(0, 12) + "…)";
      sel.appendChild(o);
    });
  }

  function refreshPanel(form, message) {
    var panel = form.closest("[data-refresh]");
    if (!panel || !window.htmx) {
      form.querySelector("[data-upload-status]").textContent = message;
      return;
    }
    var id = panel.id;
    window.htmx.ajax("GET", window.location.pathname + window.location.search, { target: "#" + id, swap: "outerHTML" }).then(function () {
      var fresh = document.getElementById(id);
      if (!fresh) return;
      enhance(fresh);
      var status = fresh.querySelector("[data-upload-status]");
      if (status) status.textContent = message;
    });
  }

  document.addEventListener("submit", function (ev) {
    var form = ev.target.closest && ev.target.closest("form[data-upload]");
    if (!form) return;
    ev.preventDefault();
    upload(form);
  });

  // ---- The notebook: autosave ----

  var root = document.querySelector("[data-notebook]");
  var states = new Map();
  var me = root ? root.dataset.username : "";
  var bundle = root ? root.dataset.bundle : "";
  var summary = document.querySelector("[data-save-summary]");
  var summaryTimer = null;

  function valueOf(q) {
    var w = q.dataset.widget;
    if (w === "radio") {
      var c = q.querySelector("input[type=radio]:checked");
      return c ? c.value : null;
    }
    if (w === "checkbox") {
      return Array.prototype.map.call(q.querySelectorAll("input[type=checkbox]:checked"), function (i) { return i.value; });
    }
    if (w === "multiselect") {
      return Array.prototype.map.call(q.querySelector("select").selectedOptions, function (o) { return o.value; });
    }
    var el = q.querySelector("textarea, select, input:not([type=hidden])");
    return el ? el.value : null;
  }

  // The answer as the page shows it, for the classification panel.
  function textOf(q) {
    var w = q.dataset.widget;
    if (w === "radio" || w === "checkbox") {
      return Array.prototype.map.call(q.querySelectorAll("input:checked"), function (i) {
        return i.closest("label").textContent.trim();
      }).join(", ");
    }
    var sel = q.querySelector("select");
    if (sel) return Array.prototype.map.call(sel.selectedOptions, function (o) { return o.textContent.trim(); }).join(", ");
    var v = valueOf(q);
    return v === null ? "" : String(v);
  }

  function stateOf(q) {
    var s = states.get(q);
    if (!s) {
      s = { saved: JSON.stringify(valueOf(q)), dirty: false, saving: false, again: false, failed: false, timer: null, retry: null, tick: null, attempt: 0 };
      states.set(q, s);
    }
    return s;
  }

  function setState(q, kind, text) {
    var el = q.querySelector("[data-save-state]");
    q.dataset.saveState = kind;
    if (el) el.textContent = text;
    q.classList.toggle("is-failed", kind === "failed" || kind === "refused");
    q.classList.toggle("is-saving", kind === "saving");
    var retry = q.querySelector("[data-retry]");
    if (kind === "failed") {
      if (!retry) {
        retry = document.createElement("button");
        retry.type = "button";
        retry.className = "button button-small";
        retry.setAttribute("data-retry", "");
        retry.textContent = "Retry now";
        el.after(retry);
      }
    } else if (retry) {
      retry.remove();
    }
  }

  function showError(q, message) {
    var p = q.querySelector("[data-field-error]");
    p.textContent = message;
    p.hidden = false;
    q.querySelectorAll("input:not([type=hidden]), textarea, select, fieldset").forEach(function (el) {
      el.setAttribute("aria-invalid", "true");
    });
  }

  function clearError(q) {
    var p = q.querySelector("[data-field-error]");
    if (p) {
      p.textContent = "";
      p.hidden = true;
    }
    q.querySelectorAll("[aria-invalid]").forEach(function (el) { el.removeAttribute("aria-invalid"); });
  }

  function updateSummary() {
    if (!summary) return;
    var saving = 0, unsaved = 0, failed = 0;
    states.forEach(function (s) {
      if (s.saving) saving++;
      else if (s.failed) failed++;
      else if (s.dirty) unsaved++;
    });
    clearTimeout(summaryTimer);
    summary.classList.toggle("is-error", failed > 0);
    if (failed > 0) {
      summary.textContent = failed + (failed === 1 ? " answer is" : " answers are") + " not saved";
    } else if (saving > 0 || unsaved > 0) {
      summary.textContent = "Saving…";
    } else {
      summary.textContent = "All answers saved";
      summaryTimer = setTimeout(function () { summary.hidden = true; }, 4000);
    }
    summary.hidden = false;
  }

  function schedule(q, delay) {
    var s = stateOf(q);
    s.dirty = true;
    clearTimeout(s.timer);
    clearRetry(s);
    setState(q, "unsaved", "Not saved yet");
    s.timer = setTimeout(function () { save(q, false); }, delay);
    updateSummary();
  }

  function clearRetry(s) {
    clearTimeout(s.retry);
    clearInterval(s.tick);
    s.retry = null;
    s.tick = null;
  }

  function save(q, confirming) {
    var s = stateOf(q);
    clearTimeout(s.timer);
    s.timer = null;
    if (s.saving) {
      s.again = true;
      return;
    }
    var value = valueOf(q);
    var json = JSON.stringify(value);
    var answered = q.hasAttribute("data-has-answer");
    if (!confirming && json === s.saved && !s.failed) {
      s.dirty = false;
      setState(q, answered ? "saved" : "", answered ? "Saved" : "");
      updateSummary();
      return;
    }
    if (!answered && !confirming && (value === null || value === "" || (Array.isArray(value) && value.length === 0))) {
      s.dirty = false;
      s.saved = json;
      setState(q, "", "");
      updateSummary();
      return;
    }
    s.dirty = true;
    s.saving = true;
    clearRetry(s);
    setState(q, "saving", confirming ? "Confirming…" : "Saving…");
    updateSummary();
    fetch("/api/v1/bundles/" + bundle + "/answers", {
      method: "PUT",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ policy: q.dataset.policy, input: q.dataset.input, value: value === null ? "" : value }),
    }).then(function (r) {
      return r.json().catch(function () { return null; }).then(function (body) { return { status: r.status, body: body }; });
    }).then(function (res) {
      s.saving = false;
      if (res.status >= 200 && res.status < 300 && res.body) {
        saved(q, s, json, res.body);
      } else if (res.status >= 500 || res.status === 401 || res.status === 408 || res.status === 429) {
        retryLater(q, s, apiMessage(res.status, res.body));
      } else {
        refused(q, s, apiMessage(res.status, res.body));
      }
    }, function () {
      s.saving = false;
      retryLater(q, s, "Charter could not be reached");
    });
  }

  function saved(q, s, json, outcome) {
    s.saved = json;
    s.failed = false;
    s.attempt = 0;
    s.dirty = s.again;
    q.setAttribute("data-has-answer", "");
    clearError(q);
    setState(q, "saved", outcome.confirmed ? "Confirmed" : "Saved");
    var meta = q.querySelector("[data-answered]");
    if (meta) meta.textContent = "Answered by " + me + ", just now · revision " + outcome.revision;
    var carried = q.querySelector("[data-carried]");
    if (carried) {
      carried.remove();
      q.classList.remove("is-carried");
    }
    var history = q.querySelector("details.history");
    if (history && history.open && window.htmx) window.htmx.trigger(history, "toggle");
    var classInput = document.querySelector('[data-class-input="' + CSS.escape(q.dataset.input) + '"]');
    if (classInput) classInput.textContent = textOf(q) || "not answered";
    apply(outcome);
    if (s.again) {
      s.again = false;
      save(q, false);
    }
    updateSummary();
  }

  function retryLater(q, s, message) {
    s.failed = true;
    s.dirty = true;
    s.attempt += 1;
    var wait = Math.min(30, Math.pow(2, s.attempt));
    var left = wait;
    var say = function () {
      setState(q, "failed", "Not saved: " + message + ". Retrying in " + left + " s");
    };
    say();
    clearRetry(s);
    s.tick = setInterval(function () {
      left -= 1;
      if (left > 0) say();
    }, 1000);
    s.retry = setTimeout(function () {
      clearRetry(s);
      save(q, false);
    }, wait * 1000);
    if (s.again) {
      s.again = false;
    }
    updateSummary();
  }

  function refused(q, s, message) {
    // The value itself is refused: saving it again would fail the same way. It
    // stays in the field, unsaved, until it is changed.
    s.failed = true;
    s.dirty = true;
    clearRetry(s);
    setState(q, "refused", "Not saved: Charter refused this answer. Change it and it is saved again.");
    showError(q, message);
    if (s.again) {
      s.again = false;
      save(q, false);
    }
    updateSummary();
  }

  var CLASSES = ["class-low", "class-medium", "class-high", "class-other", "class-none"];

  function classOf(c) {
    var k = (c || "").toLowerCase();
    if (!c) return "class-none";
    if (k === "low" || k === "medium" || k === "high") return "class-" + k;
    return "class-other";
  }

  function labelOf(q) {
    var l = q.querySelector(".q-label");
    return l ? l.textContent.replace(/\s*\*\s*\(required\)\s*$/, "").replace(/\s*\*$/, "").trim() : q.dataset.input;
  }

  // Apply what the API says the answer changed.
  function apply(o) {
    var pid = o.policy_id;
    var sel = '[data-policy="' + CSS.escape(pid) + '"]';
    document.querySelectorAll('[data-classification-for="' + CSS.escape(pid) + '"]').forEach(function (b) {
      var text = o.classification || "Unclassified";
      if (b.textContent !== text) {
        b.textContent = text;
        CLASSES.forEach(function (c) { b.classList.remove(c); });
        b.classList.add(classOf(o.classification));
        b.classList.remove("just-changed");
        void b.offsetWidth;
        b.classList.add("just-changed");
      }
    });
    var hiddenSets = new Set(o.hidden_sets || []);
    var hiddenInputs = new Set(o.hidden_inputs || []);
    var missing = new Set(o.missing_required || []);
    var shown = [];
    var gone = [];
    document.querySelectorAll("form[data-set]" + sel).forEach(function (f) {
      var hide = hiddenSets.has(f.dataset.set);
      if (f.hidden !== hide) {
        f.hidden = hide;
        var title = f.querySelector(".set-title");
        (hide ? gone : shown).push("section “" + (title ? title.textContent.trim() : f.dataset.set) + "”");
        if (!hide) flash(f);
      }
    });
    document.querySelectorAll("[data-question]" + sel).forEach(function (q) {
      var hide = hiddenInputs.has(q.dataset.input);
      if (q.hidden !== hide) {
        q.hidden = hide;
        var set = q.closest("form[data-set]");
        if (!set || !set.hidden) (hide ? gone : shown).push("question “" + labelOf(q) + "”");
        if (!hide) flash(q);
      }
      var m = missing.has(q.dataset.input);
      q.dataset.missing = m ? "true" : "false";
      q.classList.toggle("is-missing", m);
    });
    progress();
    var news = [];
    if (shown.length) news.push("Now shown: " + shown.join(", ") + ".");
    if (gone.length) news.push("Now hidden: " + gone.join(", ") + ".");
    if (news.length) announce(news.join(" "));
  }

  function flash(el) {
    el.classList.remove("just-shown");
    void el.offsetWidth;
    el.classList.add("just-shown");
  }

  var announcer = null;
  function announce(text) {
    if (!announcer) {
      announcer = document.createElement("div");
      announcer.className = "visually-hidden";
      announcer.setAttribute("aria-live", "polite");
      announcer.setAttribute("data-announcer", "");
      document.body.appendChild(announcer);
    }
    announcer.textContent = text;
  }

  // The stage's "still to answer" count, from the questions shown now.
  function progress() {
    var stage = document.querySelector("section.stage");
    if (!stage) return;
    var n = 0;
    stage.querySelectorAll("form[data-set]").forEach(function (f) {
      if (f.hidden) return;
      f.querySelectorAll('[data-question][data-missing="true"]').forEach(function (q) {
        if (!q.hidden) n++;
      });
    });
    var p = stage.querySelector("[data-stage-progress]");
    if (p) {
      p.textContent = n === 0
        ? "Every required question of this stage is answered."
        : n + " required question" + (n === 1 ? "" : "s") + " still to answer.";
    }
    var step = document.querySelector(".step.is-selected [data-step-state]");
    if (step && step.dataset.label) step.textContent = step.dataset.label + (n > 0 ? " · " + n + " to answer" : "");
  }

  if (root) {
    root.querySelectorAll("[data-question]").forEach(stateOf);

    root.addEventListener("input", function (ev) {
      var q = ev.target.closest("[data-question]");
      if (!q || !q.closest("form[data-autosave]")) return;
      var w = q.dataset.widget;
      if (w === "text" || w === "textarea" || w === "number") schedule(q, 800);
    });

    root.addEventListener("change", function (ev) {
      var q = ev.target.closest("[data-question]");
      if (!q || !q.closest("form[data-autosave]")) return;
      stateOf(q).dirty = true;
      save(q, false);
    });

    root.addEventListener("click", function (ev) {
      var retry = ev.target.closest("[data-retry]");
      if (!retry) return;
      var q = retry.closest("[data-question]");
      if (q) save(q, false);
    });

    // Enter in a field, or a Confirm button: save here instead of posting the form.
    root.addEventListener("submit", function (ev) {
      var form = ev.target.closest("form[data-autosave]");
      if (!form) return;
      ev.preventDefault();
      var button = ev.submitter;
      if (button && button.hasAttribute("data-confirm-answer")) {
        save(button.closest("[data-question]"), true);
        return;
      }
      form.querySelectorAll("[data-question]").forEach(function (q) {
        var s = stateOf(q);
        if (s.dirty || s.timer) save(q, false);
      });
    });

    window.addEventListener("beforeunload", function (ev) {
      var unsaved = false;
      states.forEach(function (s) {
        if (s.dirty || s.saving || s.timer) unsaved = true;
      });
      if (unsaved) {
        ev.preventDefault();
        ev.returnValue = "";
      }
    });
  }

  enhance(document);
  document.addEventListener("htmx:load", function (ev) { enhance(ev.detail.elt); });
})();
