/* Keyboard work through the inbox: j or ↓ next row, k or ↑ previous, Enter opens the focused
   conversation, x selects it for a bulk action. Rows are focusable (tabindex -1) so the focus
   ring shows where one is and screen readers read the row. */
(function () {
  "use strict";

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-live-inbox] tr[data-conversation-id]"));
  }

  function typing(target) {
    if (!target || !target.tagName) return false;
    var tag = target.tagName.toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  function currentRow() {
    var active = document.activeElement;
    return active && active.closest ? active.closest("tr[data-conversation-id]") : null;
  }

  function move(step) {
    var all = rows();
    if (!all.length) return;
    var index = all.indexOf(currentRow());
    var next = index < 0 ? (step > 0 ? 0 : all.length - 1) : Math.min(all.length - 1, Math.max(0, index + step));
    all[next].focus();
  }

  function syncSelected(box) {
    var row = box.closest("tr");
    if (row) row.classList.toggle("is-selected", box.checked);
  }

  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("[data-live-inbox] input[type=checkbox]")) {
      syncSelected(event.target);
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    if (!document.querySelector("[data-live-inbox]")) return;
    var row = currentRow();
    if (event.key === "j" || event.key === "ArrowDown") {
      if (event.key === "ArrowDown" && !row) return; // arrows scroll the page until a row has focus
      event.preventDefault();
      move(1);
    } else if (event.key === "k" || event.key === "ArrowUp") {
      if (event.key === "ArrowUp" && !row) return;
      event.preventDefault();
      move(-1);
    } else if (event.key === "Enter" && row && event.target === row) {
      var link = row.querySelector(".reference a");
      if (link) {
        event.preventDefault();
        link.click();
      }
    } else if (event.key === "x" && row) {
      var box = row.querySelector("input[type=checkbox]");
      if (box) {
        event.preventDefault();
        box.checked = !box.checked;
        syncSelected(box);
      }
    }
  });
})();
