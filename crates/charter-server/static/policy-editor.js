// The policy editor: CodeMirror (vendored, see VENDORED.md) on the YAML textarea,
// checked as you type through POST /policies/check, which answers with the
// problems, form preview and graph panels as HTML. The same findings mark the
// editor's gutter. Clicking a finding's line:col puts the cursor there.
//
// Without this file (or if CodeMirror fails to load) the page is a plain form: the
// textarea submits, and "Check" renders the same panels with the page.
(function () {
  "use strict";

  var form = document.querySelector("form[data-policy-editor]");
  if (!form) return;
  var textarea = form.querySelector("textarea[name=yaml]");
  var state = document.getElementById("editor-state");
  var csrf = (form.querySelector("input[name=csrf_token]") || {}).value || "";
  var checkUrl = "/policies/check";
  var cm = null;
  var sequence = 0;
  var initial = textarea.value;
  var initialFields = fieldValues();
  var submitting = false;

  function fieldValues() {
    return Array.prototype.map.call(form.querySelectorAll("input[type=text]"), function (i) { return i.value; }).join("\u0000");
  }

  function text() {
    return cm ? cm.getValue() : textarea.value;
  }

  function dirty() {
    return !submitting && (text() !== initial || fieldValues() !== initialFields);
  }

  function say(message) {
    if (state) state.textContent = message;
  }

  // Navigating away with unsaved input warns.
  window.addEventListener("beforeunload", function (ev) {
    if (!dirty()) return;
    ev.preventDefault();
    ev.returnValue = "";
  });
  form.addEventListener("submit", function () {
    if (cm) cm.save();
    submitting = true;
  });

  // Put the panels of a /policies/check answer in place. When the YAML has errors the
  // answer has no preview or graph: keep the last good ones, marked as out of date.
  function swap(html) {
    var tpl = document.createElement("template");
    tpl.innerHTML = html;
    var panels = tpl.content.getElementById("policy-panels");
    var graph = tpl.content.getElementById("policy-graph-section");
    var oldPanels = document.getElementById("policy-panels");
    var oldGraph = document.getElementById("policy-graph-section");
    if (!panels || !oldPanels) return [];
    var oldPreview = oldPanels.querySelector(".form-preview");
    if (panels.querySelector("[data-preview-missing]") && oldPreview) {
      var section = panels.querySelector(".panel-preview");
      section.querySelector("[data-preview-missing]").remove();
      section.appendChild(stale("The preview shows the last text that checked clean."));
      section.appendChild(oldPreview);
    }
    var oldSvg = oldGraph && oldGraph.querySelector(".graph-scroll");
    if (graph && graph.querySelector("[data-graph-missing]") && oldSvg) {
      graph.querySelector("[data-graph-missing]").replaceWith(stale("The graph shows the last text that checked clean."), oldSvg);
    }
    oldPanels.replaceWith(panels);
    if (graph && oldGraph) oldGraph.replaceWith(graph);
    return Array.prototype.map.call(panels.querySelectorAll("[data-diagnostic]"), function (li) {
      var line = Math.max(0, Number(li.getAttribute("data-line")) - 1);
      var col = Math.max(0, Number(li.getAttribute("data-col")) - 1);
      return {
        from: CodeMirror.Pos(line, col),
        to: CodeMirror.Pos(line, col + 1),
        message: li.getAttribute("data-message"),
        severity: li.getAttribute("data-severity") === "error" ? "error" : "warning",
      };
    });
  }

  function stale(message) {
    var p = document.createElement("p");
    p.className = "stale-note";
    p.setAttribute("data-stale", "");
    p.textContent = message;
    return p;
  }

  // The lint addon calls this (debounced) after each change.
  function check(source, update) {
    var mine = ++sequence;
    say("Checking…");
    var body = new URLSearchParams();
    body.set("yaml", source);
    body.set("title", form.getAttribute("data-title") || "");
    fetch(checkUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": csrf },
      body: body,
    }).then(function (response) {
      return response.text().then(function (html) {
        if (mine !== sequence) return; // a newer check is on its way
        if (!response.ok) {
          var message = html.trim();
          try { message = JSON.parse(message).error.message; } catch (_) { /* page text */ }
          if (!message || message.charAt(0) === "<") message = "Charter answered " + response.status;
          say("Could not check: " + message);
          update([]);
          return;
        }
        var found = swap(html);
        var errors = found.filter(function (a) { return a.severity === "error"; }).length;
        say(errors ? "Checked: " + errors + " error" + (errors === 1 ? "" : "s") : "Checked: no errors");
        update(found);
      });
    }, function () {
      if (mine !== sequence) return;
      say("Could not check: Charter could not be reached. Your text is kept; keep typing or press Check.");
      update([]);
    });
  }

  function jump(line, col) {
    if (cm) {
      var pos = CodeMirror.Pos(Math.max(0, line - 1), Math.max(0, col - 1));
      cm.focus();
      cm.setCursor(pos);
      cm.scrollIntoView(pos, 80);
      return;
    }
    // The plain textarea: select the position by counting characters.
    var lines = textarea.value.split("\n");
    var offset = 0;
    for (var i = 0; i < line - 1 && i < lines.length; i++) offset += lines[i].length + 1;
    offset += Math.max(0, col - 1);
    textarea.focus();
    textarea.setSelectionRange(offset, offset);
  }

  document.addEventListener("click", function (ev) {
    var link = ev.target.closest && ev.target.closest(".diag-jump");
    if (!link) return;
    ev.preventDefault();
    jump(Number(link.getAttribute("data-line")), Number(link.getAttribute("data-col")));
  });

  if (typeof window.CodeMirror !== "function") {
    say("");
    return;
  }

  // Tab indents inside the editor, except right after Esc, when it moves on as
  // everywhere else (so the editor never traps the keyboard).
  var escaped = false;
  cm = CodeMirror.fromTextArea(textarea, {
    mode: "yaml",
    lineNumbers: true,
    indentUnit: 2,
    tabSize: 2,
    indentWithTabs: false,
    lineWrapping: false,
    screenReaderLabel: "Policy YAML",
    gutters: ["CodeMirror-lint-markers", "CodeMirror-linenumbers"],
    lint: { getAnnotations: check, async: true, delay: 350, lintOnChange: true },
    extraKeys: {
      Tab: function (editor) {
        if (escaped) return CodeMirror.Pass;
        if (editor.somethingSelected()) editor.indentSelection("add");
        else editor.replaceSelection("  ", "end");
      },
      "Shift-Tab": function (editor) {
        if (escaped) return CodeMirror.Pass;
        editor.indentSelection("subtract");
      },
      Esc: function () {
        escaped = true;
      },
    },
  });
  cm.on("keydown", function (_, ev) {
    if (ev.key !== "Escape" && ev.key !== "Tab" && ev.key !== "Shift") escaped = false;
  });
  cm.on("blur", function () { escaped = false; });
  cm.getWrapperElement().setAttribute("data-testid", "yaml-editor");
  // The textarea's label focuses the editor.
  var label = document.querySelector('label[for="' + textarea.id + '"]');
  if (label) label.addEventListener("click", function () { cm.focus(); });
  var describedBy = textarea.getAttribute("aria-describedby");
  if (describedBy) cm.getInputField().setAttribute("aria-describedby", describedBy);

  // The "Check" button is for pages without the live check.
  var button = form.querySelector("[data-check-button]");
  if (button) button.hidden = true;
  say("Checked as you type.");
})();
