// riskops console: keyboard shortcuts and live SLA countdowns. No build step, no framework:
// the server renders every page; this only adds keys and ticking clocks.
(function () {
  "use strict";

  // --- SLA countdowns -----------------------------------------------------------------
  // <span class="sla" data-due="ISO" data-paused="ISO|"> ... </span>
  var SOON_MS = 15 * 60 * 1000;

  function fmt(ms) {
    var s = Math.floor(Math.abs(ms) / 1000);
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600);
    var m = Math.floor((s % 3600) / 60), sec = s % 60;
    if (d > 0) return d + "d " + h + "h";
    if (h > 0) return h + "h " + String(m).padStart(2, "0") + "m";
    return m + "m " + String(sec).padStart(2, "0") + "s";
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll(".sla[data-due]").forEach(function (el) {
      if (el.dataset.paused) {
        el.className = "sla sla-paused";
        el.textContent = "paused — waiting for customer";
        return;
      }
      var left = Date.parse(el.dataset.due) - now;
      if (isNaN(left)) return;
      if (left < 0) {
        el.className = "sla sla-breached";
        el.textContent = "BREACHED " + fmt(left) + " ago";
      } else if (left < SOON_MS) {
        el.className = "sla sla-soon";
        el.textContent = "due soon: " + fmt(left) + " left";
      } else {
        el.className = "sla sla-ok";
        el.textContent = fmt(left) + " left";
      }
      el.title = "SLA due " + new Date(Date.parse(el.dataset.due)).toISOString();
    });
  }

  // --- lists: j / k / Enter -----------------------------------------------------------
  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-nav-list] [data-href]"));
  }

  function select(delta) {
    var list = rows();
    if (!list.length) return;
    var i = list.findIndex(function (r) { return r.classList.contains("selected"); });
    if (i >= 0) list[i].classList.remove("selected");
    i = i < 0 ? (delta > 0 ? 0 : list.length - 1) : Math.max(0, Math.min(list.length - 1, i + delta));
    list[i].classList.add("selected");
    list[i].scrollIntoView({ block: "nearest" });
  }

  function openSelected() {
    var row = document.querySelector("[data-nav-list] [data-href].selected");
    if (row) window.location.href = row.dataset.href;
  }

  // --- shortcuts ----------------------------------------------------------------------
  function typing(target) {
    if (!target) return false;
    var tag = target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || target.isContentEditable;
  }

  function help(show) {
    var overlay = document.getElementById("help-overlay");
    if (!overlay) return;
    overlay.hidden = show === undefined ? !overlay.hidden : !show;
  }

  function takeNext() {
    var form = document.getElementById("take-next-form");
    if (form) form.requestSubmit();
  }

  var pendingG = false, gTimer = null;

  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "Escape") { help(false); return; }
    if (typing(e.target)) return;
    var key = e.key;
    if (pendingG) {
      pendingG = false;
      clearTimeout(gTimer);
      var go = { q: "/", m: "/my", h: "/holds", a: "/approvals", r: "/rota" }[key];
      if (go) { e.preventDefault(); window.location.href = go; }
      return;
    }
    switch (key) {
      case "g": pendingG = true; gTimer = setTimeout(function () { pendingG = false; }, 1200); break;
      case "?": e.preventDefault(); help(); break;
      case "n": e.preventDefault(); takeNext(); break;
      case "j": e.preventDefault(); select(1); break;
      case "k": e.preventDefault(); select(-1); break;
      case "Enter": openSelected(); break;
      case "/": {
        var search = document.querySelector("[data-search]");
        if (search) { e.preventDefault(); search.focus(); search.select(); }
        break;
      }
      case "c": {  // the case page's contact panel: its template list
        var template = document.getElementById("contact-template");
        if (template) { e.preventDefault(); template.focus(); template.scrollIntoView({ block: "center" }); }
        break;
      }
      case "d": {
        var decision = document.querySelector("#decision-form select, #decision-form textarea");
        if (decision) { e.preventDefault(); decision.focus(); decision.scrollIntoView({ block: "center" }); }
        break;
      }
      default: break;
    }
  });

  // The contact panel (case page): Enter on a template previews it, Ctrl+Enter sends.
  document.addEventListener("keydown", function (e) {
    var form = e.target.closest && e.target.closest("#contact-form");
    if (!form || e.key !== "Enter") return;
    var button = null;
    if (e.ctrlKey || e.metaKey) button = form.querySelector("[data-send]");
    else if (e.target.name === "template") button = form.querySelector("[data-preview]");
    if (button) { e.preventDefault(); button.click(); }
  });

  document.addEventListener("click", function (e) {
    var row = e.target.closest && e.target.closest("[data-nav-list] [data-href]");
    if (row && !e.target.closest("a, button, input, select, textarea, form")) {
      window.location.href = row.dataset.href;
    }
    if (e.target.id === "help-overlay") help(false);
    // The "?" link of the top bar (no inline onclick: the CSP allows no inline script).
    var opener = e.target.closest && e.target.closest("[data-help-open]");
    if (opener) { e.preventDefault(); help(true); }
    // "Back" on an error page (no javascript: URL, for the same reason); else the link's page.
    var back = e.target.closest && e.target.closest("[data-history-back]");
    if (back && window.history.length > 1) { e.preventDefault(); window.history.back(); }
  });

  // Filters that apply as soon as they change: <select data-autosubmit>, checkboxes.
  document.addEventListener("change", function (e) {
    var field = e.target;
    if (field && field.hasAttribute && field.hasAttribute("data-autosubmit") && field.form) {
      field.form.requestSubmit();
    }
  });

  // --- decision form: show the fields of the chosen action -----------------------------
  function syncDecisionForm(root) {
    var form = (root || document).querySelector("#decision-form");
    if (!form || form.dataset.synced) return;
    form.dataset.synced = "1";
    var action = form.querySelector("[name=action]");
    var show = function () {
      form.querySelectorAll("[data-for-actions]").forEach(function (el) {
        var on = el.dataset.forActions.split(" ").indexOf(action.value) >= 0;
        el.hidden = !on;
        el.querySelectorAll("input, select, textarea").forEach(function (f) { f.disabled = !on; });
      });
    };
    action.addEventListener("change", show);
    show();
  }

  document.addEventListener("DOMContentLoaded", function () {
    tick();
    setInterval(tick, 1000);
    syncDecisionForm();
  });
  document.addEventListener("htmx:afterSettle", function (e) { tick(); syncDecisionForm(e.target); });
})();
