// Charter's few behaviours on top of htmx. Every page works without this file:
// it adds copy buttons, confirmations for plain forms, closing expanded rows, and
// shows htmx errors next to the element that caused them.
(function () {
  "use strict";

  // Show buttons that need JavaScript, in the page and in swapped-in fragments.
  function enhance(root) {
    root.querySelectorAll("[data-copy][hidden]").forEach(function (b) {
      b.hidden = false;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    enhance(document);
  });
  document.addEventListener("htmx:load", function (ev) {
    enhance(ev.detail.elt);
  });

  document.addEventListener("click", function (ev) {
    var copy = ev.target.closest("[data-copy]");
    if (copy) {
      var source = document.querySelector(copy.getAttribute("data-copy"));
      if (!source) return;
      var text = source.value || source.textContent;
      var done = function () {
        var label = copy.textContent;
        copy.textContent = "Copied";
        setTimeout(function () { copy.textContent = label; }, 2000);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, function () {
          source.select();
        });
      } else {
        source.select();
        document.execCommand("copy");
        done();
      }
      return;
    }
    var close = ev.target.closest("[data-close-detail]");
    if (close) {
      var cell = close.closest("td");
      if (!cell) return;
      var opener = document.querySelector('[aria-controls="' + cell.id + '"]');
      cell.replaceChildren();
      if (opener) opener.focus();
    }
  });

  // Plain forms that destroy something ask first.
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) ev.preventDefault();
  }, true);

  // htmx does not swap error responses: say what went wrong where it happened,
  // in the server's words (text for pages, JSON for the API's checks such as CSRF).
  function placeFor(elt) {
    return elt.closest("form") || elt;
  }

  function clearError(elt) {
    var host = placeFor(elt);
    var next = host.nextElementSibling;
    if (next && next.classList.contains("inline-error")) next.remove();
  }

  function showError(elt, message) {
    var host = placeFor(elt);
    clearError(elt);
    var p = document.createElement("p");
    p.className = "inline-error";
    p.setAttribute("role", "alert");
    p.textContent = message;
    host.after(p);
  }

  document.addEventListener("htmx:beforeRequest", function (ev) {
    clearError(ev.detail.elt);
  });

  document.addEventListener("htmx:responseError", function (ev) {
    var xhr = ev.detail.xhr;
    var message = (xhr.responseText || "").trim();
    try {
      var body = JSON.parse(message);
      if (body && body.error && body.error.message) message = body.error.message;
    } catch (_) { /* not JSON: the page's own text */ }
    if (!message || message.charAt(0) === "<") message = "Charter answered " + xhr.status + "; reload the page and try again.";
    showError(ev.detail.elt, message);
  });

  document.addEventListener("htmx:sendError", function (ev) {
    showError(ev.detail.elt, "Charter could not be reached; check the connection and try again.");
  });
})();
