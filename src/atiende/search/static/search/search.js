// Keyboard: "/" returns to the search box; arrow keys move between results.
document.addEventListener("keydown", (event) => {
  const box = document.getElementById("search-q");
  if (!box) return;
  const typing = ["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement?.tagName);
  if (event.key === "/" && !typing) {
    event.preventDefault();
    box.focus();
    box.select();
    return;
  }
  if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
  const links = [...document.querySelectorAll(".search-hit-link")];
  if (!links.length || (typing && document.activeElement !== box)) return;
  const at = links.indexOf(document.activeElement);
  const next = event.key === "ArrowDown" ? at + 1 : at - 1;
  if (next < 0) {
    if (at === 0) { event.preventDefault(); box.focus(); }
    return;
  }
  if (next < links.length) {
    event.preventDefault();
    links[next].focus();
  }
});
