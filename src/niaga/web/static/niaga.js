// niaga page helpers (no inline scripts: the CSP forbids them). Every page works without this file.
// - Inputs with class "copy" select their text on focus, for copying links.
// - Buttons with data-copy="ID" copy that input's value and say so (data-copied holds the words).
// - Forms with data-confirm ask before submitting.
// - A form re-shown with messages puts the cursor in the first field to fix.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const invalid = document.querySelector('[aria-invalid="true"]');
  if (invalid) invalid.focus();
});
document.addEventListener("focusin", (event) => {
  if (event.target.matches("input.copy")) event.target.select();
});
document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const input = document.getElementById(button.getAttribute("data-copy"));
  if (!input) return;
  input.focus();
  input.select();
  let copied = false;
  try {
    await navigator.clipboard.writeText(input.value);
    copied = true;
  } catch (_error) {
    copied = document.execCommand && document.execCommand("copy");
  }
  if (copied) {
    const label = button.textContent;
    button.textContent = button.getAttribute("data-copied") || label;
    setTimeout(() => { button.textContent = label; }, 2000);
  }
});
document.addEventListener("submit", (event) => {
  const message = event.target.getAttribute("data-confirm");
  if (message && !window.confirm(message)) event.preventDefault();
});
