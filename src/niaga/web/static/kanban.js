// Drag and drop on the deal board. Without this file every card still has its own form (a stage select
// and a Move button); dropping a card only fills that select and submits the same form, so the server,
// the CSRF token and the messages are exactly those of the no-JavaScript path.
"use strict";
(() => {
  const board = document.querySelector("[data-testid='kanban']");
  if (!board) return;
  let dragged = null;

  const columnOf = (node) => node && node.closest(".kanban-col");

  board.addEventListener("dragstart", (event) => {
    const card = event.target.closest(".kanban-card[draggable='true']");
    if (!card) return;
    dragged = card;
    card.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.getAttribute("data-deal"));
  });

  board.addEventListener("dragend", () => {
    if (dragged) dragged.classList.remove("dragging");
    board.querySelectorAll(".drop-target").forEach((col) => col.classList.remove("drop-target"));
    dragged = null;
  });

  board.addEventListener("dragover", (event) => {
    const column = columnOf(event.target);
    if (!dragged || !column) return;
    const select = dragged.querySelector("select[name='stage_id']");
    const stage = column.getAttribute("data-stage");
    // Only stages the card's own form offers can be dropped on (a lost stage asks for a reason on the deal page).
    if (!select || !select.querySelector(`option[value='${stage}']`)) return;
    event.preventDefault();
    board.querySelectorAll(".drop-target").forEach((col) => { if (col !== column) col.classList.remove("drop-target"); });
    column.classList.add("drop-target");
  });

  board.addEventListener("drop", (event) => {
    const column = columnOf(event.target);
    if (!dragged || !column) return;
    event.preventDefault();
    const form = dragged.querySelector("form.move-form");
    const select = form && form.querySelector("select[name='stage_id']");
    const stage = column.getAttribute("data-stage");
    if (!select || select.value === stage) return;
    select.value = stage;
    form.submit();
  });
})();
