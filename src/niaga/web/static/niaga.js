// niaga page helpers (no inline scripts: the CSP forbids them).
// - Inputs with class "copy" select their text on focus, for copying links.
// - Forms with data-confirm ask before submitting.
document.addEventListener("focusin", (event) => {
  if (event.target.matches("input.copy")) event.target.select();
});
document.addEventListener("submit", (event) => {
  const message = event.target.getAttribute("data-confirm");
  if (message && !window.confirm(message)) event.preventDefault();
});
