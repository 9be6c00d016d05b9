/* The conversation page: composer modes and keys, the @mention picker, properties saved on
   change, and fetching new timeline entries after a change. Everything here has a plain-HTML
   fallback (forms post and the page reloads); this script only makes it quicker. */
(function () {
  "use strict";

  document.documentElement.classList.add("js-enabled");

  function composerForm() {
    return document.querySelector("[data-composer]");
  }

  function isTyping(target) {
    if (!target || !target.tagName) return false;
    var tag = target.tagName.toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  function setKind(form, kind) {
    var radio = form.querySelector('input[name="kind"][value="' + kind + '"]');
    if (radio) radio.checked = true;
    form.setAttribute("data-kind", kind);
  }

  // --- Composer: reply or note, Ctrl+Enter, "r" and "n" --------------------------------------
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.name === "kind" && target.form && target.form.hasAttribute("data-composer")) {
      target.form.setAttribute("data-kind", target.value);
    }
    if (target.hasAttribute && target.hasAttribute("data-autosubmit") && target.form) {
      // htmx takes over a swapped-in form only when the swap settles (20 ms later): changed
      // before that, the browser would post it and reload the page. Taken over now (nothing
      // happens to a form htmx already has).
      if (window.htmx && target.form.hasAttribute("hx-post")) window.htmx.process(target.form);
      target.form.requestSubmit();
    }
  });

  document.addEventListener("keydown", function (event) {
    var form = composerForm();
    if (!form) return;
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && form.contains(event.target)) {
      event.preventDefault();
      var send = form.querySelector("[data-send]");
      form.requestSubmit(send || undefined);
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || isTyping(event.target)) return;
    if (event.key === "r" || event.key === "n") {
      event.preventDefault();
      setKind(form, event.key === "r" ? "reply" : "note");
      var body = form.querySelector("[data-composer-body]");
      if (body) body.focus();
    }
  });

  // --- The newest message on screen is the one the agent has seen (collision check) ----------
  function newestMessageId() {
    var newest = 0;
    document.querySelectorAll("#timeline [data-message-id]").forEach(function (item) {
      newest = Math.max(newest, parseInt(item.getAttribute("data-message-id"), 10) || 0);
    });
    return newest;
  }

  function watchTimeline() {
    var timeline = document.querySelector("#timeline ol.timeline");
    if (!timeline || typeof MutationObserver === "undefined") return;
    new MutationObserver(function () {
      var seen = document.querySelector("[data-composer-seen]");
      if (seen) seen.value = String(Math.max(parseInt(seen.value, 10) || 0, newestMessageId()));
    }).observe(timeline, { childList: true });
  }

  // --- New entries after a change made on this page --------------------------------------------
  function appendNewEntries() {
    var section = document.getElementById("timeline");
    var timeline = document.querySelector("#timeline ol.timeline");
    if (!section || !timeline) return;
    var url = section.getAttribute("data-timeline-url") + "?after=" + newestMessageId();
    fetch(url, { credentials: "same-origin", headers: { "HX-Request": "true" } })
      .then(function (response) { return response.ok ? response.text() : ""; })
      .then(function (html) {
        if (!html) return;
        var holder = document.createElement("ol");
        holder.innerHTML = html;
        Array.prototype.slice.call(holder.children).forEach(function (item) {
          if (item.id && document.getElementById(item.id)) return;
          timeline.appendChild(item);
          if (window.htmx) window.htmx.process(item);
        });
      });
  }
  document.body.addEventListener("atiende:timeline-changed", appendNewEntries);

  // An edit someone may not make answers 403 with a sentence: show it instead of nothing.
  document.body.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    if (!xhr || !xhr.responseText || xhr.responseText.length > 500) return;
    var notice = document.createElement("p");
    notice.className = "alert alert--error";
    notice.setAttribute("role", "alert");
    notice.textContent = xhr.responseText;
    var elt = event.detail.elt;
    (elt.closest(".card") || elt).prepend(notice);
  });

  // --- @mention picker -------------------------------------------------------------------------
  var picker = { list: null, body: null, start: -1, items: [], active: -1, timer: null };

  function closePicker() {
    if (picker.list) picker.list.hidden = true;
    if (picker.body) picker.body.removeAttribute("aria-activedescendant");
    picker.items = [];
    picker.active = -1;
    picker.start = -1;
  }

  function choose(index) {
    var person = picker.items[index];
    if (!person || picker.start < 0) return;
    var body = picker.body;
    var caret = body.selectionStart;
    var before = body.value.slice(0, picker.start);
    var inserted = "@" + (person.name || person.email) + " ";
    body.value = before + inserted + body.value.slice(caret);
    var position = before.length + inserted.length;
    body.setSelectionRange(position, position);
    closePicker();
    body.focus();
  }

  function render() {
    var list = picker.list;
    list.textContent = "";
    picker.items.forEach(function (person, index) {
      var item = document.createElement("li");
      item.setAttribute("role", "option");
      item.id = "mention-option-" + person.id;
      item.setAttribute("aria-selected", index === picker.active ? "true" : "false");
      item.textContent = person.name || person.email;
      var email = document.createElement("span");
      email.className = "muted";
      email.textContent = person.email;
      item.appendChild(email);
      item.addEventListener("mousedown", function (event) {
        event.preventDefault();
        choose(index);
      });
      list.appendChild(item);
    });
    list.hidden = picker.items.length === 0;
    var active = picker.items[picker.active];
    if (active) {
      picker.body.setAttribute("aria-activedescendant", "mention-option-" + active.id);
    } else {
      picker.body.removeAttribute("aria-activedescendant");
    }
  }

  function lookUp(form, body) {
    var caret = body.selectionStart;
    var match = /(^|\s)@([^\s@]{0,40})$/.exec(body.value.slice(0, caret));
    if (!match || form.getAttribute("data-kind") !== "note") {
      closePicker();
      return;
    }
    picker.body = body;
    picker.list = form.querySelector("[data-mention-list]");
    picker.start = caret - match[2].length - 1;
    var url = form.getAttribute("data-colleagues-url") + "?q=" + encodeURIComponent(match[2]);
    fetch(url, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : { colleagues: [] }; })
      .then(function (data) {
        picker.items = data.colleagues || [];
        picker.active = picker.items.length ? 0 : -1;
        render();
      });
  }

  document.addEventListener("input", function (event) {
    var body = event.target;
    if (!body.hasAttribute || !body.hasAttribute("data-composer-body")) return;
    var form = body.form;
    clearTimeout(picker.timer);
    picker.timer = setTimeout(function () { lookUp(form, body); }, 150);
  });

  document.addEventListener("keydown", function (event) {
    if (!picker.list || picker.list.hidden || event.target !== picker.body) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      var step = event.key === "ArrowDown" ? 1 : -1;
      picker.active = (picker.active + step + picker.items.length) % picker.items.length;
      render();
    } else if (event.key === "Enter" || event.key === "Tab") {
      if (event.ctrlKey || event.metaKey) return;
      event.preventDefault();
      choose(picker.active);
    } else if (event.key === "Escape") {
      closePicker();
    }
  }, true);

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", watchTimeline);
  } else {
    watchTimeline();
  }
})();
