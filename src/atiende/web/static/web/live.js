/* Live updates over the workspace's WebSocket (/ws/live/, see web/consumers.py).

   - Inbox (<tbody data-live-inbox>): a conversation that changed is asked for again as one row
     (data-row-url, with the page's own query): 200 replaces or prepends its row, 204 removes it.
   - Conversation page (<section data-live-conversation="<id>">): watches the conversation, shows
     who else is viewing or typing in [data-presence], appends new timeline entries fetched from
     the element's data-timeline-url (?after=<newest message id>), and says "typing" while the
     agent writes in textarea[name=body] (at most once every 3 s).
   - Notices to this person (a mention in a note) appear as a small toast with a link.
   - A status line appears while the connection is down; reconnection backs off up to 30 s.
   Texts come translated from data- attributes of this script's tag. The pages work without it. */
(function () {
  "use strict";

  if (typeof WebSocket === "undefined" || typeof fetch === "undefined") return;
  var script = document.currentScript || document.querySelector("script[data-live-texts]");

  var SIGNED_OUT = 4401;
  var MAX_DELAY = 30000;
  var OFFLINE_GRACE = 3000; // a page change or a quick reconnect shows no banner
  var HEARTBEAT = 30000; // must match the consumer's docstring: "viewing" again every 30 s
  var WATCHER_TTL = 75000; // a watcher not heard from in this long has gone
  var TYPING_SHOWN = 6000;
  var TYPING_SENT_EVERY = 3000;
  var HIGHLIGHT = 2500;
  var MAX_TOASTS = 3;

  function text(name, fallback) {
    return (script && script.getAttribute("data-" + name)) || fallback;
  }

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (whole, key) {
      return Object.prototype.hasOwnProperty.call(values, key) ? values[key] : whole;
    });
  }

  var stylesheet = script && script.getAttribute("data-stylesheet");
  if (stylesheet) {
    var link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = stylesheet;
    document.head.appendChild(link);
  }

  // --- What this page shows ---------------------------------------------------------------------
  var inbox = document.querySelector("[data-live-inbox]");
  var section = document.querySelector("[data-live-conversation]");
  var watchedId = section ? parseInt(section.getAttribute("data-live-conversation"), 10) || null : null;
  var timelineHolder = section
    ? (section.hasAttribute("data-timeline-url") ? section : section.querySelector("[data-timeline-url]"))
    : null;
  var presenceBox = document.querySelector("[data-presence]");

  // --- Status line, announcements and toasts ----------------------------------------------------
  var statusLine = document.createElement("div");
  statusLine.className = "live-status";
  statusLine.setAttribute("role", "status");
  statusLine.hidden = true;
  var announcer = document.createElement("div");
  announcer.className = "visually-hidden";
  announcer.setAttribute("aria-live", "polite");
  var toasts = document.createElement("div");
  toasts.className = "live-toasts";
  document.body.appendChild(statusLine);
  document.body.appendChild(announcer);
  document.body.appendChild(toasts);

  function announce(message) {
    announcer.textContent = "";
    // A change of text is what screen readers notice; a fresh node each time is reliable.
    window.setTimeout(function () { announcer.textContent = message; }, 50);
  }

  function showStatus(message, signedOut) {
    statusLine.textContent = message;
    statusLine.classList.toggle("live-status--signed-out", Boolean(signedOut));
    statusLine.hidden = false;
  }

  function safePath(url) {
    return typeof url === "string" && url.charAt(0) === "/" && url.charAt(1) !== "/" && url.charAt(1) !== "\\";
  }

  function showToast(data) {
    var toast = document.createElement("div");
    toast.className = "live-toast";
    toast.setAttribute("role", "status");
    var words = document.createElement("p");
    words.textContent = fill(text("mentioned", "{by} mentioned you in {reference}."), {
      by: String(data.by || ""),
      reference: String(data.reference || "")
    });
    toast.appendChild(words);
    if (safePath(data.url)) {
      var open = document.createElement("a");
      open.href = data.url;
      open.textContent = text("open", "Open");
      toast.appendChild(open);
    }
    var close = document.createElement("button");
    close.type = "button";
    close.className = "live-toast-close";
    close.setAttribute("aria-label", text("dismiss", "Dismiss"));
    close.textContent = "×";
    close.addEventListener("click", function () { toast.remove(); });
    toast.appendChild(close);
    toasts.appendChild(toast);
    while (toasts.children.length > MAX_TOASTS) toasts.firstElementChild.remove();
  }

  function parse(html) {
    var template = document.createElement("template");
    template.innerHTML = html;
    return template.content;
  }

  function highlight(element) {
    element.classList.add("live-updated");
    window.setTimeout(function () { element.classList.remove("live-updated"); }, HIGHLIGHT);
  }

  // --- Inbox rows -------------------------------------------------------------------------------
  var rowsInFlight = {};

  function inboxQuery() {
    if (inbox.hasAttribute("data-inbox-query")) return inbox.getAttribute("data-inbox-query");
    return window.location.search.replace(/^\?/, "");
  }

  function rowUrl(id) {
    var pattern = inbox.getAttribute("data-row-url");
    var base = pattern ? pattern.replace(/\/0\/$/, "/" + id + "/") : "/inbox/row/" + id + "/";
    var query = inboxQuery();
    return base + (query ? "?" + query : "");
  }

  // A view whose page had no rows keeps a hidden table: rows arriving show it and hide the
  // empty state, and the last row leaving does the opposite.
  function showRowsOrEmptyState() {
    var region = inbox.closest("[data-inbox-rows]");
    var empty = document.querySelector("[data-inbox-empty]");
    var hasRows = Boolean(inbox.querySelector("tr[data-conversation-id]"));
    // Only a page drawn empty has an empty state to show instead of the table.
    if (!empty) return;
    if (region) region.hidden = !hasRows;
    empty.hidden = hasRows;
  }

  function existingRow(id) {
    return inbox.querySelector('tr[data-conversation-id="' + id + '"]');
  }

  function placeRow(id, html) {
    var row = parse(html).querySelector("tr[data-conversation-id]");
    if (!row) return;
    var old = existingRow(id);
    if (old) {
      // Keep what the agent was doing with the row: its bulk selection and the focus.
      var oldBox = old.querySelector("input[type=checkbox]");
      var newBox = row.querySelector("input[type=checkbox]");
      if (oldBox && newBox) newBox.checked = oldBox.checked;
      var hadFocus = old.contains(document.activeElement);
      old.replaceWith(row);
      if (hadFocus) row.focus({ preventScroll: true });
    } else {
      inbox.insertBefore(row, inbox.firstElementChild);
    }
    showRowsOrEmptyState();
    if (window.htmx) window.htmx.process(row);
    highlight(row);
    var reference = row.querySelector(".reference a, th");
    var template = old ? text("row-changed", "{reference} was updated.") : text("row-new", "New in this list: {reference}.");
    announce(fill(template, { reference: reference ? reference.textContent.trim() : "" }));
  }

  function refreshRow(id) {
    if (rowsInFlight[id]) {
      rowsInFlight[id] = "again";
      return;
    }
    rowsInFlight[id] = true;
    fetch(rowUrl(id), { credentials: "same-origin" })
      .then(function (response) {
        if (response.status === 204) {
          var gone = existingRow(id);
          if (gone) {
            gone.remove();
            showRowsOrEmptyState();
          }
          return null;
        }
        return response.status === 200 ? response.text() : null;
      })
      .then(function (html) { if (html) placeRow(id, html); })
      .catch(function () { /* the next change or a reload shows it */ })
      .then(function () {
        var again = rowsInFlight[id] === "again";
        delete rowsInFlight[id];
        if (again) refreshRow(id);
      });
  }

  // After a gap in the connection, changes may have been missed: take the page's rows afresh.
  function resyncInbox() {
    fetch(window.location.href, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) return;
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("[data-live-inbox]");
        if (!fresh) return;
        var checked = {};
        inbox.querySelectorAll("tr[data-conversation-id]").forEach(function (row) {
          var box = row.querySelector("input[type=checkbox]");
          checked[row.getAttribute("data-conversation-id")] = Boolean(box && box.checked);
        });
        var rows = Array.prototype.slice.call(fresh.querySelectorAll("tr[data-conversation-id]"));
        rows.forEach(function (row) {
          var box = row.querySelector("input[type=checkbox]");
          if (box) box.checked = Boolean(checked[row.getAttribute("data-conversation-id")]);
        });
        inbox.replaceChildren.apply(inbox, rows.map(function (row) { return document.adoptNode(row); }));
        showRowsOrEmptyState();
        if (window.htmx) window.htmx.process(inbox);
      })
      .catch(function () {});
  }

  // --- Conversation timeline --------------------------------------------------------------------
  var timelineBusy = false;
  var timelineAgain = false;

  function newestMessageId() {
    var newest = 0;
    section.querySelectorAll("[data-message-id]").forEach(function (item) {
      newest = Math.max(newest, parseInt(item.getAttribute("data-message-id"), 10) || 0);
    });
    return newest;
  }

  function appendTimeline() {
    if (!timelineHolder) return;
    if (timelineBusy) {
      timelineAgain = true;
      return;
    }
    timelineBusy = true;
    var url = timelineHolder.getAttribute("data-timeline-url");
    url += (url.indexOf("?") === -1 ? "?" : "&") + "after=" + newestMessageId();
    var container = timelineHolder === section ? section.querySelector("ol, ul") || section : timelineHolder;
    fetch(url, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) return;
        var added = 0;
        Array.prototype.slice.call(parse(html).children).forEach(function (entry) {
          if (entry.id && document.getElementById(entry.id)) return; // already shown
          container.appendChild(entry);
          if (window.htmx) window.htmx.process(entry);
          highlight(entry);
          added += 1;
        });
        if (added) announce(text("timeline-new", "New activity in this conversation."));
      })
      .catch(function () {})
      .then(function () {
        timelineBusy = false;
        if (timelineAgain) {
          timelineAgain = false;
          appendTimeline();
        }
      });
  }

  // --- Presence ---------------------------------------------------------------------------------
  var watchers = {}; // watcher id -> {user, typingUntil, seen}

  function renderPresence() {
    if (!presenceBox) return;
    var now = Date.now();
    var viewing = [];
    var typing = [];
    Object.keys(watchers).forEach(function (key) {
      var watcher = watchers[key];
      if (now - watcher.seen > WATCHER_TTL) {
        delete watchers[key];
        return;
      }
      var list = watcher.typingUntil > now ? typing : viewing;
      if (typing.indexOf(watcher.user) === -1 && list.indexOf(watcher.user) === -1) list.push(watcher.user);
    });
    viewing = viewing.filter(function (name) { return typing.indexOf(name) === -1; });
    var parts = [];
    if (typing.length) parts.push(fill(text("typing", "Typing: {names}"), { names: typing.join(", ") }));
    if (viewing.length) parts.push(fill(text("viewing", "Also viewing: {names}"), { names: viewing.join(", ") }));
    var sentence = parts.join(" · ");
    // Only a real change is written: the region is aria-live.
    if (presenceBox.textContent !== sentence) presenceBox.textContent = sentence;
  }

  function onPresence(message) {
    if (message.conversation !== watchedId) return;
    if (message.state === "left") {
      delete watchers[message.watcher];
    } else {
      var watcher = watchers[message.watcher] || { typingUntil: 0 };
      watcher.user = message.user;
      watcher.seen = Date.now();
      if (message.state === "typing") watcher.typingUntil = Date.now() + TYPING_SHOWN;
      watchers[message.watcher] = watcher;
      if (message.state === "typing") {
        window.setTimeout(renderPresence, TYPING_SHOWN + 100);
      }
    }
    renderPresence();
  }

  // --- The connection ---------------------------------------------------------------------------
  var socket = null;
  var attempts = 0;
  var everReady = false;
  var ready = false;
  var stopped = false;
  var retryTimer = null;
  var offlineTimer = null;
  var lastTypingSent = 0;

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  }

  function onEvent(kind, data) {
    if (kind === "note.mentioned") {
      showToast(data || {});
      return;
    }
    var id = data && data.conversation;
    if (typeof id !== "number") return;
    // A delivery report changes nothing a row or the timeline's order shows.
    if (kind === "message.delivery_updated") return;
    if (inbox) refreshRow(id);
    if (watchedId === id) appendTimeline();
  }

  function onMessage(event) {
    var message;
    try {
      message = JSON.parse(event.data);
    } catch (error) {
      return;
    }
    if (message.kind === "ready") {
      attempts = 0;
      ready = true;
      window.clearTimeout(offlineTimer);
      offlineTimer = null;
      statusLine.hidden = true;
      if (watchedId) send({ type: "watch", conversation: watchedId });
      if (everReady) {
        if (inbox) resyncInbox();
        if (watchedId) appendTimeline();
      }
      everReady = true;
    } else if (message.kind === "presence") {
      onPresence(message);
    } else if (message.kind !== "error") {
      onEvent(message.kind, message.data);
    }
  }

  function onClose(event) {
    socket = null;
    ready = false;
    watchers = {};
    renderPresence();
    if (event.code === SIGNED_OUT) {
      stopped = true;
      window.clearTimeout(offlineTimer);
      offlineTimer = null;
      showStatus(text("signed-out", "Live updates stopped: sign in again."), true);
      return;
    }
    if (!offlineTimer && statusLine.hidden) {
      offlineTimer = window.setTimeout(function () {
        offlineTimer = null;
        if (!ready) showStatus(text("offline", "Offline: reconnecting…"));
      }, OFFLINE_GRACE);
    }
    // 1 s, 2 s, 4 s … up to 30 s, with jitter so that a restarted server is not hit at once.
    var delay = Math.min(MAX_DELAY, 1000 * Math.pow(2, attempts)) * (0.5 + Math.random() / 2);
    attempts += 1;
    retryTimer = window.setTimeout(connect, delay);
  }

  function connect() {
    if (stopped || socket) return;
    window.clearTimeout(retryTimer);
    var scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    try {
      socket = new WebSocket(scheme + "//" + window.location.host + "/ws/live/");
    } catch (error) {
      socket = null;
      onClose({ code: 0 });
      return;
    }
    socket.addEventListener("message", onMessage);
    socket.addEventListener("close", onClose);
  }

  // Back online or back to the tab: try now rather than at the end of the back-off.
  function reconnectNow() {
    if (!socket && !stopped) {
      attempts = 0;
      connect();
    }
  }
  window.addEventListener("online", reconnectNow);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") reconnectNow();
  });

  if (watchedId) {
    window.setInterval(function () {
      send({ type: "watch", conversation: watchedId });
      renderPresence();
    }, HEARTBEAT);
    var composer = document.querySelector("textarea[name=body]");
    if (composer) {
      composer.addEventListener("input", function () {
        var now = Date.now();
        if (now - lastTypingSent < TYPING_SENT_EVERY) return;
        lastTypingSent = now;
        send({ type: "typing", conversation: watchedId });
      });
    }
  }

  connect();
})();
