/* Keyboard shortcut on every signed-in page: "/" puts the cursor in the top bar's search box
   (unless one is already typing in a field). */
(function () {
  "use strict";
  function typing(target) {
    if (!target || !target.tagName) return false;
    var tag = target.tagName.toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }
  document.addEventListener("keydown", function (event) {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target)) return;
    var box = document.getElementById("topbar-search-input");
    if (!box) return;
    event.preventDefault();
    box.focus();
    box.select();
  });
})();
