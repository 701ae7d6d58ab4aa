// HelpBot's chat page: sends a question to POST /api/chat with stream:true, reads the
// server-sent events (token, replace, done) from the response body, renders
// citations as buttons that open the passage, and posts thumbs up/down feedback.
(() => {
  "use strict";
  const log = document.getElementById("log");
  const form = document.getElementById("ask");
  const box = document.getElementById("message");
  const send = document.getElementById("send");
  const tpl = document.getElementById("tpl-turn");
  const dialog = document.getElementById("passage");
  const KEY = "helpbot.session";
  let session = sessionStorage.getItem(KEY) || "";
  let busy = false;

  function newSession() {
    session = "";
    sessionStorage.removeItem(KEY);
    log.querySelectorAll(".turn").forEach((t) => t.remove());
    box.value = "";
    box.focus();
  }

  const label = (c) => (c.heading && c.heading !== c.title ? `${c.title} — ${c.heading}` : c.title);

  function openPassage(c) {
    document.getElementById("passage-title").textContent = `[${c.n}] ${label(c)}`;
    const link = document.getElementById("passage-link");
    link.textContent = `Open the article (${c.path})`;
    link.href = `/kb/${c.path}?heading=${encodeURIComponent(c.heading)}`;
    const text = document.getElementById("passage-text");
    text.replaceChildren(...c.text.split("\n").map((line) => {
      const p = document.createElement("p");
      p.textContent = line;
      return p;
    }));
    dialog.showModal();
  }

  // Render answer text with [n] markers as citation buttons.
  function renderAnswer(el, text, citations) {
    const byN = new Map(citations.map((c) => [c.n, c]));
    el.replaceChildren();
    let last = 0;
    for (const m of text.matchAll(/\[(\d{1,2})\]/g)) {
      el.append(text.slice(last, m.index));
      const c = byN.get(Number(m[1]));
      if (c) {
        const b = document.createElement("button");
        b.type = "button";
        b.className = "cite";
        b.textContent = m[1];
        b.setAttribute("aria-label", `Source ${m[1]}: ${c.title}`);
        b.dataset.testid = "citation";
        b.addEventListener("click", () => openPassage(c));
        el.append(b);
      } else {
        el.append(m[0]);
      }
      last = m.index + m[0].length;
    }
    el.append(text.slice(last));
  }

  async function feedback(turn, result, label, comment) {
    const status = turn.querySelector(".feedback-status");
    try {
      const r = await fetch("/api/feedback", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          span_id: result.span_id, trace_id: result.trace_id, session_id: result.session_id, label, comment: comment || null,
        }),
      });
      const body = await r.json();
      status.textContent = r.ok ? (body.message || "Thanks for your feedback.") : (body.error?.message || "Feedback failed.");
    } catch (e) {
      status.textContent = "Feedback could not be sent.";
    }
  }

  function wireFeedback(turn, result) {
    const fb = turn.querySelector(".feedback");
    const commentForm = fb.querySelector(".comment");
    let chosen = null;
    fb.hidden = false;
    fb.querySelectorAll(".thumb").forEach((b) => {
      b.addEventListener("click", () => {
        chosen = b.dataset.label;
        fb.querySelectorAll(".thumb").forEach((o) => o.setAttribute("aria-pressed", String(o === b)));
        commentForm.hidden = false;
        feedback(turn, result, chosen, "");
        commentForm.querySelector("input").focus();
      });
    });
    commentForm.addEventListener("submit", (e) => {
      e.preventDefault();
      const input = commentForm.querySelector("input");
      feedback(turn, result, chosen || "down", input.value.trim());
      commentForm.hidden = true;
    });
  }

  function parseSse(buffer, onEvent) {
    let idx;
    while ((idx = buffer.indexOf("\n\n")) >= 0) {
      const raw = buffer.slice(0, idx);
      buffer = buffer.slice(idx + 2);
      let event = "message";
      const data = [];
      for (const line of raw.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) onEvent(event, data.join("\n"));
    }
    return buffer;
  }

  async function ask(question) {
    if (busy || !question.trim()) return;
    busy = true;
    send.disabled = true;
    const turn = tpl.content.firstElementChild.cloneNode(true);
    turn.querySelector(".q").textContent = question;
    const a = turn.querySelector(".a");
    const textEl = a.querySelector(".text");
    log.append(turn);
    turn.scrollIntoView({ block: "end" });
    let text = "";
    try {
      const r = await fetch("/api/chat", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
        body: JSON.stringify({ message: question, session_id: session || null, stream: true }),
      });
      if (!r.ok) {
        const body = await r.json().catch(() => ({}));
        throw new Error(body.error?.message || `HTTP ${r.status}`);
      }
      const reader = r.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer = parseSse(buffer + decoder.decode(value, { stream: true }), (event, data) => {
          if (event === "token") {
            text += JSON.parse(data);
            textEl.textContent = text;
          } else if (event === "replace") {
            text = JSON.parse(data);
            textEl.textContent = text;
          } else if (event === "done") {
            const result = JSON.parse(data);
            session = result.session_id;
            sessionStorage.setItem(KEY, session);
            renderAnswer(textEl, result.answer, result.citations);
            a.classList.add("done");
            a.dataset.outcome = result.outcome;
            if (result.outcome !== "answered") a.classList.add("declined");
            const list = turn.querySelector(".citations");
            for (const c of result.citations) {
              const li = document.createElement("li");
              li.value = c.n;
              const b = document.createElement("button");
              b.type = "button";
              b.textContent = label(c);
              b.addEventListener("click", () => openPassage(c));
              li.append(b);
              list.append(li);
            }
            wireFeedback(turn, result);
          } else if (event === "error") {
            throw new Error(JSON.parse(data).message);
          }
        });
      }
    } catch (e) {
      textEl.textContent = `Sorry, something went wrong: ${e.message}`;
      a.classList.add("done", "declined");
    } finally {
      busy = false;
      send.disabled = false;
      turn.scrollIntoView({ block: "end" });
      box.focus();
    }
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const q = box.value;
    box.value = "";
    ask(q);
  });
  box.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
  document.addEventListener("keydown", (e) => {
    if (e.altKey && (e.key === "n" || e.key === "N")) {
      e.preventDefault();
      newSession();
    }
  });
  document.getElementById("new-session").addEventListener("click", newSession);
  document.querySelectorAll(".example").forEach((b) => b.addEventListener("click", () => ask(b.textContent)));
  box.focus();
})();
