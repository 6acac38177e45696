// PX360 console behaviour. No inline scripts (the CSP forbids them): everything hangs off data-*
// attributes and is re-applied after every htmx swap.
(function () {
  "use strict";

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || "";
    } catch (e) {
      return "";
    }
  }

  // Foreign keys and ref filters: Tom Select with remote search in the user's scope.
  function initRefSelects(root) {
    if (typeof TomSelect === "undefined") return;
    root.querySelectorAll("select[data-ref-url]").forEach(function (el) {
      if (el.tomselect) return;
      var url = el.getAttribute("data-ref-url");
      var within = el.getAttribute("data-within");
      new TomSelect(el, {
        valueField: "value",
        labelField: "text",
        searchField: ["text"],
        allowEmptyOption: true,
        placeholder: el.getAttribute("data-placeholder") || "",
        preload: "focus",
        shouldLoad: function () { return true; },
        load: function (query, callback) {
          var params = new URLSearchParams({ q: query });
          if (within) {
            var other = document.querySelector('[name="' + within + '"]');
            if (other && other.value) params.set(within, other.value);
          }
          fetch(url + "?" + params.toString(), { headers: { "Accept": "application/json" }, credentials: "same-origin" })
            .then(function (r) { return r.ok ? r.json() : []; })
            .then(callback)
            .catch(function () { callback(); });
        },
        onChange: function () {
          el.dispatchEvent(new Event("change", { bubbles: true }));
        }
      });
      // Tom Select points the <label> at its own input; the original <select> (still in the
      // accessibility tree, and the one error messages describe) keeps the label by reference.
      var label = el.id ? document.getElementById(el.id + "-ts-label") : null;
      if (label && !el.hasAttribute("aria-labelledby")) el.setAttribute("aria-labelledby", label.id);
    });
  }

  // Column toggles, remembered per list in localStorage.
  function storedColumns(key) {
    try { return JSON.parse(localStorage.getItem("px360.cols." + key) || "null"); } catch (e) { return null; }
  }
  function applyColumns(root) {
    root.querySelectorAll("[data-columns-for]").forEach(function (menu) {
      var key = menu.getAttribute("data-columns-for");
      var stored = storedColumns(key);
      menu.querySelectorAll("[data-col-toggle]").forEach(function (box) {
        var col = box.getAttribute("data-col-toggle");
        if (stored && Object.prototype.hasOwnProperty.call(stored, col)) box.checked = stored[col];
        setColumn(col, box.checked);
        if (!box.dataset.bound) {
          box.dataset.bound = "1";
          box.addEventListener("change", function () {
            var s = storedColumns(key) || {};
            s[col] = box.checked;
            localStorage.setItem("px360.cols." + key, JSON.stringify(s));
            setColumn(col, box.checked);
          });
        }
      });
    });
  }
  function setColumn(col, visible) {
    document.querySelectorAll('[data-col="' + col + '"]').forEach(function (c) {
      c.classList.toggle("d-none", !visible);
    });
  }

  // Bulk selection.
  function initBulk(root) {
    root.querySelectorAll("[data-select-all]").forEach(function (all) {
      if (all.dataset.bound) return;
      all.dataset.bound = "1";
      all.addEventListener("change", function () {
        document.querySelectorAll('input[name="ids"]').forEach(function (b) { b.checked = all.checked; });
        updateBulk();
      });
    });
    root.querySelectorAll('input[name="ids"]').forEach(function (b) {
      if (b.dataset.bound) return;
      b.dataset.bound = "1";
      b.addEventListener("change", updateBulk);
    });
    updateBulk();
  }
  function updateBulk() {
    var any = document.querySelectorAll('input[name="ids"]:checked').length > 0;
    document.querySelectorAll("[data-bulk-button]").forEach(function (b) { b.disabled = !any; });
  }

  // Confirmation for destructive buttons.
  document.addEventListener("click", function (e) {
    var t = e.target.closest("[data-confirm]");
    if (t && !window.confirm(t.getAttribute("data-confirm"))) {
      e.preventDefault();
      e.stopPropagation();
    }
  }, true);

  // Keep the "save view" form in step with the filters currently applied.
  function syncSavedQuery() {
    var input = document.querySelector("[data-current-query]");
    if (input) {
      var q = window.location.search.replace(/^\?/, "");
      var params = new URLSearchParams(q);
      params.delete("page");
      params.delete("view");
      input.value = params.toString();
    }
  }

  // Import uploads: a progress bar fed by htmx's upload progress events.
  document.addEventListener("htmx:xhr:progress", function (evt) {
    var bar = document.querySelector("[data-upload-progress]");
    if (bar && evt.detail.lengthComputable) {
      var pct = Math.round((evt.detail.loaded / evt.detail.total) * 100);
      bar.style.width = pct + "%";
      bar.setAttribute("aria-valuenow", String(pct));
      bar.textContent = pct + "%";
    }
  });

  function init(root) {
    initRefSelects(root);
    applyColumns(root);
    initBulk(root);
    syncSavedQuery();
  }

  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:afterSwap", function (e) { init(e.target); });
  document.addEventListener("htmx:historyRestore", function () { init(document); });
  window.px360 = { csrfToken: csrfToken };
})();
