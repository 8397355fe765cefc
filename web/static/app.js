// Magic Session Manager dashboard: the little behaviour the pages need.
// No inline script anywhere (the CSP forbids it); everything hangs off
// data- attributes.
(function () {
  "use strict";

  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  // htmx sends the CSRF token on every request it makes.
  document.addEventListener("htmx:configRequest", function (e) {
    if (csrf) e.detail.headers["X-CSRF-Token"] = csrf;
  });

  // Confirm destructive actions (a form's or the clicked button's data-confirm).
  document.addEventListener("submit", function (e) {
    var form = e.target;
    var btn = e.submitter;
    var msg = (btn && btn.dataset && btn.dataset.confirm) || (form.dataset && form.dataset.confirm);
    if (btn && btn.getAttribute("formaction") && !(btn.dataset && btn.dataset.confirm)) msg = null;
    if (msg && !window.confirm(msg)) e.preventDefault();
  }, true);

  // ---- Relative times ("12s ago"), ticking in place.
  function rel(t) {
    var d = (Date.now() - t) / 1000, future = d < 0, s;
    if (future) d = -d;
    if (d < 10) return "just now";
    if (d < 60) s = Math.floor(d) + "s";
    else if (d < 3600) s = Math.floor(d / 60) + "m";
    else if (d < 172800) s = Math.floor(d / 3600) + "h";
    else s = Math.floor(d / 86400) + "d";
    return future ? "in " + s : s + " ago";
  }
  function tick() {
    document.querySelectorAll("time[data-rel]").forEach(function (el) {
      var t = Date.parse(el.getAttribute("datetime"));
      if (!isNaN(t)) el.textContent = rel(t);
    });
  }
  setInterval(tick, 5000);

  // ---- Selection for bulk terminate.
  function syncBulk() {
    var boxes = document.querySelectorAll('input[name="id"][form="bulk"]');
    var n = 0;
    boxes.forEach(function (b) { if (b.checked) n++; });
    var btn = document.querySelector("[data-bulk-button]");
    if (btn) {
      btn.disabled = n === 0;
      btn.textContent = n ? "Terminate " + n + " selected" : "Terminate selected";
    }
    var all = document.querySelector("[data-select-all]");
    if (all) {
      all.checked = n > 0 && n === boxes.length;
      all.indeterminate = n > 0 && n < boxes.length;
    }
  }
  document.addEventListener("change", function (e) {
    var t = e.target;
    if (t.matches && t.matches("[data-select-all]")) {
      document.querySelectorAll('input[name="id"][form="bulk"]').forEach(function (b) { b.checked = t.checked; });
    }
    if (t.matches && (t.matches("[data-select-all]") || t.matches('input[name="id"][form="bulk"]'))) syncBulk();
    if (t.closest && t.closest(".picker")) { countPicker(t.closest(".picker")); syncPicked(t.closest(".picker")); }
  });

  // ---- Live regions: [data-live] re-fetches itself on a change event from
  // the server (debounced) and every 10 s as a fallback.
  var pending = null, busy = false;
  // A filter the admin runs wins over a live refresh already in flight:
  // each filter request starts a new generation, and a background answer
  // of an older one is not swapped in (it would show the unfiltered list).
  var generation = 0;
  document.addEventListener("htmx:beforeRequest", function (e) {
    if (!(e.detail.requestConfig && e.detail.requestConfig.headers["X-SM-Background"])) generation++;
  });
  document.addEventListener("htmx:beforeSwap", function (e) {
    var h = e.detail.requestConfig && e.detail.requestConfig.headers;
    if (h && h["X-SM-Background"] && Number(h["X-SM-Generation"]) !== generation) e.detail.shouldSwap = false;
  });
  function refreshLive() {
    pending = null;
    if (busy || document.hidden || !window.htmx) return;
    var regions = document.querySelectorAll("[data-live]");
    if (!regions.length) return;
    busy = true;
    var jobs = [];
    regions.forEach(function (el) {
      if (!el.id) return;
      var checked = [];
      el.querySelectorAll('input[name="id"]:checked').forEach(function (b) { checked.push(b.value); });
      document.querySelectorAll('input[name="id"][form="bulk"]:checked').forEach(function (b) { if (checked.indexOf(b.value) < 0) checked.push(b.value); });
      // Marked as background: an automatic refresh is not the admin's
      // activity and must not keep the sign-in from going idle.
      var opts = { target: "#" + el.id, swap: "outerHTML", headers: { "X-SM-Background": "1", "X-SM-Generation": String(generation) } };
      if (el.dataset.liveSelect) opts.select = el.dataset.liveSelect;
      jobs.push(htmx.ajax("GET", el.dataset.live, opts).then(function () {
        checked.forEach(function (id) {
          var b = document.querySelector('input[name="id"][value="' + CSS.escape(id) + '"]');
          if (b) b.checked = true;
        });
        syncBulk();
      }));
    });
    Promise.all(jobs).catch(function () {}).then(function () { busy = false; });
  }
  function scheduleRefresh(delay) {
    if (pending) return;
    pending = setTimeout(refreshLive, delay);
  }
  setInterval(function () { scheduleRefresh(0); }, 10000);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) scheduleRefresh(0); });

  var state = document.getElementById("live-state");
  function setState(s, text) {
    if (!state) return;
    state.dataset.state = s;
    state.querySelector(".live-text").textContent = text;
  }

  // ---- Honest state: when the live stream is down AND the server does
  // not answer the poll, a banner says so and how old the page's data is.
  var streamOpen = false, lastGood = Date.now(), probing = false;
  var offline = document.getElementById("offline-banner");
  function showConnection(down) {
    if (!offline) return;
    if (down) {
      var t = new Date(lastGood), el = offline.querySelector("time");
      el.setAttribute("datetime", t.toISOString());
      el.textContent = t.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      el.title = utcText(t);
      setState("down", "Disconnected");
    } else if (!streamOpen) {
      setState("off", "Polling every 10 s");
    }
    offline.hidden = !down;
    document.documentElement.classList.toggle("is-offline", down);
  }
  // probe asks the server for this page's headers (a background request):
  // any answer means it is reachable, a network error that it is not.
  function probe() {
    if (streamOpen || probing || !window.fetch) return;
    probing = true;
    fetch(location.pathname, { method: "HEAD", cache: "no-store", credentials: "same-origin", headers: { "X-SM-Background": "1" } })
      .then(function () { lastGood = Date.now(); showConnection(false); }, function () { showConnection(true); })
      .then(function () { probing = false; });
  }
  setInterval(probe, 10000);
  if (state && window.EventSource) {
    var es = new EventSource("/admin/events");
    es.onopen = function () { streamOpen = true; lastGood = Date.now(); setState("on", "Live"); showConnection(false); };
    es.onerror = function () {
      if (streamOpen) lastGood = Date.now();
      streamOpen = false;
      setState("off", "Polling every 10 s");
      probe();
    };
    es.addEventListener("change", function () { lastGood = Date.now(); scheduleRefresh(250); });
  } else {
    setState("off", "Polling every 10 s");
  }

  // ---- Times: <time data-local> in the browser's zone, UTC on hover;
  // relative times get both on hover.
  function utcText(t) { return t.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC"); }
  function localTimes() {
    document.querySelectorAll("time[datetime]").forEach(function (el) {
      if (el.closest("#offline-banner")) return;
      var t = new Date(el.getAttribute("datetime"));
      if (isNaN(t.getTime())) return;
      var local = t.toLocaleString([], { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" });
      if (el.hasAttribute("data-local")) {
        el.textContent = local;
        el.title = utcText(t);
      } else if (el.hasAttribute("data-rel")) {
        el.title = local + " (" + utcText(t) + ")";
      }
    });
  }
  localTimes();

  // ---- Country picker: filter and count.
  function countPicker(p) {
    var n = p.querySelectorAll('input[type="checkbox"]:checked').length;
    var out = p.querySelector("[data-picker-count]");
    if (out) out.textContent = n ? "· " + n + " selected" : "· none";
  }
  document.querySelectorAll(".picker").forEach(countPicker);
  document.addEventListener("input", function (e) {
    var t = e.target;
    if (!t.dataset || !t.dataset.filterList) return;
    var q = t.value.trim().toLowerCase();
    var list = document.querySelector(t.dataset.filterList);
    if (!list) return;
    // data-names holds the name, the code and the common names (UK,
    // USA, Holland...): the core's alias table, rendered by the server.
    list.querySelectorAll(".picker-item").forEach(function (item) {
      var names = (item.dataset.names || item.textContent).toLowerCase();
      item.hidden = q !== "" && names.indexOf(q) < 0;
    });
  });

  // ---- Chosen countries as removable chips above the list.
  function syncPicked(p) {
    var box = p.querySelector("[data-picked]");
    if (!box) return;
    var have = {};
    box.querySelectorAll("[data-code]").forEach(function (li) { have[li.dataset.code] = li; });
    p.querySelectorAll('.picker-item input[type="checkbox"]').forEach(function (cb) {
      var li = have[cb.value];
      if (cb.checked && !li) {
        var item = cb.closest(".picker-item");
        var name = item.querySelector(".ellipsis").textContent;
        li = document.createElement("li");
        li.className = "picked-chip";
        li.dataset.code = cb.value;
        var img = item.querySelector("img.flag");
        if (img) li.appendChild(img.cloneNode());
        var span = document.createElement("span");
        span.textContent = name;
        li.appendChild(span);
        var x = document.createElement("button");
        x.type = "button";
        x.className = "chip-x";
        x.dataset.unpick = cb.value;
        x.setAttribute("aria-label", "Remove " + name);
        x.textContent = "×";
        li.appendChild(x);
        box.appendChild(li);
      } else if (!cb.checked && li) {
        li.remove();
      }
    });
  }
  document.addEventListener("click", function (e) {
    var x = e.target.closest ? e.target.closest("[data-unpick]") : null;
    if (!x) return;
    var p = x.closest(".picker");
    var cb = p && p.querySelector('.picker-item input[value="' + CSS.escape(x.dataset.unpick) + '"]');
    if (!cb || cb.disabled) return;
    cb.checked = false;
    countPicker(p);
    syncPicked(p);
    var f = p.querySelector(".picker-filter");
    if (f) f.focus();
  });

  // ---- Phone: the nav scrolls sideways; bring the current page into it.
  var current = document.querySelector(".nav .nav-link.active");
  if (current && current.parentElement.scrollWidth > current.parentElement.clientWidth) {
    current.parentElement.scrollLeft = current.offsetLeft - 12;
  }

  // ---- Encryption key generator: 32 random bytes, base64, never sent.
  document.addEventListener("click", function (e) {
    var t = e.target.closest ? e.target.closest("[data-genkey],[data-copy]") : null;
    if (!t) return;
    if (t.dataset.genkey) {
      var bytes = new Uint8Array(32);
      crypto.getRandomValues(bytes);
      var bin = "";
      bytes.forEach(function (b) { bin += String.fromCharCode(b); });
      var out = document.querySelector(t.dataset.genkey);
      out.value = btoa(bin);
      out.select();
    } else if (t.dataset.copy) {
      var src = document.querySelector(t.dataset.copy);
      if (src && src.value && navigator.clipboard) {
        navigator.clipboard.writeText(src.value).then(function () {
          t.textContent = "Copied";
          setTimeout(function () { t.textContent = "Copy"; }, 1500);
        });
      }
    }
  });

  document.addEventListener("htmx:afterSwap", function () { tick(); localTimes(); syncBulk(); });
  document.addEventListener("DOMContentLoaded", syncBulk);
  syncBulk();
})();
