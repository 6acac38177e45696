// The patient's survey form: branch logic live, progress, friendly validation, submit as JSON to the
// public API, thank-you. No inline script (CSP); everything reads data-* attributes.
(function () {
  "use strict";
  var form = document.getElementById("survey-form");
  if (!form) return;
  var messages = {};
  try { messages = JSON.parse(form.getAttribute("data-messages") || "{}"); } catch (e) { messages = {}; }
  var questions = Array.prototype.slice.call(form.querySelectorAll("fieldset.question"));
  var progress = document.getElementById("survey-progress");
  var progressText = document.getElementById("progress-text");
  var formError = document.getElementById("form-error");
  var lang = form.getAttribute("data-lang") || "ar";

  function msg(m) { return messages[m] || m; }
  function digits(n) {
    var s = String(n);
    if (lang !== "ar") return s;
    return s.replace(/[0-9]/g, function (d) { return "٠١٢٣٤٥٦٧٨٩"[+d]; });
  }

  // The answer of one question as the API wants it, or null when blank.
  function valueOf(fs) {
    var type = fs.getAttribute("data-type");
    var id = fs.getAttribute("data-qid");
    if (type === "TEXT") {
      var t = fs.querySelector("textarea").value.trim();
      return t === "" ? null : t;
    }
    if (type === "MULTIPLE_CHOICE") {
      var picked = Array.prototype.slice.call(fs.querySelectorAll("input:checked")).map(function (i) { return i.value; });
      return picked.length ? picked : null;
    }
    var r = fs.querySelector("input[name='" + id + "']:checked");
    if (!r) return null;
    if (type === "YES_NO") return r.value === "true";
    if (type === "RATING" || type === "LIKERT" || type === "NPS") return parseInt(r.value, 10);
    return r.value;
  }

  function num(v) {
    if (typeof v === "number") return v;
    if (typeof v === "boolean") return v ? 1 : 0;
    var n = parseFloat(v);
    return isNaN(n) ? null : n;
  }
  function same(a, b) {
    var x = num(a), y = num(b);
    if (x !== null && y !== null && typeof a !== "string") return x === y;
    return String(a) === String(b);
  }
  function has(answer, v) {
    if (Array.isArray(answer)) return answer.some(function (a) { return same(a, v); });
    return same(answer, v);
  }
  // The same rule as the server's engine: a hidden or blank source hides the question.
  function meets(b, answer) {
    if (answer === null || answer === undefined) return false;
    var x = num(answer), y = num(b.value);
    switch (b.op) {
      case "answered": return true;
      case "eq": return has(answer, b.value);
      case "ne": return !has(answer, b.value);
      case "lt": return x !== null && y !== null && x < y;
      case "lte": return x !== null && y !== null && x <= y;
      case "gt": return x !== null && y !== null && x > y;
      case "gte": return x !== null && y !== null && x >= y;
      case "in": return Array.isArray(b.value) && b.value.some(function (v) { return has(answer, v); });
      default: return false;
    }
  }

  function refresh() {
    var answers = {};
    var shown = 0, done = 0;
    questions.forEach(function (fs) {
      var raw = fs.getAttribute("data-branch");
      var visible = true;
      if (raw) {
        try {
          var b = JSON.parse(raw);
          visible = meets(b, answers[b.question]);
        } catch (e) { visible = true; }
      }
      fs.hidden = !visible;
      fs.disabled = !visible;
      if (visible) {
        var v = valueOf(fs);
        if (v !== null) { answers[fs.getAttribute("data-qid")] = v; done++; }
        shown++;
      }
    });
    var pct = shown ? Math.round(done * 100 / shown) : 0;
    progress.value = pct;
    progressText.textContent = digits(done) + " / " + digits(shown);
    return answers;
  }

  function clearErrors() {
    formError.classList.add("d-none");
    questions.forEach(function (fs) {
      fs.classList.remove("has-error");
      fs.querySelector(".question-error").textContent = "";
    });
  }

  function showErrors(errors) {
    var first = null;
    Object.keys(errors).forEach(function (id) {
      var fs = document.getElementById("q-" + id);
      var text = (errors[id] || []).map(msg).join(" ");
      if (fs) {
        fs.classList.add("has-error");
        fs.querySelector(".question-error").textContent = text;
        if (!first) first = fs;
      }
    });
    formError.textContent = messages._check || "";
    formError.classList.remove("d-none");
    (first || formError).scrollIntoView({ behavior: "smooth", block: "center" });
    formError.focus({ preventScroll: true });
  }

  form.addEventListener("change", function () { refresh(); });
  form.addEventListener("input", function () { refresh(); });

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    clearErrors();
    var answers = refresh();
    var missing = {};
    questions.forEach(function (fs) {
      if (fs.hidden) return;
      var id = fs.getAttribute("data-qid");
      if (fs.getAttribute("data-required") === "true" && !(id in answers)) {
        missing[id] = ["Please answer this question."];
      }
    });
    if (Object.keys(missing).length) { showErrors(missing); return; }
    var btn = document.getElementById("submit-btn");
    btn.disabled = true;
    fetch(form.getAttribute("data-submit"), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ answers: answers }),
      credentials: "omit"
    }).then(function (r) {
      if (r.ok) {
        document.getElementById("survey").classList.add("d-none");
        var t = document.getElementById("thanks");
        t.classList.remove("d-none");
        t.focus();
        window.scrollTo(0, 0);
        return null;
      }
      if (r.status === 410 || r.status === 404) { window.location.reload(); return null; }
      return r.json().then(function (body) {
        btn.disabled = false;
        if (r.status === 400 && body && !body.detail) { showErrors(body); return; }
        formError.textContent = messages._failed || "";
        formError.classList.remove("d-none");
        formError.focus();
      });
    }).catch(function () {
      btn.disabled = false;
      formError.textContent = messages._failed || "";
      formError.classList.remove("d-none");
    });
  });

  refresh();
})();
