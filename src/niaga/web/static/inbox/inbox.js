// Agent inbox: live refresh of the list and the open thread, and the /shortcut picker for saved replies.
// The page works without this file: forms post and redirect, and a reload shows new messages.
"use strict";
(() => {
  const POLL_MS = 4000;
  const live = document.getElementById("ib-live");

  // -- live updates: poll a small JSON endpoint; swap the parts whose digest changed ---------------------
  if (live) {
    let listStamp = live.dataset.listStamp || "";
    let threadStamp = live.dataset.threadStamp || "";
    let busy = false;
    // Server-rendered, escaped partials: parsed, then their nodes moved in (no markup strings assigned).
    const swap = (target, html) => {
      const parsed = new DOMParser().parseFromString(html, "text/html");
      target.replaceChildren(...Array.from(parsed.body.childNodes));
    };
    const thread = document.getElementById("ib-thread");
    const scrollToEnd = () => {
      const box = thread && thread.querySelector(".ib-thread");
      if (box) box.scrollTop = box.scrollHeight;
    };
    scrollToEnd();
    const poll = async () => {
      if (busy || document.hidden) return;
      busy = true;
      try {
        const url = new URL(live.dataset.liveUrl, window.location.origin);
        url.searchParams.set("list_stamp", listStamp);
        if (threadStamp) url.searchParams.set("thread_stamp", threadStamp);
        const answer = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
        if (!answer.ok) return;
        const data = await answer.json();
        if (data.list_html !== undefined) {
          swap(document.getElementById("ib-list"), data.list_html);
        }
        listStamp = data.list_stamp || listStamp;
        if (data.thread_html !== undefined && thread) {
          swap(thread, data.thread_html);
          scrollToEnd();
        }
        if (data.thread_stamp) threadStamp = data.thread_stamp;
      } catch (_error) {
        // offline for a moment: try again on the next tick
      } finally {
        busy = false;
      }
    };
    window.setInterval(poll, POLL_MS);
    document.addEventListener("visibilitychange", () => { if (!document.hidden) poll(); });
  }

  // -- the /shortcut picker -----------------------------------------------------------------------------
  const body = document.getElementById("ib-body");
  const picker = document.getElementById("ib-canned");
  if (!body || !picker) return;
  const options = Array.from(picker.querySelectorAll("li[data-shortcut]"));
  let active = -1;
  const wordAtCursor = () => {
    const before = body.value.slice(0, body.selectionStart);
    const match = before.match(/(^|\s)\/([a-z0-9_-]*)$/i);
    return match ? { start: before.length - match[2].length - 1, word: match[2].toLowerCase() } : null;
  };
  const shown = () => options.filter((o) => !o.hidden);
  const highlight = (index) => {
    const visible = shown();
    active = visible.length ? (index + visible.length) % visible.length : -1;
    visible.forEach((o, i) => o.setAttribute("aria-selected", i === active ? "true" : "false"));
  };
  const close = () => { picker.hidden = true; active = -1; };
  const choose = (option) => {
    const at = wordAtCursor();
    if (!at) return close();
    const end = body.selectionStart;
    body.value = body.value.slice(0, at.start) + option.dataset.body + body.value.slice(end);
    const caret = at.start + option.dataset.body.length;
    body.setSelectionRange(caret, caret);
    close();
    body.focus();
  };
  body.addEventListener("input", () => {
    const at = wordAtCursor();
    if (!at || !options.length) return close();
    options.forEach((o) => { o.hidden = !o.dataset.shortcut.startsWith(at.word); });
    if (!shown().length) return close();
    picker.hidden = false;
    highlight(0);
  });
  body.addEventListener("keydown", (event) => {
    if (picker.hidden) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      highlight(active + (event.key === "ArrowDown" ? 1 : -1));
    } else if (event.key === "Enter" || event.key === "Tab") {
      const option = shown()[active];
      if (option) { event.preventDefault(); choose(option); }
    } else if (event.key === "Escape") {
      close();
    }
  });
  picker.addEventListener("mousedown", (event) => {
    const option = event.target.closest("li[data-shortcut]");
    if (option) { event.preventDefault(); choose(option); }
  });
})();
